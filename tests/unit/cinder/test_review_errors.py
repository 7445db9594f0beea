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
"""Every StorPool failure reaches Cinder as a cinder.exception."""

import socket
import time

from cinder import exception

from storpool_openstack.cinder import deferred
from tests.unit.cinder import base


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class UnreachableAPITestCase(base.DriverTestCase):

    def down(self):
        """The driver, with its API somewhere nothing listens."""
        return self.make_driver(storpool_api_port=_closed_port())

    def test_delete_volume_api_down(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.down().delete_volume, vol)
        self.assertIn(vol.id, str(exc))
        self.assertIn('cannot reach the API', str(exc))
        self.assertIsNotNone(self.sp_volume(vol))

    def test_delete_snapshot_api_down(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        snap = self.snapshot(vol)
        self.driver.create_snapshot(snap)
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.down().delete_snapshot, snap)
        self.assertIn(snap.id, str(exc))
        self.assertIn(self.sname(snap), self.snapshots())


class DeferredDeleteTimeoutTestCase(base.DriverTestCase):
    """A delete whose outcome is unknown keeps its deferred copy."""

    def test_timed_out_delete_keeps_the_snapshot(self):
        drv = self.make_driver(storpool_deferred_delete_hours=1,
                               storpool_api_timeout=1)
        vol = self.volume()
        drv.create_volume(vol)
        # StorPool does the delete, but only after the client gave up.
        self.emu.control.add_latency(2, query='VolumeDelete')
        self.addCleanup(self.emu.control.clear_faults)
        self.assertRaises(exception.VolumeBackendAPIException,
                          drv.delete_volume, vol)
        deadline = time.monotonic() + 10
        while self.sp_volume(vol) is not None and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertIsNone(self.sp_volume(vol))
        kept = [name for name in self.snapshots()
                if name.endswith(f'--snapshot-{vol.id}')]
        self.assertEqual(1, len(kept), 'the volume is gone and so is its '
                                       'deferred-deletion snapshot')
        # Deleting it again (Cinder's error_deleting) is a success.
        drv.delete_volume(vol)


class DeferredDeleteNameTestCase(base.DriverTestCase):

    def test_migrated_volume_is_listed_by_its_cinder_id(self):
        # After a migration that kept the new name (_name_id), the
        # operator still knows the volume by its Cinder id.
        drv = self.make_driver(storpool_deferred_delete_hours=1)
        stored = self.volume()
        drv.create_volume(stored)
        vol = self.volume()
        vol._name_id = stored.id
        vol.save()
        drv.delete_volume(vol)
        self.assertIsNone(self.sp_volume(vol))
        pending = deferred.list_deferred(drv._api, self.prefix, 1)
        self.assertEqual([vol.id], [p['volume_id'] for p in pending])
