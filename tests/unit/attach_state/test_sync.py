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
"""sync() against the emulator, cross-checked by AttachDB.sync()."""

import json
import logging

from storpool.spopenstack import AttachDB

from storpool_openstack import attach_state
from tests.unit.attach_state import base

SNAP = 'os--snap--none--snapshot-s'


class SyncTestCase(base.EmulatorTestCase):
    def setUp(self):
        super().setUp()
        for name in ('os--volume-a', 'os--volume-b', 'os--volume-c',
                     'os--volume-d', 'os--volume-e', 'os--volume-f'):
            self.create_volume(name)
        self.api.snapshot_create('os--volume-a', {'name': SNAP})
        self.emu.control.set_client(2)
        self.api.volumes_reassign_wait([
            {'volume': 'os--volume-c', 'rw': [self.our_id]},
            {'volume': 'os--volume-d', 'ro': [self.our_id]},
            {'volume': 'os--volume-e', 'ro': [self.our_id]},
            {'volume': 'os--volume-f', 'rw': [2]}])
        self.addCleanup(self.detach_all)

        self.state = attach_state.AttachState(self.path)
        with self.state.locked() as entries:
            for args, kw in [
                    (('nova-a', 'os--volume-a'), {'rights': 2}),
                    (('nova-b', 'os--volume-b'), {'rights': 2}),
                    (('copy-b', 'os--volume-b'), {'rights': 1}),
                    (('backup-s', SNAP), {'rights': 1, 'volsnap': True}),
                    (('nova-d', 'os--volume-d'), {'rights': 1}),
                    (('copy-e', 'os--volume-e'), {'rights': 1}),
                    (('nova-e', 'os--volume-e'), {'rights': 2})]:
                entries[args[0]] = attach_state.make_entry(
                    *args, kind='test', **kw)
        self.api.volume_delete('os--volume-b')
        self.emu.control.clear_calls()

    def detach_all(self):
        self.api.volumes_reassign_wait(
            [{'volume': a['volume'], 'detach': 'all'}
             if not a.get('snapshot') else
             {'snapshot': a['volume'], 'detach': 'all'}
             for a in self.api.attachments_list()])

    def test_sync(self):
        progress = []
        result = attach_state.sync(
            self.state, self.api, self.our_id, self.prefix,
            progress=lambda *args: progress.append(args))

        self.assertEqual([SNAP, 'os--volume-a', 'os--volume-e'],
                         result.attached)
        self.assertEqual(['os--volume-d'], result.already_fine)
        self.assertEqual(['copy-b', 'nova-b'], sorted(result.dropped))
        self.assertEqual(['os--volume-b'], result.dropped_volumes)
        self.assertEqual(['os--volume-c'], result.unknown)
        self.assertEqual({}, result.failed)
        self.assertTrue(result.ok)
        self.assertEqual([
            (1, 5, SNAP, 'attached'),
            (2, 5, 'os--volume-a', 'attached'),
            (3, 5, 'os--volume-b', 'dropped'),
            (4, 5, 'os--volume-d', 'already-fine'),
            (5, 5, 'os--volume-e', 'attached')], progress)

        # StorPool's side: what the file wants is attached with the right
        # rights; the unknown volume c is still attached; f stays on 2.
        self.assertEqual({'os--volume-a': 'rw', 'os--volume-c': 'rw',
                          'os--volume-d': 'ro', 'os--volume-e': 'rw',
                          SNAP: 'ro'}, self.attachments())
        self.assertIn({'volume': 'os--volume-f', 'client': 2},
                      [{'volume': a['volume'], 'client': a['client']}
                       for a in self.api.attachments_list()])
        posted = [c for c in self.emu.control.calls()
                  if c['query'] == 'VolumesReassignWait']
        items = [item for c in posted for item in c['body']['reassign']]
        self.assertEqual([
            {'snapshot': SNAP, 'ro': [self.our_id], 'force': False},
            {'volume': 'os--volume-a', 'rw': [self.our_id], 'force': False},
            {'volume': 'os--volume-e', 'rw': [self.our_id], 'force': False},
        ], items)  # spapi adds the force: false
        self.assertFalse(any('detach' in item for item in items))

        # The file: b's entries gone, the rest kept.
        self.assertEqual(
            ['nova-a', 'backup-s', 'nova-d', 'copy-e', 'nova-e'],
            list(self.state.entries()))

        # AttachDB 3.2.0's own sync agrees: nothing to attach, nothing to
        # drop (only its three GETs, no VolumesReassign).
        before = self.raw()
        db = AttachDB(logging.getLogger('attachdb'), fname=self.path,
                      override_config=self.emu.config)
        db.config()
        self.emu.control.clear_calls()
        db.sync('nova-a', None)
        self.assertEqual(['AttachmentsList', 'VolumesList', 'SnapshotsList'],
                         self.emu.control.queries())
        self.assertEqual(json.loads(before), json.loads(self.raw()))

        # And a second sync of ours is a no-op.
        self.emu.control.clear_calls()
        again = attach_state.sync(self.state, self.api, self.our_id,
                                  self.prefix)
        self.assertEqual([], again.attached)
        self.assertEqual([], again.dropped)
        self.assertEqual([SNAP, 'os--volume-a', 'os--volume-d',
                          'os--volume-e'], again.already_fine)
        self.assertEqual(['AttachmentsList', 'VolumesList', 'SnapshotsList'],
                         self.emu.control.queries())

    def test_attach_failure_reported_and_others_go_on(self):
        self.emu.control.add_fault('VolumesReassignWait', name='internalError',
                                   transient=False, times=1)
        result = attach_state.sync(self.state, self.api, self.our_id,
                                   self.prefix)
        self.assertEqual([SNAP], list(result.failed))
        self.assertIn('internalError', result.failed[SNAP])
        self.assertFalse(result.ok)
        self.assertEqual(['os--volume-a', 'os--volume-e'], result.attached)
        self.assertNotIn(SNAP, self.attachments())
        # The entry stays: a later sync tries again.
        self.assertIn('backup-s', self.state.entries())
        self.assertEqual(
            [SNAP],
            attach_state.sync(self.state, self.api, self.our_id,
                              self.prefix).attached)
