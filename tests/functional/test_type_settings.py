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
"""Volume-type settings through REST: StorPool tags and multiattach."""

import time

from tests.functional import base


class TagsRestTestCase(base.StorPoolFunctionalTestBase):

    def logged(self, text: str) -> bool:
        return any(text in line for line in self.log_handler.lines)

    def tags(self, volume_id: str) -> dict:
        return self.emu_volumes()[self.vol_name(volume_id)].get('tags') or {}

    def test_tags_follow_the_type(self):
        # volume_backend_name: Cinder clones into another type only when
        # both types name the same backend.
        self.create_type('vc-gold', {
            'storpool:vc_policy': 'daily-7', 'storpool:tag:team': 'db',
            'volume_backend_name': 'storpool'})
        plain = self.create_type('vc-none', {
            'storpool:tag:team': 'web', 'volume_backend_name': 'storpool'})
        mark = self.emu_mark()
        vol = self.create_volume(1, volume_type='vc-gold')
        self.assertEqual(['VolumeCreate'], self.emu_call_names(mark))
        self.assertEqual({'vc-policy': 'daily-7', 'team': 'db'},
                         self.tags(vol['id']))

        # Clones and volumes from snapshots get their own type's tags.
        clone = self.create_volume(1, volume_type='vc-none',
                                   source_volid=vol['id'])
        self.assertEqual({'team': 'web'}, self.tags(clone['id']))
        snap = self.create_snapshot(vol['id'])
        same = self.create_volume(1, volume_type='vc-gold',
                                  snapshot_id=snap['id'])
        self.assertEqual({'vc-policy': 'daily-7', 'team': 'db'},
                         self.tags(same['id']))

        # A retype changes them in place, in one call.
        mark = self.emu_mark()
        self.action(vol['id'], {'os-retype': {
            'new_type': plain['id'], 'migration_policy': 'never'}})
        self.wait_volume(vol['id'], status=plain['name'],
                         field='volume_type')
        self.assertEqual(['VolumeUpdate'], [
            q for q in self.emu_call_names(mark)
            if q not in ('VolumeTemplatesStatus', 'DisksList')])
        self.assertEqual({'team': 'web'}, self.tags(vol['id']))

        for vid in (same['id'], clone['id']):
            self.delete_volume(vid)
        self.delete_snapshot(snap['id'])
        self.delete_volume(vol['id'])
        self.assert_emulator_empty()

    def test_refused_tag_names_the_extra_spec(self):
        self.create_type('bad-tag', {'storpool:tag:team': 'two words'})
        mark = self.emu_mark()
        vol = self.api.post_volume({'volume': {'size': 1,
                                               'volume_type': 'bad-tag'}})
        self.wait_volume(vol['id'], status='error')
        self.assertTrue(self.logged('Invalid volume type: extra spec '
                                    'storpool:tag:team: StorPool refuses'))
        self.assertNotIn('VolumeCreate', self.emu_call_names(mark))
        self.assert_emulator_empty()

        # At a retype: refused, the volume keeps its type and its tags.
        self.create_type('good-tag', {'storpool:vc_policy': 'daily'})
        self.create_type('bad-app', {'storpool:tag:app': 'a/b'})
        good = self.create_volume(1, volume_type='good-tag')
        mark = self.emu_mark()
        self.action(good['id'], {'os-retype': {
            'new_type': 'bad-app', 'migration_policy': 'never'}})
        deadline = time.monotonic() + 60
        while not self.logged('extra spec storpool:tag:app') or \
                self.api.get_volume(good['id'])['status'] != 'available':
            self.assertLess(time.monotonic(), deadline, self.problems())
            time.sleep(0.2)
        got = self.api.get_volume(good['id'])
        self.assertEqual('good-tag', got['volume_type'])
        self.assertEqual({'vc-policy': 'daily'}, self.tags(good['id']))
        self.assertNotIn('VolumeUpdate', self.emu_call_names(mark))
        self.api.delete_volume(vol['id'])
        self.wait_volume_gone(vol['id'])
        self.delete_volume(good['id'])
        self.assert_emulator_empty()


class MultiattachRestTestCase(base.StorPoolFunctionalTestBase):

    def test_multiattach_type_is_refused_with_the_reason(self):
        self.publish_capabilities()
        self.create_type('shared', {'multiattach': '<is> True'})
        vol = self.api.post_volume({'volume': {'size': 1,
                                               'volume_type': 'shared'}})
        self.wait_volume(vol['id'], status='error')
        self.assertEqual({}, self.emu_volumes())
        # Cinder's user message: the scheduler found no backend.
        messages = self.api.api_get(
            f'/messages?resource_uuid={vol["id"]}')['messages']
        self.assertEqual(
            ['schedule allocate volume:Could not find any available '
             'weighted backend.'],
            [m['user_message'] for m in messages])
        # Why: in the backend's capabilities (cinder get-capabilities).
        caps = self.api.api_get(f'/capabilities/{self.volume.host}')
        prop = caps['properties']['storpool:multiattach']
        self.assertIn('native block protocol', prop['description'])
        pools = self.api.api_get('/scheduler-stats/get_pools?detail=True')
        self.assertEqual([False], [p['capabilities']['multiattach']
                                   for p in pools['pools']])
        self.api.delete_volume(vol['id'])
        self.wait_volume_gone(vol['id'])
