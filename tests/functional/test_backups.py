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
"""Backups and restores with Cinder's real backup service, through REST.

Every mode Cinder has: an available volume (attached itself), an in-use
volume (a temporary clone, or with ``backup_use_temp_snapshot`` a
temporary snapshot attached read-only), a snapshot (a temporary volume
from it, or the snapshot itself), incremental backups, restores into a
new and into an existing volume. Bytes are compared after each restore;
no temporary StorPool object and no attachment is left after a backup, a
failed one or a cancelled one. The mixed host case: an instance's volume
stays attached and recorded while backups of it and of its snapshot run
on the same host.
"""

import os
import uuid

from tests.functional import backup_base

MiB = backup_base.MiB
# Data at the start, in the middle and near the end of a 1 GiB volume.
OFFSETS = (0, 300 * MiB, 1023 * MiB)


def _pattern(seed: int, size: int = 64 * 1024) -> bytes:
    return bytes((seed * 31 + i * 7) % 251 for i in range(size))


class _Helpers:
    """Test data on volumes."""

    def fill(self, volume_id: str, seed: int) -> dict[int, bytes]:
        written = {}
        for n, offset in enumerate(OFFSETS):
            data = _pattern(seed + n)
            self.write_volume(volume_id, data, offset)
            written[offset] = data
        return written

    def assert_holds(self, volume_id: str, written: dict[int, bytes]):
        for offset, data in written.items():
            self.assertEqual(data, self.volume_bytes(volume_id, len(data),
                                                     offset),
                             f'volume {volume_id} at {offset}')

    def assert_detached(self):
        self.assertEqual([], self.emu_attachments())
        self.assertEqual({}, self.attach_state())


class _ModeIndependent(_Helpers):
    """An available volume is attached itself in both modes."""

    def test_available_volume_restore_new_and_existing(self):
        vol = self.create_volume(1)
        written = self.fill(vol['id'], 1)
        backup = self.create_backup(vol['id'])
        self.assert_no_temporary_objects(keep_volumes=[vol['id']])
        self.assert_detached()

        new_id = self.restore_backup(backup['id'])
        self.assert_holds(new_id, written)

        existing = self.create_volume(1)
        self.fill(existing['id'], 9)
        self.assertEqual(existing['id'],
                         self.restore_backup(backup['id'], existing['id']))
        self.assert_holds(existing['id'], written)
        self.assert_no_temporary_objects(
            keep_volumes=[vol['id'], new_id, existing['id']])
        self.assert_detached()

        self.delete_backup(backup['id'])
        for vid in (vol['id'], new_id, existing['id']):
            self.delete_volume(vid)
        self.assert_emulator_empty()

    def test_incremental(self):
        vol = self.create_volume(1)
        first = self.fill(vol['id'], 2)
        full = self.create_backup(vol['id'])
        later = {8 * MiB: _pattern(40), 0: _pattern(41)}
        for offset, data in later.items():
            self.write_volume(vol['id'], data, offset)
        incr = self.create_backup(vol['id'], incremental=True)
        self.assertTrue(incr['is_incremental'])
        self.assertFalse(full['is_incremental'])

        restored = self.restore_backup(incr['id'])
        expected = dict(first)
        expected.update(later)
        self.assert_holds(restored, expected)
        self.assert_no_temporary_objects(keep_volumes=[vol['id'], restored])
        self.assert_detached()

        self.delete_backup(incr['id'])
        self.delete_backup(full['id'])
        for vid in (vol['id'], restored):
            self.delete_volume(vid)
        self.assert_emulator_empty()


class _BackupModes(_Helpers):
    """Tests run in both modes (the subclasses set the mode)."""

    def test_in_use_volume(self):
        vol = self.create_volume(1)
        written = self.fill(vol['id'], 3)
        att = self.attach_to_instance(vol['id'], str(uuid.uuid4()))
        backup = self.create_backup(vol['id'], force=True)
        self.assertEqual('in-use', self.api.get_volume(vol['id'])['status'])
        self.assert_no_temporary_objects(keep_volumes=[vol['id']])
        self.assert_detached()
        restored = self.restore_backup(backup['id'])
        self.assert_holds(restored, written)

        self.detach_from_instance(att['id'], vol['id'])
        self.delete_backup(backup['id'])
        self.delete_volume(vol['id'])
        self.delete_volume(restored)
        self.assert_emulator_empty()

    def test_snapshot(self):
        vol = self.create_volume(1)
        written = self.fill(vol['id'], 4)
        snap = self.create_snapshot(vol['id'])
        # Written after the snapshot: not in its backup.
        self.write_volume(vol['id'], _pattern(77), 0)
        backup = self.create_backup(vol['id'], snapshot_id=snap['id'])
        self.assertEqual(snap['id'], backup['snapshot_id'])
        self.assert_no_temporary_objects(keep_volumes=[vol['id']],
                                         keep_snaps=[snap['id']])
        self.assert_detached()
        restored = self.restore_backup(backup['id'])
        self.assert_holds(restored, written)

        self.delete_backup(backup['id'])
        self.delete_snapshot(snap['id'])
        self.delete_volume(vol['id'])
        self.delete_volume(restored)
        self.assert_emulator_empty()

    def test_failed_backup_leaves_nothing(self):
        vol = self.create_volume(1)
        att = self.attach_to_instance(vol['id'], str(uuid.uuid4()))
        # The backup service's attach of the temporary object fails.
        self.control.add_fault(query='VolumesReassignWait', name='busy',
                               descr='injected attach failure',
                               transient=False, times=None)
        backup = self.create_backup(vol['id'], force=True, status='error')
        self.control.clear_faults()
        self.assertIn('injected attach failure', backup['fail_reason'])
        self.wait_volume(vol['id'], status='in-use')
        self.assert_no_temporary_objects(keep_volumes=[vol['id']])
        self.assert_detached()

        self.delete_backup(backup['id'])
        self.detach_from_instance(att['id'], vol['id'])
        self.delete_volume(vol['id'])
        self.assert_emulator_empty()

    def test_cancelled_backup_leaves_nothing(self):
        vol = self.create_volume(1)
        self.fill(vol['id'], 5)
        att = self.attach_to_instance(vol['id'], str(uuid.uuid4()))
        # Slow attaches: the cancel comes while the backup attaches.
        self.control.add_latency(1.0, query='VolumesReassignWait')
        backup = self.create_backup(vol['id'], force=True, wait=False)
        self.wait_backup(backup['id'], status='creating')
        self.delete_backup(backup['id'], force=True)
        self.control.clear_faults()
        self.wait_volume(vol['id'], status='in-use')
        self.assert_no_temporary_objects(keep_volumes=[vol['id']])
        self.assert_detached()

        self.detach_from_instance(att['id'], vol['id'])
        self.delete_volume(vol['id'])
        self.assert_emulator_empty()

    def test_instance_volume_stays_attached_during_backups(self):
        """The mixed host case: Nova's user and the backups' on one host."""
        vol = self.create_volume(1)
        written = self.fill(vol['id'], 6)
        instance = str(uuid.uuid4())
        att = self.attach_to_instance(vol['id'], instance)
        # nova.volume.connection_properties() of this connection info (Nova
        # and Cinder cannot be imported in one process; tests/nova checks
        # that function).
        info = att['connection_info']
        props = dict(info.get('data', info),
                     storpool_attach_type='nova-attach', instance=instance,
                     storpool_legacy_user=True)
        nova = self.local_connector()
        dev = nova.connect_volume(props)
        nova_record = dev['storpool_attach_req']
        name = self.vol_name(vol['id'])
        # The guest keeps its disk open, as qemu does.
        guest = os.open(dev['path'], os.O_RDONLY)
        self.addCleanup(lambda: guest_open and os.close(guest))
        guest_open = True
        mark = self.emu_mark()

        backup = self.create_backup(vol['id'], force=True)
        snap = self.create_snapshot(vol['id'], force=True)
        snap_backup = self.create_backup(vol['id'], snapshot_id=snap['id'])

        # Never detached, not even for a moment: the call log says so.
        for call in self.control.calls()[mark:]:
            if call.get('query') != 'VolumesReassignWait':
                continue
            for item in (call.get('body') or {}).get('reassign', []):
                if item.get('volume') == name:
                    self.assertNotIn('detach', item, call)
        self.assertEqual([nova_record], list(self.attach_state()))
        self.assertEqual(
            [(name, 'rw')], [(a['volume'], a['rights'])
                             for a in self.emu_attachments()])
        self.assertEqual(_pattern(6), os.pread(guest, 64 * 1024, 0))

        restored = self.restore_backup(snap_backup['id'])
        self.assert_holds(restored, written)
        self.delete_volume(restored)
        self.assert_no_temporary_objects(keep_volumes=[vol['id']],
                                         keep_snaps=[snap['id']])

        os.close(guest)
        guest_open = False
        nova.disconnect_volume(props, dev)
        self.assertEqual({}, self.attach_state())
        self.detach_from_instance(att['id'], vol['id'])
        for bid in (snap_backup['id'], backup['id']):
            self.delete_backup(bid)
        self.delete_snapshot(snap['id'])
        self.delete_volume(vol['id'])
        self.assert_emulator_empty()


class TempCloneModeTestCase(_ModeIndependent, _BackupModes,
                            backup_base.BackupTestBase):
    """backup_use_temp_snapshot = False (Cinder's default)."""


class TempSnapshotModeTestCase(_BackupModes, backup_base.BackupTestBase):
    """backup_use_temp_snapshot = True: snapshots attached read-only."""

    use_temp_snapshot = True
