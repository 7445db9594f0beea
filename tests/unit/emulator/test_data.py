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

"""Real bytes: write through attached devices, snapshot, clone, revert.

Run in both device modes; the class name says which one ran.  Loop mode
is skipped (with the reason) only where the host cannot make loop
devices; link ("file") mode runs everywhere.
"""

import os
import subprocess

from storpool import spapi

from tests.unit.emulator import base
from tests.unit.emulator import clients

MiB = base.MiB
A = b'A' * 4096
B = b'B' * 4096
C = b'C' * 4096
ZERO = b'\0' * 4096


class DataScenarios(object):

    def setUp(self) -> None:
        super().setUp()
        self.api = spapi.Api(self.emu.host, self.emu.port, self.emu.token,
                             transientRetries=0)

    # -- helpers -------------------------------------------------------------
    def attach(self, name: str, rights: str = 'rw',
               snapshot: bool = False) -> str:
        key = 'snapshot' if snapshot else 'volume'
        self.api.volumesReassignWait(
            {'reassign': [{key: name, rights: [self.emu.client_id]}]})
        path = self.dev_path(name)
        self.assertTrue(os.path.exists(path))
        if self.emu.device_mode == 'loop':
            self.assertTrue(os.path.realpath(path).startswith('/dev/loop'))
        return path

    def detach(self, name: str, snapshot: bool = False) -> None:
        key = 'snapshot' if snapshot else 'volume'
        self.api.volumesReassignWait(
            {'reassign': [{key: name, 'detach': [self.emu.client_id]}]})
        self.assertFalse(os.path.lexists(self.dev_path(name)))

    @staticmethod
    def write(path: str, offset: int, data: bytes, sync: bool = True):
        fd = os.open(path, os.O_WRONLY)
        try:
            os.pwrite(fd, data, offset)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)

    @staticmethod
    def read(path: str, offset: int, length: int = 4096) -> bytes:
        fd = os.open(path, os.O_RDONLY)
        try:
            return os.pread(fd, length, offset)
        finally:
            os.close(fd)

    @staticmethod
    def dev_size(path: str) -> int:
        fd = os.open(path, os.O_RDONLY)
        try:
            return os.lseek(fd, 0, os.SEEK_END)
        finally:
            os.close(fd)

    def stored(self) -> int:
        return sum(d.objectsOnDiskSize for d in self.api.disksList().values())

    # -- tests ---------------------------------------------------------------
    def test_snapshot_clone_revert(self) -> None:
        self.api.volumeCreate({'name': 'vol', 'size': 8 * MiB})
        dev = self.attach('vol')
        self.assertEqual(ZERO, self.read(dev, 0))
        self.write(dev, 0, A)
        self.write(dev, 4 * MiB, A)
        # Not flushed by us: the snapshot itself must freeze these bytes.
        fd = os.open(dev, os.O_WRONLY)
        try:
            os.pwrite(fd, C, 6 * MiB)
            self.api.snapshotCreate('vol', {'name': 'snap'})
        finally:
            os.close(fd)
        self.write(dev, 0, B)
        self.assertEqual(B, self.read(dev, 0))
        self.assertEqual(ZERO, self.read(dev, 2 * MiB))
        self.assertEqual(A, self.emu.control.read('snap', 0,
                                                  snapshot=True))
        self.assertEqual(C, self.emu.control.read('snap', 6 * MiB,
                                                  snapshot=True))
        # A clone from the snapshot shares its data until it is written.
        self.api.volumeCreate({'name': 'clone', 'parent': 'snap',
                               'size': 16 * MiB})
        clone = self.emu.control.state()['volumes']['clone']
        self.assertIsNone(clone['dataObject']['path'])
        cdev = self.attach('clone')
        self.assertEqual(A, self.read(cdev, 0))
        self.assertEqual(A, self.read(cdev, 4 * MiB))
        self.assertEqual(C, self.read(cdev, 6 * MiB))
        self.assertEqual(ZERO, self.read(cdev, 12 * MiB))
        self.assertEqual(16 * MiB, self.dev_size(cdev))
        self.write(cdev, 4 * MiB, B)
        self.detach('clone')
        self.assertEqual(A, self.emu.control.read('snap', 4 * MiB,
                                                  snapshot=True))
        # Revert: the volume gets the snapshot's data and size back.
        self.detach('vol')
        self.api.volumeUpdate('vol', {'size': 12 * MiB})
        self.api.volumeRevert('vol', {'toSnapshot': 'snap'})
        self.assertEqual(8 * MiB, self.api.volumeList('vol')[0].size)
        dev = self.attach('vol')
        self.assertEqual(8 * MiB, self.dev_size(dev))
        self.assertEqual(A, self.read(dev, 0))
        self.assertEqual(C, self.read(dev, 6 * MiB))
        self.detach('vol')

    def test_baseon_copies_current_data(self) -> None:
        self.api.volumeCreate({'name': 'src', 'size': 4 * MiB})
        dev = self.attach('src')
        self.write(dev, MiB, A)
        self.api.volumeCreate({'name': 'copy', 'baseOn': 'src'})
        self.write(dev, MiB, B)
        self.detach('src')
        self.assertEqual(A, self.emu.control.read('copy', MiB))
        self.assertEqual(B, self.emu.control.read('src', MiB))

    def test_shrink_then_grow_reads_zeros(self) -> None:
        # A clone that was never attached shares its parent's file; the
        # bytes cut by a shrink must not come back when it grows again.
        self.api.volumeCreate({'name': 'vol', 'size': 4 * MiB})
        dev = self.attach('vol')
        self.write(dev, 3 * MiB, A)
        self.detach('vol')
        self.api.snapshotCreate('vol', {'name': 'snap'})
        self.api.volumeCreate({'name': 'clone', 'parent': 'snap'})
        self.api.volumeUpdate('clone', {'size': 2 * MiB, 'shrinkOk': True})
        self.api.volumeUpdate('clone', {'size': 4 * MiB})
        self.assertEqual(ZERO, self.emu.control.read('clone', 3 * MiB))
        self.assertEqual(A, self.emu.control.read('snap', 3 * MiB,
                                                  snapshot=True))
        self.api.volumeUpdate('vol', {'size': 2 * MiB, 'shrinkOk': True})
        self.api.volumeUpdate('vol', {'size': 4 * MiB})
        self.assertEqual(ZERO, self.emu.control.read('vol', 3 * MiB))
        cdev = self.attach('clone')
        self.assertEqual(ZERO, self.read(cdev, 3 * MiB))
        self.detach('clone')

    def test_extend_while_attached(self) -> None:
        self.api.volumeCreate({'name': 'vol', 'size': 4 * MiB})
        dev = self.attach('vol')
        self.assertEqual(4 * MiB, self.dev_size(dev))
        self.write(dev, 0, A)
        self.api.volumeUpdate('vol', {'size': 8 * MiB})
        self.assertEqual(8 * MiB, self.dev_size(dev))
        self.write(dev, 6 * MiB, B)
        self.assertEqual(B, self.read(dev, 6 * MiB))
        self.assertEqual(A, self.read(dev, 0))
        if self.emu.device_mode == 'loop':
            out = subprocess.run(['blockdev', '--getsize64', dev],
                                 stdout=subprocess.PIPE, check=True)
            self.assertEqual(8 * MiB, int(out.stdout))
        self.detach('vol')
        self.assertEqual(B, self.emu.control.read('vol', 6 * MiB))

    def test_snapshot_attach_is_read_only(self) -> None:
        self.api.volumeCreate({'name': 'vol', 'size': 4 * MiB})
        dev = self.attach('vol')
        self.write(dev, 0, A)
        self.detach('vol')
        self.api.snapshotCreate('vol', {'name': 'snap'})
        exc = self.assertRaises(spapi.ApiError, self.api.volumesReassign,
                                [{'volume': 'snap', 'rw': [1]}])
        self.assertEqual('objectDoesNotExist', exc.name)
        # spapi cannot even express it; os-brick's client can.
        brick = clients.make('brick', self.emu)
        exc = self.assertRaises(brick.errors[0], brick.reassign,
                                [{'snapshot': 'snap', 'rw': ['1']}])
        self.assertEqual('invalidParam', exc.name)
        self.assertIn('read-only', exc.desc)
        sdev = self.attach('snap', 'ro', snapshot=True)
        self.assertEqual(A, self.read(sdev, 0))
        if self.emu.device_mode == 'loop':
            self.assertRaises(OSError, self.write, sdev, 0, B)
        self.detach('snap', snapshot=True)

    def test_busy_detach(self) -> None:
        self.api.volumeCreate({'name': 'vol', 'size': 4 * MiB})
        dev = self.attach('vol')
        fd = os.open(dev, os.O_RDONLY)
        try:
            exc = self.assertRaises(
                spapi.ApiError, self.api.volumesReassign,
                [{'volume': 'vol', 'detach': [self.emu.client_id]}])
            self.assertEqual('busy', exc.name)
            self.assertEqual("'vol' is open at client %d" %
                             self.emu.client_id, exc.desc)
            self.assertTrue(os.path.exists(dev))
            self.api.volumesReassign([{'volume': 'vol', 'detach': 'all',
                                       'force': True}])
        finally:
            os.close(fd)
        self.assertFalse(os.path.lexists(dev))
        self.assertEqual([], self.api.attachmentsList())

    def test_capacity_follows_data(self) -> None:
        self.assertEqual(0, self.stored())
        self.api.volumeCreate({'name': 'vol', 'size': 64 * MiB})
        dev = self.attach('vol')
        self.write(dev, 0, b'x' * (8 * MiB))
        self.detach('vol')
        disks = self.api.disksList()
        self.assertGreaterEqual(self.stored(), 8 * MiB * 3)
        self.assertTrue(all(d.agAllocated >= 1 for d in disks.values()))
        self.api.volumeDelete('vol')
        self.assertEqual(0, self.stored())
        self.assertTrue(all(d.agAllocated == 0
                            for d in self.api.disksList().values()))


class DataFileModeTestCase(DataScenarios, base.TestCase):
    """Device links point at the backing files (works anywhere)."""

    in_process = True
    device_mode = 'file'


class DataLoopModeTestCase(DataScenarios, base.TestCase):
    """Device links point at loop block devices (root + loop-control)."""

    in_process = False
    device_mode = 'loop'
