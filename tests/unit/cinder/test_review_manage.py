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
"""Manage must never take the StorPool object of another Cinder object.

A mistyped `cinder manage` reference that names a volume or snapshot
Cinder already has would rename it away from under that object: its
volume or snapshot would then be VolumeNotFound/SnapshotNotFound for
ever. Cinder has ManageExistingAlreadyManaged for exactly this.
"""

from cinder import exception
import ddt

from tests.unit.cinder import base


@ddt.ddt
class ManageAlreadyManagedTestCase(base.DriverTestCase):

    def ref(self, how: str, name: str) -> dict:
        if how == 'name':
            return {'source-name': name}
        return {'source-id': self.state()['volumes'][name]['globalId']}

    @ddt.data('name', 'id')
    def test_volume_of_another_cinder_volume(self, how):
        other = self.volume(size=2)
        self.driver.create_volume(other)
        new = self.volume()
        ref = self.ref(how, self.vname(other))
        for call in (self.driver.manage_existing_get_size,
                     self.driver.manage_existing):
            exc = self.assertRaises(exception.ManageExistingAlreadyManaged,
                                    call, new, ref)
            self.assertIn(other.id, str(exc))
        self.assertEqual([self.vname(other)], list(self.state()['volumes']))

    def test_volume_of_a_migrated_cinder_volume(self):
        # Cinder volume `other` keeps its data under its _name_id.
        stored = self.volume()
        self.driver.create_volume(stored)
        name = self.vname(stored)
        stored.destroy()
        other = self.volume()
        other._name_id = stored.id
        other.save()
        self.assertRaises(exception.ManageExistingAlreadyManaged,
                          self.driver.manage_existing, self.volume(),
                          {'source-name': name})
        self.assertEqual([name], list(self.state()['volumes']))

    def test_volume_of_a_deleted_cinder_volume_can_be_managed(self):
        gone = self.volume(size=2)
        self.driver.create_volume(gone)
        name = self.vname(gone)
        gone.destroy()
        new = self.volume()
        self.driver.manage_existing(new, {'source-name': name})
        self.assertEqual([self.vname(new)], list(self.state()['volumes']))

    def test_volume_of_a_failed_manage_can_be_managed_again(self):
        # The first manage renamed it, then Cinder's flow failed: that
        # record (error_managing) has no claim, and deleting it later
        # must not find the data.
        self.driver._api.volume_create(
            {'name': 'legacy-data', 'size': 2 * base.GiB, 'replication': 3})
        failed = self.volume(status='error_managing')
        self.driver.manage_existing(failed, {'source-name': 'legacy-data'})
        again = self.volume()
        self.driver.manage_existing(again,
                                    {'source-name': self.vname(failed)})
        self.driver.delete_volume(failed)
        self.assertEqual([self.vname(again)], list(self.state()['volumes']))

    def test_snapshot_of_another_cinder_snapshot(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        other = self.snapshot(vol)
        self.driver.create_snapshot(other)
        new = self.snapshot(vol)
        ref = {'source-name': self.sname(other)}
        for call in (self.driver.manage_existing_snapshot_get_size,
                     self.driver.manage_existing_snapshot):
            exc = self.assertRaises(exception.ManageExistingAlreadyManaged,
                                    call, new, ref)
            self.assertIn(other.id, str(exc))
        self.assertEqual([self.sname(other)], list(self.snapshots()))
