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
"""A rename that StorPool did, but whose answer was lost.

The API client retries a call whose connection was reset (a management
failover does that). For a rename the retry meets "does not exist": the
first attempt already did it. The driver must see that the rename
happened, or Cinder ends up with a record that names nothing (and, for
a failed manage, a delete of that record deletes the managed data).

A small TCP relay between the driver and the emulator passes every call
through and, once, resets the driver's connection after StorPool has
answered a VolumeUpdate/SnapshotUpdate.
"""

import socket
import struct
import threading

from cinder import exception
from cinder.tests.unit import utils as test_utils
from cinder.volume import group_types

from tests.unit.cinder import base

GiB = base.GiB


class _ResettingRelay:
    """Relays HTTP calls; drops the answer of the first `query` call."""

    def __init__(self, host: str, port: int, query: str):
        self.target = (host, port)
        self.query = query.encode()
        self.dropped = 0
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def close(self):
        self._stop = True
        self.sock.close()

    @staticmethod
    def _read_request(conn) -> bytes:
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _sep, body = data.partition(b'\r\n\r\n')
        length = 0
        for line in head.split(b'\r\n')[1:]:
            name, _c, value = line.partition(b':')
            if name.strip().lower() == b'content-length':
                length = int(value.strip())
        while len(body) < length:
            body += conn.recv(65536)
        return head + b'\r\n\r\n' + body

    def _run(self):
        while not self._stop:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            with conn:
                request = self._read_request(conn)
                with socket.create_connection(self.target) as up:
                    up.sendall(request)
                    answer = b''
                    while True:
                        chunk = up.recv(65536)
                        if not chunk:
                            break
                        answer += chunk
                first_line = request.split(b'\r\n', 1)[0]
                if self.dropped == 0 and self.query in first_line:
                    self.dropped += 1
                    # RST instead of the answer.
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack('ii', 1, 0))
                    continue
                conn.sendall(answer)


class _RelayedTestCase(base.DriverTestCase):

    def relayed(self, query: str, retries: int = 1):
        relay = _ResettingRelay(self.emu.host, self.emu.port, query)
        self.addCleanup(relay.close)
        drv = self.make_driver(storpool_api_port=relay.port,
                               storpool_api_retries=retries)
        return drv, relay


class LostRenameAnswerTestCase(_RelayedTestCase):

    def test_manage_volume(self):
        gid = self.driver._api.volume_create(
            {'name': 'legacy-data', 'size': GiB, 'replication': 3}
        )['globalId']
        drv, relay = self.relayed('VolumeUpdate')
        vol = self.volume()
        drv.manage_existing(vol, {'source-name': 'legacy-data'})
        self.assertEqual(1, relay.dropped)
        self.assertEqual(gid, self.sp_volume(vol)['globalId'])

    def test_manage_snapshot(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        self.driver._api.snapshot_create(self.vname(vol),
                                         {'name': 'backup-1'})
        drv, relay = self.relayed('SnapshotUpdate')
        snap = self.snapshot(vol)
        drv.manage_existing_snapshot(snap, {'source-name': 'backup-1'})
        self.assertEqual(1, relay.dropped)
        self.assertEqual([self.sname(snap)], list(self.snapshots()))

    def test_update_migrated_volume(self):
        orig = self.volume()
        new = self.volume(size=2)
        self.driver.create_volume(new)
        drv, relay = self.relayed('VolumeUpdate')
        res = drv.update_migrated_volume(self.ctxt, orig, new, 'available')
        self.assertEqual(1, relay.dropped)
        self.assertEqual({'_name_id': None}, res)
        self.assertEqual([self.vname(orig)], list(self.state()['volumes']))

    def test_manage_of_a_vanished_volume_still_fails(self):
        # "Does not exist" without a rename behind it stays an error.
        self.driver._api.volume_create(
            {'name': 'legacy-data', 'size': GiB, 'replication': 3})
        vol = self.volume()
        self.inject('VolumeUpdate', name='objectDoesNotExist',
                    descr='Volume legacy-data does not exist')
        self.assertRaises(exception.VolumeNotFound,
                          self.driver.manage_existing, vol,
                          {'source-name': 'legacy-data'})
        self.assertIsNone(self.sp_volume(vol))

    def test_create_snapshot(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        drv, relay = self.relayed('VolumeSnapshot')
        snap = self.snapshot(vol)
        drv.create_snapshot(snap)
        self.assertEqual(1, relay.dropped)
        self.assertEqual([self.sname(snap)], list(self.snapshots()))

    def test_create_snapshot_name_of_another_volume(self):
        # objectExists for a snapshot of something else stays an error.
        vol, other = self.volume(), self.volume()
        self.driver.create_volume(vol)
        self.driver.create_volume(other)
        snap = self.snapshot(vol)
        self.driver._api.snapshot_create(self.vname(other),
                                         {'name': self.sname(snap)})
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.create_snapshot, snap)
        self.assertIn('objectExists', str(exc))


class LostGroupSnapshotAnswerTestCase(_RelayedTestCase):
    """The same for VolumesGroupSnapshot (group snapshots, group clones)."""

    def setUp(self):
        super().setUp()
        cg = group_types.create(
            self.ctxt, 'cg',
            {'consistent_group_snapshot_enabled': '<is> True'})
        self.group_type = cg['id']

    def group(self):
        grp = test_utils.create_group(
            self.ctxt, host=f'{base.HOST}@storpool#default',
            group_type_id=self.group_type, volume_type_ids=[])
        vols = [self.volume(group_id=grp.id) for _ in range(2)]
        for vol in vols:
            self.driver.create_volume(vol)
        return grp, vols

    def test_group_snapshot(self):
        grp, vols = self.group()
        gsnap = test_utils.create_group_snapshot(
            self.ctxt, grp.id, group_type_id=self.group_type)
        snaps = [self.snapshot(v, group_snapshot_id=gsnap.id) for v in vols]
        drv, relay = self.relayed('VolumesGroupSnapshot')
        model, _updates = drv.create_group_snapshot(self.ctxt, gsnap, snaps)
        self.assertEqual(1, relay.dropped)
        self.assertEqual('available', model['status'])
        self.assertEqual(sorted(self.sname(s) for s in snaps),
                         sorted(self.snapshots()))

    def target_group(self, count: int) -> tuple:
        """An empty group with `count` new volumes, to clone into."""
        grp = test_utils.create_group(
            self.ctxt, host=f'{base.HOST}@storpool#default',
            group_type_id=self.group_type, volume_type_ids=[])
        return grp, [self.volume(group_id=grp.id) for _ in range(count)]

    def test_group_from_group(self):
        grp, vols = self.group()
        grp2, vols2 = self.target_group(len(vols))
        drv, relay = self.relayed('VolumesGroupSnapshot')
        drv.create_group_from_src(self.ctxt, grp2, vols2,
                                  source_group=grp, source_vols=vols)
        self.assertEqual(1, relay.dropped)
        self.assertEqual({}, self.snapshots())
        self.assertEqual(sorted(self.vname(v) for v in vols + vols2),
                         sorted(self.state()['volumes']))

    def test_group_from_group_no_retry_leaves_nothing(self):
        # Without a retry the call fails, but StorPool made the temporary
        # snapshots: they must not stay behind.
        grp, vols = self.group()
        grp2, vols2 = self.target_group(len(vols))
        drv, relay = self.relayed('VolumesGroupSnapshot', retries=0)
        self.assertRaises(exception.VolumeBackendAPIException,
                          drv.create_group_from_src, self.ctxt, grp2, vols2,
                          source_group=grp, source_vols=vols)
        self.assertEqual(1, relay.dropped)
        self.assertEqual({}, self.snapshots())
        self.assertEqual(sorted(self.vname(v) for v in vols),
                         sorted(self.state()['volumes']))

    def test_group_snapshot_name_taken_by_another_volume(self):
        grp, vols = self.group()
        gsnap = test_utils.create_group_snapshot(
            self.ctxt, grp.id, group_type_id=self.group_type)
        snaps = [self.snapshot(v, group_snapshot_id=gsnap.id) for v in vols]
        # The second name is taken by a snapshot of the first volume.
        self.driver._api.snapshot_create(self.vname(vols[0]),
                                         {'name': self.sname(snaps[1])})
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.create_group_snapshot,
                                self.ctxt, gsnap, snaps)
        self.assertIn('objectExists', str(exc))
        self.assertEqual([self.sname(snaps[1])], list(self.snapshots()))
