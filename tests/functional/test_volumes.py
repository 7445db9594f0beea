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
"""Volume life cycle through the Cinder REST API, checked on the emulator."""

from cinder.tests.functional.api import client

from tests.functional import base

GiB = base.GiB
# Calls a driver makes on its own schedule (stats), not per operation.
BACKGROUND = ('VolumeTemplatesStatus', 'VolumeTemplatesList', 'DisksList',
              'VolumesSpace', 'SnapshotsList', 'VolumesList')


class VolumeLifeCycleTestCase(base.StorPoolFunctionalTestBase):

    def op_calls(self, mark: int) -> list[str]:
        return [c for c in self.emu_call_names(mark) if c not in BACKGROUND]

    def typed(self, name: str, template: str) -> dict:
        # volume_backend_name: Cinder clones into another type only when
        # both types name the same backend.
        return self.create_type(name, {'storpool_template': template,
                                       'volume_backend_name': 'storpool'})

    def test_create_delete(self):
        mark = self.emu_mark()
        vol = self.create_volume(2)
        name = self.vol_name(vol['id'])
        volumes = self.emu_volumes()
        self.assertEqual([name], list(volumes))
        self.assertEqual(2 * GiB, volumes[name]['size'])
        self.assertEqual(['VolumeCreate'], self.op_calls(mark))

        mark = self.emu_mark()
        self.delete_volume(vol['id'])
        self.assertEqual(['VolumeDelete'], self.op_calls(mark))
        self.assert_emulator_empty()

    def test_create_with_type_template(self):
        self.typed('fast', 'ssd')
        vol = self.create_volume(1, volume_type='fast')
        self.assertEqual('fast', vol['volume_type'])
        info = self.emu_volumes()[self.vol_name(vol['id'])]
        self.assertEqual('ssd', info['templateName'])
        self.delete_volume(vol['id'])
        self.assert_emulator_empty()

    def test_extend(self):
        vol = self.create_volume(1)
        mark = self.emu_mark()
        self.action(vol['id'], {'os-extend': {'new_size': 3}})
        vol = self.wait_volume(vol['id'])
        self.assertEqual(3, vol['size'])
        self.assertEqual(3 * GiB,
                         self.emu_volumes()[self.vol_name(vol['id'])]['size'])
        self.assertEqual(['VolumeUpdate'], self.op_calls(mark))
        self.delete_volume(vol['id'])
        self.assert_emulator_empty()

    def test_snapshot_and_volume_from_it(self):
        vol = self.create_volume(1)
        mark = self.emu_mark()
        snap = self.create_snapshot(vol['id'])
        self.assertEqual(['VolumeSnapshot'], self.op_calls(mark))
        snaps = self.emu_snapshots()
        self.assertIn(self.snap_name(snap['id']), snaps)

        mark = self.emu_mark()
        child = self.create_volume(2, snapshot_id=snap['id'])
        self.assertEqual(['VolumeCreate'], self.op_calls(mark))
        info = self.emu_volumes()[self.vol_name(child['id'])]
        self.assertEqual(self.snap_name(snap['id']), info['parentName'])
        self.assertEqual(2 * GiB, info['size'])

        self.delete_volume(child['id'])
        self.delete_snapshot(snap['id'])
        self.assertEqual({}, self.emu_snapshots())
        self.delete_volume(vol['id'])
        self.assert_emulator_empty()

    def test_clone_same_and_other_type(self):
        self.typed('hyb', 'hybrid')
        self.typed('fast', 'ssd')
        src = self.create_volume(1, volume_type='hyb')
        mark = self.emu_mark()
        same = self.create_volume(1, source_volid=src['id'])
        other = self.create_volume(2, source_volid=src['id'],
                                   volume_type='fast')
        calls = self.op_calls(mark)
        self.assertEqual(['VolumeCreate', 'VolumeCreate'], calls)
        creates = [c['body'] for c in self.emu_calls()[mark:]
                   if c.get('query') == 'VolumeCreate']
        for body in creates:
            self.assertEqual(self.vol_name(src['id']), body.get('baseOn'))
        volumes = self.emu_volumes()
        self.assertEqual('hybrid',
                         volumes[self.vol_name(same['id'])]['templateName'])
        self.assertEqual('ssd',
                         volumes[self.vol_name(other['id'])]['templateName'])
        self.assertEqual(2 * GiB, volumes[self.vol_name(other['id'])]['size'])
        # No transient snapshot is left behind.
        self.assertEqual({}, self.emu_snapshots())
        for vol in (same, other, src):
            self.delete_volume(vol['id'])
        self.assert_emulator_empty()

    def test_retype_without_migration(self):
        self.typed('hyb', 'hybrid')
        self.typed('fast', 'ssd')
        vol = self.create_volume(1, volume_type='hyb')
        mark = self.emu_mark()
        self.action(vol['id'], {'os-retype': {
            'new_type': 'fast', 'migration_policy': 'never'}})
        vol = self.wait_volume(vol['id'], status='fast',
                               field='volume_type')
        self.wait_volume(vol['id'])
        calls = self.op_calls(mark)
        self.assertIn('VolumeUpdate', calls)
        self.assertNotIn('VolumeCreate', calls)
        volumes = self.emu_volumes()
        self.assertEqual([self.vol_name(vol['id'])], list(volumes))
        self.assertEqual('ssd',
                         volumes[self.vol_name(vol['id'])]['templateName'])
        self.delete_volume(vol['id'])
        self.assert_emulator_empty()

    def test_revert_to_snapshot(self):
        self.osapi_version = '3.40'
        vol = self.create_volume(1)
        snap = self.create_snapshot(vol['id'])
        mark = self.emu_mark()
        self.action(vol['id'], {'revert': {'snapshot_id': snap['id']}})
        self.wait_volume(vol['id'])
        self.assertEqual(['VolumeRevert'], self.op_calls(mark))
        self.delete_snapshot(snap['id'])
        self.delete_volume(vol['id'])
        self.assert_emulator_empty()

    def test_group_snapshot(self):
        self.osapi_version = '3.14'
        gtype = self.api.api_post('/group_types', {'group_type': {
            'name': 'cg', 'group_specs': {
                'consistent_group_snapshot_enabled': '<is> True'}}}
        )['group_type']
        group = self.api.post_group({'group': {
            'group_type': gtype['id'],
            'volume_types': [self.default_type['id']], 'name': 'g1'}})
        self._poll_group_while(group['id'], ['creating'],
                               expected_end_status='available')
        vols = [self.create_volume(1, group_id=group['id'],
                                   volume_type=base.DEFAULT_TYPE)
                for _ in range(2)]
        mark = self.emu_mark()
        gsnap = self.api.post_group_snapshot({'group_snapshot': {
            'group_id': group['id'], 'name': 'gs1'}})
        self._poll_group_snapshot_while(gsnap['id'], ['creating'],
                                        expected_end_status='available')
        self.assertEqual(['VolumesGroupSnapshot'], self.op_calls(mark))
        self.assertEqual(2, len(self.emu_snapshots()))

        self.api.delete_group_snapshot(gsnap['id'])
        self._poll_group_snapshot_while(gsnap['id'], ['deleting'])
        self.assertEqual({}, self.emu_snapshots())
        self.api.delete_group(group['id'],
                              {'delete': {'delete-volumes': True}})
        self._poll_group_while(group['id'], ['deleting'])
        for vol in vols:
            self.assertRaises(client.OpenStackApiException404,
                              self.api.get_volume, vol['id'])
        self.assert_emulator_empty()

    def test_manage_unmanage(self):
        vol = self.create_volume(1)
        host = self.api.get_volume(vol['id'])['os-vol-host-attr:host']
        self.action(vol['id'], {'os-unmanage': None})
        self.wait_volume_gone(vol['id'])
        remaining = list(self.emu_volumes())
        self.assertEqual(1, len(remaining))
        self.assertNotEqual(self.vol_name(vol['id']), remaining[0])

        managed = self.api.post_manage_volume(
            host=host, ref={'source-name': remaining[0]})['volume']
        managed = self.wait_volume(managed['id'])
        self.assertEqual(1, managed['size'])
        self.assertEqual([self.vol_name(managed['id'])],
                         list(self.emu_volumes()))
        self.delete_volume(managed['id'])
        self.assert_emulator_empty()

    def test_token_never_logged_even_on_errors(self):
        """Errors from the API are logged; the token must not be."""
        # Every time: Cinder reschedules a failed create.
        self.control.add_fault(query='VolumeCreate', name='invalidParam',
                               transient=False, times=None)
        vol = self.api.post_volume({'volume': {'size': 1}})
        self.assertRaises(AssertionError, self.wait_volume, vol['id'])
        self.assertIn('VolumeCreate', self.problems())
        self.control.clear_faults()
        self.delete_volume(vol['id'])
        self.assert_emulator_empty()
        # The base class scans every test's logs; this test makes sure
        # the scan sees the error paths and looks at all of them.
        self.assertTrue(any('ERROR' in line
                            for line in self.log_handler.lines))
        self.assert_no_token_in_output()
