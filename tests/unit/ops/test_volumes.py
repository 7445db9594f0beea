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
"""`storpool-openstack volumes [ID...]` against a real emulator."""

import json

from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config
from storpool_openstack.common import names
from tests.unit.ops import base

VOL = '11111111-2222-3333-4444-555555555555'
SNAP = '66666666-7777-8888-9999-000000000000'
OTHER = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee'
MiB = 1 << 20


class VolumesTestCase(base.CLITestCase):

    def setUp(self):
        super().setUp()
        self.emu = self.start_emulator(templates=['hybrid', 'ssd'])
        self.api = sp_api.StorPoolAPI(
            config.load(override_config=self.emu.config), retries=0)
        self.state = self.write('attach.json', '{}', 0o660)
        self.addCleanup(self.detach_all)
        self.vol = names.volume_name(VOL)
        self.snap = names.snapshot_name(SNAP)
        self.other = names.volume_name(OTHER)
        self.api.volume_create({'name': self.vol, 'size': 2 * MiB,
                                'template': 'ssd',
                                'tags': {'cvm': 'os', 'qc': 'gold'}})
        self.api.snapshot_create(self.vol, {'name': self.snap})
        self.api.volume_create({'name': self.other, 'parent': self.snap})
        self.api.volume_create({'name': 'not-openstack', 'size': MiB})
        self.api.volumes_reassign([{'volume': self.vol, 'rw': [1]},
                                   {'volume': self.other, 'ro': [7]}])
        with open(self.state, 'w') as fobj:
            json.dump({'r1': {'volume': self.vol, 'type': 'nova-attach',
                              'id': 'r1', 'rights': 2, 'volsnap': False,
                              'remove_on_detach': False}}, fobj)

    def detach_all(self):
        items = [{'snapshot' if a['snapshot'] else 'volume': a['volume'],
                  'detach': [a['client']]}
                 for a in self.api.attachments_list()]
        if items:
            self.api.volumes_reassign(items)

    def volumes(self, *extra: str):
        return self.run_cli('volumes', '--storpool-conf',
                            self.emu.conf_path, '--attach-state-file',
                            self.state, *extra)

    def test_by_cinder_ids_json(self):
        self.emu.control.clear_calls()
        res = self.volumes(VOL, SNAP, '--json')
        self.assertEqual(0, res.code, res)
        data = json.loads(res.out)
        by_name = {o['name']: o for o in data['objects']}
        self.assertEqual([self.vol, self.snap], list(by_name))
        vol = by_name[self.vol]
        self.assertEqual(
            {'kind': 'volume', 'cinder_id': VOL, 'template': 'ssd',
             'size': 2 * MiB, 'parent': self.snap,
             'attached': [{'client': 1, 'rights': 'rw'}],
             'tags': {'cvm': 'os', 'qc': 'gold'},
             'users': ['nova-attach:r1']},
            {k: vol[k] for k in ('kind', 'cinder_id', 'template', 'size',
                                 'parent', 'attached', 'tags', 'users')})
        self.assertIsInstance(vol['allocated'], int)
        snap = by_name[self.snap]
        self.assertEqual(('snapshot:snap', SNAP, [], []),
                         (snap['kind'], snap['cinder_id'],
                          snap['attached'], snap['users']))
        self.assertEqual([], data['not_found'])
        # Read-only, and as many calls for two ids as for all.
        self.assertEqual(
            ['VolumesList', 'SnapshotsList', 'VolumesSpace',
             'SnapshotsSpace', 'AttachmentsList'],
            self.emu.control.queries())

    def test_all_of_the_prefix_aligned(self):
        res = self.volumes()
        self.assertEqual(0, res.code, res)
        lines = res.out.splitlines()
        self.assertIn('volume prefix "os"', lines[0])
        header, rows = lines[1], lines[2:-1]
        self.assertEqual(['NAME', 'KIND', 'TEMPLATE', 'SIZE', 'ALLOCATED',
                          'PARENT', 'ATTACHED', 'TAGS', 'USERS', 'ON',
                          'THIS', 'HOST'], header.split())
        self.assertEqual(sorted([self.vol, self.snap, self.other]),
                         [row.split()[0] for row in rows])
        # Aligned: each column starts at the same offset on every line.
        for col in ('KIND', 'TEMPLATE', 'PARENT', 'ATTACHED'):
            start = header.index(col)
            for row in rows:
                self.assertNotEqual(' ', row[start], (col, row))
                self.assertEqual(' ', row[start - 1], (col, row))
        other = next(r for r in rows if r.startswith(self.other))
        self.assertIn('client 7 ro', other)
        self.assertIn(self.snap, other)
        self.assertEqual('3 object(s)', lines[-1])
        self.assertNotIn('not-openstack', res.out)

    def test_unknown_id(self):
        res = self.volumes(VOL, 'no-such-id')
        self.assertEqual(1, res.code, res)
        self.assertIn('not in StorPool: no-such-id (no volume or snapshot '
                      'of that Cinder id or name)', res.out)
        self.assertEqual('1 object(s), 1 not found',
                         res.out.splitlines()[-1])

    def test_unreadable_attach_state_still_shows_storpool(self):
        res = self.run_cli('volumes', VOL, '--storpool-conf',
                           self.emu.conf_path, '--attach-state-file',
                           self.tmp + '/missing.json', '--json')
        self.assertEqual(0, res.code, res)
        data = json.loads(res.out)
        self.assertIsNone(data['objects'][0]['users'])
        self.assertIn('attach-state users not shown',
                      data['attach_state_note'])
