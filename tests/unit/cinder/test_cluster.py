# Copyright (c) 2026 StorPool.
#
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.
"""Active-active: image-copy lock, retype in a cluster, reaping at once.

The image-copy lock here has no shared coordinator: this process only. The
tooz lock between two services is tested on a real etcd in
tests/cloud/active_active.py (tox -e active-active).
"""

import threading
import time

from cinder.tests.unit import utils as test_utils
import testtools

from storpool_openstack.cinder import cluster
from storpool_openstack.cinder import deferred
from storpool_openstack.cinder import driver
from tests.unit.cinder import base


class ImageCopyLockTestCase(testtools.TestCase):

    def hold(self, image_id: str, events: list, seconds: float) -> None:
        with cluster.image_copy_lock(image_id, 'abc'):
            events.append(('in', image_id, time.monotonic()))
            time.sleep(seconds)
            events.append(('out', image_id, time.monotonic()))

    def run_two(self, first: str, second: str) -> list:
        events: list = []
        one = threading.Thread(target=self.hold, args=(first, events, 0.3))
        one.start()
        while not events:
            time.sleep(0.01)
        two = threading.Thread(target=self.hold, args=(second, events, 0))
        two.start()
        one.join()
        two.join()
        return [(kind, image) for kind, image, _t in events]

    def test_same_image_waits(self):
        self.assertEqual([('in', 'i1'), ('out', 'i1'), ('in', 'i1'),
                          ('out', 'i1')], self.run_two('i1', 'i1'))

    def test_other_image_does_not_wait(self):
        self.assertEqual([('in', 'i1'), ('in', 'i2'), ('out', 'i2'),
                          ('out', 'i1')], self.run_two('i1', 'i2'))

    def test_driver_supports_active_active(self):
        self.assertTrue(driver.StorPoolDriver.SUPPORTS_ACTIVE_ACTIVE)


class RetypeInClusterTestCase(base.DriverTestCase):
    """The scheduler names the cluster, not the service that made it."""

    def clustered_volume(self):
        vol = test_utils.create_volume(
            self.ctxt, host='svc-2@storpool#default',
            cluster_name='c1@storpool', size=1,
            volume_type_id=self.vtype('a', {'storpool_template': 'hybrid'}))
        self.driver.create_volume(vol)
        return vol

    def test_retype_in_place_on_any_service(self):
        vol = self.clustered_volume()
        new = self.vtype('b', {'storpool_template': 'ssd'})
        self.assertTrue(self.driver.retype(
            self.ctxt, vol, {'id': new}, {},
            {'host': 'c1@storpool#default', 'cluster_name': 'c1@storpool'}))
        self.assertEqual('ssd', self.sp_volume(vol)['templateName'])

    def test_retype_to_another_cluster_migrates(self):
        vol = self.clustered_volume()
        new = self.vtype('b', {'storpool_template': 'ssd'})
        self.assertFalse(self.driver.retype(
            self.ctxt, vol, {'id': new}, {},
            {'host': 'c2@storpool#default', 'cluster_name': 'c2@storpool'}))
        self.assertEqual('hybrid', self.sp_volume(vol)['templateName'])


class ReapOnTwoServicesTestCase(base.DriverTestCase):
    """Two services of a cluster reap the same deferred deletions at once.

    The emulator holds each SnapshotDelete for a second, so both list the
    same expired snapshots before either deletes one: the one that finds
    a snapshot gone counts it as done, and nothing fails.
    """

    def test_both_reap_at_once(self):
        one = self.make_driver(storpool_deferred_delete_hours=2)
        two = self.make_driver(storpool_deferred_delete_hours=2)
        for _ in range(3):
            vol = self.volume()
            one.create_volume(vol)
            one.delete_volume(vol)
        names = sorted(self.snapshots())
        self.assertEqual(3, len(names))
        self.emu.control.add_latency(1, query='SnapshotDelete')
        self.addCleanup(self.emu.control.clear_faults)
        later = time.time() + 3 * 3600
        done: dict = {}

        def reap(name, drv):
            done[name] = deferred.reap(drv._api, self.prefix, 2, now=later)
        threads = [threading.Thread(target=reap, args=(n, d))
                   for n, d in (('one', one), ('two', two))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual({'one': names, 'two': names},
                         {k: sorted(v) for k, v in done.items()})
        self.assertEqual({}, self.snapshots())
        deletes = [c for c in self.emu.control.calls()
                   if c['query'] == 'SnapshotDelete']
        self.assertEqual(6, len(deletes))


class SnapshotAfterMigrationOnAnotherServiceTestCase(base.DriverTestCase):
    """A snapshot on a service that did not finish the migration.

    In a cluster, update_migrated_volume runs on one service; a later
    snapshot may go to another, which handled the volume before the
    migration. It must snapshot the migrated data, not the source that
    still has the volume's own name until Cinder deletes it.
    """

    def clustered(self):
        drv = self.make_driver()
        drv.cluster_name = 'c1@storpool'  # as Cinder's manager passes it
        return drv

    def test_snapshot_of_the_migrated_data(self):
        one, two = self.clustered(), self.clustered()
        orig, new = self.volume(size=1), self.volume(size=2)
        two.create_volume(orig)  # `two` has seen orig under its own id
        one.create_volume(new)
        snap = self.migrate_then_snapshot(one, orig, new)
        two.create_snapshot(snap)
        self.assertEqual(self.vname(new), self.snapshots()[
            self.sname(snap)]['onVolume'])
