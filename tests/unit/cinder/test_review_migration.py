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
"""The end of a generic migration, as Cinder 29's volume manager runs it.

migrate_volume_completion calls update_migrated_volume on the
destination's manager, swaps the two database records
(Volume.finish_volume_migration) and then deletes the record that now
stands for the source. The driver's answer decides which StorPool volume
each record names afterwards, so these tests run the real manager
methods and the real record swap, then look at what is left in StorPool.
"""

import os

from tests.unit.cinder import base  # first: registers the objects

from cinder.volume import manager
import fixtures

GiB = base.GiB
DRIVER = 'storpool_openstack.cinder.driver.StorPoolDriver'


class MigrationCompletionTestCase(base.DriverTestCase):

    def setUp(self):
        super().setUp()
        self.manager = manager.VolumeManager(
            volume_driver=DRIVER, host=f'{base.HOST}@storpool',
            service_name='storpool')
        self.manager.driver.do_setup(self.ctxt)
        self.manager.driver.set_initialized()
        # What init_host starts with (it would also sync every volume).
        self.manager.stats['pools'] = {}

    def complete(self, volume, new_volume, *, delete_source: bool = True):
        """Cinder's migrate_volume_completion without the RPC hops."""
        self.manager.update_migrated_volume(self.ctxt, volume, new_volume,
                                            'available')
        volume.refresh()
        new_volume.refresh()
        source = volume.finish_volume_migration(new_volume)
        if delete_source:
            # What the source host's manager does with the swapped record
            # (here the same cluster: both backends use this emulator).
            source.status = 'deleting'
            source.save()
            self.manager.delete_volume(self.ctxt, source)
        volume.refresh()
        return volume

    def assert_only_the_migrated_data(self, vol) -> None:
        """StorPool holds one volume, the 2 GiB migrated one, as `vol`."""
        volumes = self.state()['volumes']
        self.assertEqual([self.vname(vol)], list(volumes))
        self.assertEqual(2 * GiB, volumes[self.vname(vol)]['size'])

    def test_same_cluster_keeps_the_migrated_data(self):
        # Two backends on one StorPool cluster: the source is still there
        # when the destination's driver is asked to finish.
        src = self.volume(size=1)
        self.driver.create_volume(src)
        new = self.volume(size=2)
        self.driver.create_volume(new)
        self.assert_only_the_migrated_data(self.complete(src, new))

    def test_same_cluster_source_with_name_id(self):
        # The source was itself migrated before and kept the new name.
        older = self.volume(size=1)
        self.driver.create_volume(older)
        src = self.volume(size=1)
        src._name_id = older.id
        src.save()
        new = self.volume(size=2)
        self.driver.create_volume(new)
        self.assert_only_the_migrated_data(self.complete(src, new))

    def test_other_cluster_source_with_name_id(self):
        # The source lives elsewhere under its _name_id; only the
        # destination is in this cluster.
        src = self.volume(size=1)
        src._name_id = self.volume().id
        src.save()
        new = self.volume(size=2)
        self.driver.create_volume(new)
        self.assert_only_the_migrated_data(
            self.complete(src, new, delete_source=False))


class InUseMigrationTestCase(base.DriverTestCase):
    """An attached volume keeps the name its attachment knows."""

    def test_detach_after_in_use_migration(self):
        state = self.useFixture(fixtures.TempDir()).path
        drv = self.make_driver(
            storpool_dev_root=self.emu.dev_dir,
            storpool_attach_state_file=os.path.join(state, 'attach.json'))
        connector = drv._storpool_connector()
        src = self.volume(size=1)   # on another backend: not here
        new = self.volume(size=2)
        drv.create_volume(new)
        # Nova's swap_volume attaches the new volume with its connection
        # info, which it keeps for the later detach.
        conn = drv.initialize_connection(
            new, {'host': 'compute-1',
                  'storpool_client_id': self.emu.client_id})
        device = connector.connect_volume(conn['data'])
        self.assertEqual(1, len(self.state()['attachments']))
        drv.update_migrated_volume(self.ctxt, src, new, 'in-use')
        connector.disconnect_volume(conn['data'], device)
        self.assertEqual([], self.state()['attachments'])
