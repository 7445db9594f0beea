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
"""`storpool-openstack attachments [--sync]` against a real emulator."""

import json
import os

from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config
from tests.unit.ops import base


def entry(req_id: str, volume: str, rights: int = 2, kind: str = 'brick',
          volsnap: bool = False) -> dict:
    return {'volume': volume, 'type': kind, 'id': req_id, 'rights': rights,
            'volsnap': volsnap, 'remove_on_detach': False}


class AttachmentsTestCase(base.CLITestCase):

    def setUp(self):
        super().setUp()
        self.emu = self.start_emulator()
        self.api = sp_api.StorPoolAPI(
            config.load(override_config=self.emu.config), retries=0)
        self.state = self.write('attach.json', '{}', 0o660)
        self.addCleanup(self.detach_all)

    def detach_all(self):
        items = [{'snapshot' if a['snapshot'] else 'volume': a['volume'],
                  'detach': [a['client']]}
                 for a in self.api.attachments_list()]
        if items:
            self.api.volumes_reassign(items)

    def create(self, *names: str) -> None:
        for name in names:
            self.api.volume_create({'name': name, 'size': 1 << 20})

    def set_entries(self, *items: dict) -> None:
        with open(self.state, 'w') as fobj:
            json.dump({e['id']: e for e in items}, fobj)

    def attachments(self, *extra: str):
        return self.run_cli('attachments', '--storpool-conf',
                            self.emu.conf_path, '--attach-state-file',
                            self.state, *extra)

    def attached(self) -> dict:
        return {a['volume']: (a['client'], a['rights'])
                for a in self.api.attachments_list()}

    def test_table(self):
        self.create('os--volume-a', 'os--volume-b', 'os--volume-c',
                    'other-volume')
        self.api.volumes_reassign([
            {'volume': 'os--volume-a', 'rw': [1]},
            {'volume': 'os--volume-b', 'ro': [1]},
            {'volume': 'os--volume-c', 'rw': [1]},
            {'volume': 'other-volume', 'rw': [1]}])
        self.set_entries(entry('r1', 'os--volume-a', kind='nova-attach'),
                         entry('r2', 'os--volume-a', rights=1),
                         entry('r3', 'os--volume-b'),
                         entry('r4', 'os--volume-gone'))
        res = self.attachments()
        self.assertEqual(0, res.code, res)
        lines = res.out.splitlines()
        self.assertIn(f'attach-state {self.state}, StorPool client 1',
                      lines[0])
        self.assertEqual(['VOLUME', 'USERS', 'WANTED', 'IN', 'STORPOOL',
                          'STATE'], lines[1].split())
        rows = {line.split()[0]: line for line in lines[2:-1]}
        self.assertEqual(
            ['os--volume-a', 'os--volume-b', 'os--volume-c',
             'os--volume-gone'], sorted(rows))
        self.assertIn('nova-attach:r1, brick:r2  rw', rows['os--volume-a'])
        self.assertTrue(rows['os--volume-a'].endswith('attached rw  ok'))
        self.assertTrue(rows['os--volume-b'].endswith(
            'attached ro  attached read-only, read-write wanted'))
        self.assertTrue(rows['os--volume-gone'].endswith(
            'no           gone from StorPool'))
        self.assertTrue(rows['os--volume-c'].endswith(
            'attached, no user recorded'))
        self.assertEqual('4 volume(s), 3 inconsistent; run '
                         '"storpool-openstack attachments --sync"',
                         lines[-1])
        # Viewing changes nothing: four setup calls, then only reads.
        self.assertEqual(['VolumesList', 'SnapshotsList', 'AttachmentsList'],
                         self.emu.control.queries()[5:])

    def test_json(self):
        self.create('os--volume-a')
        self.set_entries(entry('r1', 'os--volume-a'))
        res = self.attachments('--json')
        self.assertEqual(0, res.code, res)
        self.assertEqual(
            {'volumes': [{'volume': 'os--volume-a', 'users': ['brick:r1'],
                          'wanted': 'rw', 'attached': None,
                          'snapshot': False, 'state': 'not attached',
                          'consistent': False}]},
            json.loads(res.out))

    def test_sync(self):
        self.create('os--volume-a', 'os--volume-b', 'os--volume-c')
        self.api.volumes_reassign([{'volume': 'os--volume-b', 'ro': [1]},
                                   {'volume': 'os--volume-c', 'rw': [1]}])
        self.set_entries(entry('r1', 'os--volume-a'),
                         entry('r2', 'os--volume-b'),
                         entry('r3', 'os--volume-gone'))
        self.emu.control.clear_calls()
        res = self.attachments('--sync')
        # os--volume-c is left attached with no user: not consistent, so
        # the exit code says so and the verdict names what is left.
        self.assertEqual(1, res.code, res)
        self.assertIn('sync: 2 attached, 0 already fine, 1 entries of 1 '
                      'vanished volume(s) dropped, 1 attached without a '
                      'recorded user (left alone), 0 failed', res.out)
        self.assertIn('left alone: os--volume-c', res.out)
        self.assertIn('[3/3] sync: os--volume-gone: dropped', res.out)
        self.assertEqual({'os--volume-a': (1, 'rw'),
                          'os--volume-b': (1, 'rw'),
                          'os--volume-c': (1, 'rw')}, self.attached())
        with open(self.state) as fobj:
            self.assertEqual(['r1', 'r2'], sorted(json.load(fobj)))
        self.assertIn('3 volume(s), 1 inconsistent\n', res.out)
        # Never "run --sync" at the end of a sync.
        self.assertNotIn('run "storpool-openstack attachments --sync"',
                         res.out)
        self.assertEqual(
            ['verdict: NOT consistent: 1 volume(s) left after the sync:',
             '  os--volume-c: attached here with no user recorded; sync '
             'leaves it alone: detach it by hand if nothing on this host '
             'uses it'], res.out.splitlines()[-2:])
        self.assertEqual(2, self.emu.control.queries().count(
            'VolumesReassignWait'))

    def test_sync_to_consistent(self):
        self.create('os--volume-a', 'os--volume-b')
        self.api.volumes_reassign([{'volume': 'os--volume-b', 'ro': [1]}])
        self.set_entries(entry('r1', 'os--volume-a'),
                         entry('r2', 'os--volume-b'))
        res = self.attachments('--sync')
        self.assertEqual(0, res.code, res)
        self.assertEqual('verdict: consistent: this host\'s attach-state '
                         'file and StorPool agree',
                         res.out.splitlines()[-1])
        self.assertNotIn('--sync"', res.out)
        # --json carries the same verdict in the exit code.
        self.api.volumes_reassign([{'volume': 'os--volume-b',
                                    'detach': [1]}])
        self.create('os--volume-x')
        self.api.volumes_reassign([{'volume': 'os--volume-x', 'rw': [1]}])
        res = self.attachments('--sync', '--json')
        self.assertEqual(1, res.code, res)
        states = {v['volume']: v['state']
                  for v in json.loads(res.out)['volumes']}
        self.assertEqual({'os--volume-a': 'ok', 'os--volume-b': 'ok',
                          'os--volume-x': 'attached, no user recorded'},
                         states)

    def test_sync_rebuilds_a_corrupt_file_from_storpool(self):
        """The corrupt-file error says to run this; it must then work."""
        self.create('os--volume-a', 'other-volume')
        self.api.volumes_reassign([{'volume': 'os--volume-a', 'rw': [1]},
                                   {'volume': 'other-volume', 'rw': [1]}])
        with open(self.state, 'w') as fobj:
            fobj.write('{"r1": {"volume": "os--vol')
        res = self.attachments('--sync')
        self.assertEqual(0, res.code, res)
        with open(self.state) as fobj:
            rebuilt = json.load(fobj)
        self.assertEqual(['os--volume-a'],
                         [e['volume'] for e in rebuilt.values()])
        corrupt = [name for name in os.listdir(os.path.dirname(self.state))
                   if '.corrupt-' in name]
        self.assertEqual(1, len(corrupt), corrupt)
        self.assertEqual({'os--volume-a': (1, 'rw'),
                          'other-volume': (1, 'rw')}, self.attached())

    def test_sync_progress_for_many(self):
        names = [f'os--volume-{i:03d}' for i in range(40)]
        self.create(*names)
        self.set_entries(*[entry(f'r{i}', n) for i, n in enumerate(names)])
        res = self.attachments('--sync', '--json')
        self.assertEqual(0, res.code, res)
        progress = [line for line in res.err.splitlines()
                    if line.startswith('[')]
        self.assertTrue(progress, res.out)
        self.assertTrue(progress[-1].startswith(
            '[40/40] sync: os--volume-039: attached'), progress)
        data = json.loads(res.out)  # progress went to stderr
        self.assertEqual(40, len(data['sync']['attached']))
        self.assertTrue(all(v['consistent'] for v in data['volumes']))

    def test_missing_state_file(self):
        os.unlink(self.state)
        res = self.attachments()
        self.assertEqual(1, res.code)
        self.assertIn(f'the attach-state file {self.state} does not exist; '
                      f'run "storpool-openstack setup-host"', res.err)
        self.assertFalse(os.path.exists(self.state))
        res = self.attachments('--sync')
        self.assertEqual(1, res.code)
        self.assertFalse(os.path.exists(self.state))

    def test_missing_our_id(self):
        conf = self.write('sp.conf', open(self.emu.conf_path).read().replace(
            'SP_OURID=1\n', ''))
        res = self.run_cli('attachments', '--storpool-conf', conf,
                           '--attach-state-file', self.state, '--host', 'h1')
        self.assertEqual(1, res.code)
        self.assertIn('SP_OURID is not set for host "h1"', res.err)
