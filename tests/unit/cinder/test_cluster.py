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
"""Active-active: the image-copy lock and retype within a cluster.

The image-copy lock here has no shared coordinator: this process only. The
tooz lock between two services is tested on a real etcd in
tests/cloud/active_active.py (tox -e active-active).
"""

import threading
import time

from cinder.tests.unit import utils as test_utils
import testtools

from storpool_openstack.cinder import cluster
from storpool_openstack.cinder import driver
from tests.unit.cinder import base


class TestImageCopyLock(testtools.TestCase):

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


class TestRetypeInCluster(base.DriverTestCase):
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
