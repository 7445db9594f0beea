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
"""StorPoolConnector against the emulator, with real block devices."""

import errno
import os
import stat
import threading
import time

import ddt
from os_brick import exception as brick_exception
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base as test_base
from storpool import spconfig

from storpool_openstack import attach_state
from storpool_openstack.brick import connector
from storpool_openstack.brick import device
from storpool_openstack.brick import exception
from storpool_openstack.brick import options
from storpool_openstack.common import config as sp_config
from tests import root_guard
from tests.unit.brick import base

MiB = base.MiB
VOL = '0b4c5ad8-3e8c-4a61-9d7f-4c4f29c2a1aa'
INST_A = '11111111-aaaa-4aaa-8aaa-111111111111'
INST_B = '22222222-bbbb-4bbb-8bbb-222222222222'


def _props(volume=VOL, mode='rw', **more):
    props = {'client_id': 1, 'volume': volume, 'access_mode': mode}
    props.update(more)
    return props


class ConnectorTestCase(test_base.BaseTestCase):
    """One emulator and one connector per test."""

    def setUp(self):
        super().setUp()
        self.sp = self.useFixture(base.StorPoolConnectorFixture())
        self.conn = self.sp.connector
        self.name = self.sp.create_volume(VOL)
        self.path = self.sp.dev_path(self.name)

    def hold_open(self, path):
        """Keep `path` open (StorPool then refuses a detach)."""
        fd = os.open(path, os.O_RDONLY)
        closed = []

        def close():
            if not closed:
                closed.append(True)
                os.close(fd)
        self.addCleanup(close)
        return close

    def assert_not_writable(self, path):
        """Writing to the device fails (at open or at write time).

        Through a file object, not os.write: in an eventlet-patched
        worker os.write registers the device's fd with epoll, which
        refuses block devices (EPERM) and leaves the hub a stale entry
        that breaks the next socket to reuse the fd number.
        """
        try:
            dev = open(path, 'r+b', buffering=0)
        except OSError as exc:
            # Older kernels refuse to open a read-only device for writing.
            self.assertIn(exc.errno, (errno.EROFS, errno.EACCES))
            return
        with dev:
            err = self.assertRaises(OSError, dev.write, b'x' * 512)
        self.assertIn(err.errno, (errno.EPERM, errno.EROFS))

    def require_loop(self):
        root_guard.skip_unless_root(self, 'real loop block devices')
        if self.sp.emu.device_mode != 'loop':
            self.skipTest('needs real loop block devices (root and '
                          '/dev/loop-control); the emulator runs in '
                          f'{self.sp.emu.device_mode} mode here')


@ddt.ddt
class ConnectTestCase(ConnectorTestCase):

    def test_connect_write_read_disconnect(self):
        info = self.conn.connect_volume(_props())

        self.assertEqual('block', info['type'])
        self.assertEqual(self.path, info['path'])
        self.assertEqual(f'brick-1-{VOL}', info['storpool_attach_req'])
        if self.sp.emu.device_mode == 'loop':
            self.assertTrue(stat.S_ISBLK(os.stat(info['path']).st_mode))
        # One API call: the attach itself, to our client id, read-write.
        self.assertEqual(
            [{'reassign': [{'volume': self.name, 'rw': [1], 'force': False}],
              'attachTimeout': 5}],
            self.sp.reassign_calls())
        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertEqual(
            {f'brick-1-{VOL}': {
                'volume': self.name, 'type': 'brick',
                'id': f'brick-1-{VOL}', 'rights': 2, 'volsnap': False,
                'remove_on_detach': False}},
            self.sp.state())

        data = os.urandom(4096)
        with open(info['path'], 'r+b', buffering=0) as dev:
            dev.seek(MiB // 2)
            dev.write(data)
            os.fsync(dev.fileno())
        with open(info['path'], 'rb') as dev:
            dev.seek(MiB // 2)
            self.assertEqual(data, dev.read(4096))
        # ...and StorPool (its data file) has the bytes too.
        self.assertEqual(data, self.sp.emu.control.read(
            self.name, MiB // 2, 4096))

        self.conn.disconnect_volume(_props(), info)
        self.assertEqual({}, self.sp.attachments())
        self.assertFalse(os.path.lexists(self.path))
        self.assertEqual({}, self.sp.state())
        self.assertEqual({'volume': self.name, 'detach': [1],
                          'force': False},
                         self.sp.reassign_calls()[-1]['reassign'][0])

    def test_connect_is_idempotent_for_one_user(self):
        first = self.conn.connect_volume(_props())
        second = self.conn.connect_volume(_props())

        self.assertEqual(first, second)
        self.assertEqual(1, len(self.sp.reassign_calls()))
        self.assertEqual([f'brick-1-{VOL}'], list(self.sp.state()))

    def test_connect_readonly_volume(self):
        self.require_loop()
        info = self.conn.connect_volume(_props(mode='ro'))

        self.assertEqual({(self.name, 1): 'ro'}, self.sp.attachments())
        self.assertEqual(1, self.sp.state()[f'brick-1-{VOL}']['rights'])
        self.assert_not_writable(info['path'])
        self.conn.disconnect_volume(_props(mode='ro'), info)
        self.assertEqual({}, self.sp.attachments())

    def test_connect_snapshot_readonly(self):
        self.require_loop()
        data = os.urandom(4096)
        info = self.conn.connect_volume(_props())
        with open(info['path'], 'r+b', buffering=0) as dev:
            dev.write(data)
            os.fsync(dev.fileno())
        snap = f'os--snap--none--snapshot-{INST_A}'
        self.sp.api.snapshot_create(self.name, {'name': snap})
        self.sp.emu.control.clear_calls()

        props = {'snapshot': INST_A, 'client_id': 1}
        sinfo = self.conn.connect_volume(props)

        self.assertEqual(self.sp.dev_path(snap), sinfo['path'])
        self.assertEqual([{'reassign': [{'snapshot': snap, 'ro': [1],
                                         'force': False}],
                           'attachTimeout': 5}],
                         self.sp.reassign_calls())
        entry = self.sp.state()[f'brick-1-snapshot-{INST_A}']
        self.assertEqual((snap, 1, True),
                         (entry['volume'], entry['rights'],
                          entry['volsnap']))
        with open(sinfo['path'], 'rb') as dev:
            self.assertEqual(data, dev.read(4096))
        self.assert_not_writable(sinfo['path'])

        self.conn.disconnect_volume(props, sinfo)
        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertEqual({'snapshot': snap, 'detach': [1], 'force': False},
                         self.sp.reassign_calls()[-1]['reassign'][0])
        self.conn.disconnect_volume(_props(), info)

    def test_connect_raw_storpool_name(self):
        props = {'storpool_name': self.name, 'access_mode': 'rw',
                 'storpool_attach_req': 'cinder-copy-1'}
        info = self.conn.connect_volume(props)

        self.assertEqual(self.path, info['path'])
        self.assertEqual(['cinder-copy-1'], list(self.sp.state()))
        self.conn.disconnect_volume(props, info)
        self.assertEqual({}, self.sp.attachments())

    @ddt.data(
        ({}, 'no volume'),
        ({'volume': VOL, 'access_mode': 'rwx'}, 'access_mode'),
        ({'snapshot': VOL, 'access_mode': 'rw'}, 'read-only'),
        ({'storpool_name': 'a', 'storpool_snapshot': 'b'}, 'both'),
        ({'volume': '../etc'}, 'not a valid id'),
        ({'volume': 42}, 'not a valid id'),
        ({'volume': VOL, 'storpool_attach_req': 'a b'}, 'storpool_attach_req'),
    )
    @ddt.unpack
    def test_connect_bad_properties(self, props, words):
        err = self.assertRaises(exception.InvalidConnectionProperties,
                                self.conn.connect_volume, props)

        self.assertIn(words, str(err))
        self.assertEqual([], self.sp.reassign_calls())
        self.assertEqual({}, self.sp.state())

    def test_client_id_mismatch_attaches_to_our_id(self):
        info = self.conn.connect_volume(_props(client_id=7))

        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.conn.disconnect_volume(_props(client_id=7), info)

    def test_attach_failure_rolls_back_the_entry(self):
        other = self.sp.create_volume('other')
        self.conn.connect_volume({'storpool_name': other})
        self.sp.emu.control.add_fault(
            query='VolumesReassignWait', name='invalidParam',
            descr='no such client', transient=False)

        err = self.assertRaises(exception.StorPoolAPIFailure,
                                self.conn.connect_volume, _props())

        self.assertIn('no such client', str(err))
        self.assertIn(f'attaching volume {self.name}', str(err))
        self.assertIsInstance(err, brick_exception.BrickException)
        # Only the other volume's user is left; nothing attached for ours.
        self.assertEqual(['brick-1-other'], list(self.sp.state()))
        self.assertEqual({}, self.sp.attachments(self.name))

    def test_attach_failure_keeps_the_previous_entry_of_the_user(self):
        self.conn.connect_volume(_props(mode='ro'))
        before = self.sp.state()
        self.sp.emu.control.add_fault(
            query='VolumesReassignWait', name='invalidParam',
            transient=False)

        self.assertRaises(exception.StorPoolAPIFailure,
                          self.conn.connect_volume, _props(mode='rw'))

        self.assertEqual(before, self.sp.state())
        self.assertEqual({(self.name, 1): 'ro'}, self.sp.attachments())

    def test_device_timeout_releases_the_attachment(self):
        # A dev_root where StorPool's devices never show up.
        conn = self.sp.make_connector(
            dev_root=self.useFixture(base.fixtures.TempDir()).path,
            device_timeout=0.2)
        start = time.monotonic()

        err = self.assertRaises(brick_exception.VolumeDeviceNotFound,
                                conn.connect_volume, _props())

        self.assertLess(time.monotonic() - start, 5)
        self.assertIn('storpool/' + self.name, str(err))
        self.assertIn('(device_timeout); the attachment was undone',
                      str(err))
        self.assertEqual({}, self.sp.state())
        self.assertEqual({}, self.sp.attachments())

    def test_device_timeout_with_a_failed_release_says_so(self):
        conn = self.sp.make_connector(
            dev_root=self.useFixture(base.fixtures.TempDir()).path,
            device_timeout=0.2)
        # The attach is the first VolumesReassignWait, the release the
        # second: StorPool refuses that one.
        self.sp.emu.control.add_fault(
            query='VolumesReassignWait', name='invalidParam',
            transient=False, nth=2)

        err = self.assertRaises(brick_exception.VolumeDeviceNotFound,
                                conn.connect_volume, _props())

        self.assertNotIn('the attachment was undone', str(err))
        self.assertIn('could not be undone', str(err))
        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())

    def test_missing_attach_state_dir_is_a_clear_error(self):
        conn = self.sp.make_connector(
            attach_state_file='/nonexistent-dir/attach.json')

        err = self.assertRaises(exception.AttachStateFailure,
                                conn.connect_volume, _props())

        self.assertIn('/nonexistent-dir', str(err))
        self.assertEqual([], self.sp.reassign_calls())


class UsersTestCase(ConnectorTestCase):
    """Several users of one volume on one host: reference counts."""

    def test_two_users_share_one_attachment(self):
        a = self.conn.connect_volume(_props(instance=INST_A))
        b = self.conn.connect_volume(_props(instance=INST_B))

        self.assertEqual(a['path'], b['path'])
        # The second user needed no API call at all.
        self.assertEqual(1, len(self.sp.reassign_calls()))
        self.assertEqual({f'brick-1-{VOL}-{INST_A}',
                          f'brick-1-{VOL}-{INST_B}'},
                         set(self.sp.state()))

        self.conn.disconnect_volume(_props(instance=INST_A), None)
        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertTrue(os.path.exists(self.path))
        self.assertEqual([f'brick-1-{VOL}-{INST_B}'],
                         list(self.sp.state()))
        self.assertEqual(1, len(self.sp.reassign_calls()))

        self.conn.disconnect_volume(_props(instance=INST_B), None)
        self.assertEqual({}, self.sp.attachments())
        self.assertEqual({}, self.sp.state())
        self.assertEqual(2, len(self.sp.reassign_calls()))

    def test_users_in_two_connectors_share_the_state_file(self):
        other = self.sp.make_connector()
        self.conn.connect_volume(_props(instance=INST_A))
        other.connect_volume(_props(instance=INST_B))

        self.conn.disconnect_volume(_props(instance=INST_A), None)
        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        other.disconnect_volume(_props(instance=INST_B), None)
        self.assertEqual({}, self.sp.attachments())

    def test_readonly_user_then_readwrite_user_upgrades(self):
        self.conn.connect_volume(_props(mode='ro', instance=INST_A))
        self.assertEqual({(self.name, 1): 'ro'}, self.sp.attachments())

        self.conn.connect_volume(_props(mode='rw', instance=INST_B))

        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertEqual([{'volume': self.name, 'ro': [1], 'force': False}],
                         self.sp.reassign_calls()[0]['reassign'])
        self.assertEqual([{'volume': self.name, 'rw': [1], 'force': False}],
                         self.sp.reassign_calls()[1]['reassign'])

    def test_readonly_user_of_a_readwrite_volume_needs_no_call(self):
        self.conn.connect_volume(_props(mode='rw', instance=INST_A))
        self.conn.connect_volume(_props(mode='ro', instance=INST_B))

        self.assertEqual(1, len(self.sp.reassign_calls()))
        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())

    def test_recorded_user_but_missing_device_attaches_again(self):
        # The state says a user has it, but the volume is not attached
        # (e.g. the host rebooted): the next user must attach it.
        self.conn.connect_volume(_props(instance=INST_A))
        self.sp.api.volumes_reassign([{'volume': self.name,
                                       'detach': 'all'}])
        self.assertFalse(os.path.exists(self.path))

        info = self.conn.connect_volume(_props(instance=INST_B))

        self.assertTrue(os.path.exists(info['path']))
        self.assertEqual(2, len(self.sp.reassign_calls()))

    def test_disconnect_of_unrecorded_user_keeps_recorded_users(self):
        self.conn.connect_volume(_props(instance=INST_A))

        self.conn.disconnect_volume(_props(instance=INST_B), None)

        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertEqual([f'brick-1-{VOL}-{INST_A}'],
                         list(self.sp.state()))

    def test_concurrent_users_never_lose_the_device(self):
        # nova-compute's green threads share one connector; cinder-volume
        # on the same host has its own: four users connect and disconnect
        # one volume at once, with a slow API to widen every window.
        # While a user is connected its device must stay there.
        self.sp.emu.control.add_latency(0.05, 'VolumesReassignWait')
        connectors = [self.conn, self.conn, self.sp.make_connector(),
                      self.sp.make_connector()]
        errors = []

        def user(index, conn):
            props = _props(instance=f'{index}' * 8 + INST_A[8:])
            try:
                for _ in range(4):
                    info = conn.connect_volume(props)
                    with open(info['path'], 'rb') as dev:
                        self.assertEqual(512, len(dev.read(512)))
                    # Closed but still connected: no other user's
                    # disconnect may take the volume away now.
                    time.sleep(0.15)
                    if not os.path.exists(info['path']):
                        errors.append(f'user {index}: device gone while '
                                      f'connected')
                    conn.disconnect_volume(props, info)
            except Exception as exc:  # noqa: reported below
                errors.append(f'user {index}: {exc!r}')

        threads = [threading.Thread(target=user, args=(i, c))
                   for i, c in enumerate(connectors)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

        self.assertEqual([], errors)
        self.assertEqual({}, self.sp.state())
        self.assertEqual({}, self.sp.attachments())
        self.assertFalse(os.path.exists(self.path))

    def test_lock_wait_covers_a_slow_attach_of_another_user(self):
        # The attach call runs under the attach-state lock, so the lock
        # wait must outlast the longest attach (device_timeout) plus the
        # API call itself; AttachDB's fixed 10 s does not.
        slow = self.sp.make_connector(device_timeout=30)
        self.assertGreaterEqual(slow._state.lock_timeout,
                                30 + cfg.CONF.storpool_connector.api_timeout)

        other = self.sp.create_volume('c0ffee00-3e8c-4a61-9d7f-4c4f29c2a1aa')
        self.sp.emu.control.add_latency(0.5, 'VolumesReassignWait')
        done = []
        holder = threading.Thread(target=lambda: done.append(
            slow.connect_volume(_props(instance=INST_A))))
        holder.start()
        time.sleep(0.1)
        self.conn.connect_volume(_props(
            volume='c0ffee00-3e8c-4a61-9d7f-4c4f29c2a1aa',
            instance=INST_B))
        holder.join(30)

        self.assertEqual(1, len(done))
        self.assertEqual({(self.name, 1): 'rw', (other, 1): 'rw'},
                         self.sp.attachments())


@ddt.ddt
class DisconnectTestCase(ConnectorTestCase):

    @ddt.data('by-name', 'by-id', 'by-id-only', 'by-name-only',
              'device-info-only')
    def test_disconnect_path_forms(self, form):
        info = self.conn.connect_volume(_props())
        gid = self.sp.api.volume(self.name)['globalId']
        byid = self.sp.byid_path(gid)
        self.assertTrue(os.path.exists(byid))
        props, dev_info = {
            'by-name': (_props(device_path=info['path']), None),
            # What os-brick's in-tree connector returned; Nova stored it.
            'by-id': (_props(device_path=byid), None),
            'by-id-only': ({'device_path': byid}, None),
            'by-name-only': ({'device_path': info['path']}, None),
            'device-info-only': ({}, info),
        }[form]

        self.conn.disconnect_volume(props, dev_info)

        self.assertEqual({}, self.sp.attachments())
        self.assertEqual({}, self.sp.state())

    def test_disconnect_foreign_path_is_refused(self):
        err = self.assertRaises(exception.InvalidConnectionProperties,
                                self.conn.disconnect_volume,
                                {'device_path': '/dev/sda'}, None)
        self.assertIn('not a StorPool device path', str(err))

    def test_disconnect_unknown_volume_is_success(self):
        self.conn.disconnect_volume(_props(volume='no-such-volume'), None)

        self.assertEqual({}, self.sp.state())
        self.assertEqual(['objectDoesNotExist'],
                         [c['error'] for c in self.sp.emu.control.calls(
                             'VolumesReassignWait')])

    def test_disconnect_by_id_path_of_a_deleted_volume_is_success(self):
        info = self.conn.connect_volume(_props())
        gid = self.sp.api.volume(self.name)['globalId']
        self.sp.api.volumes_reassign([{'volume': self.name,
                                       'detach': 'all'}])
        self.sp.api.volume_delete(self.name)

        self.conn.disconnect_volume(
            {'device_path': self.sp.byid_path(gid)}, None)

        self.assertEqual([], self.conn.get_volume_paths(
            {'device_path': self.sp.byid_path(gid)}))
        self.assertEqual(info['path'], self.path)

    def test_disconnect_detached_volume_is_success(self):
        self.conn.disconnect_volume(_props(), None)

        self.assertEqual({}, self.sp.attachments())
        self.assertEqual(1, len(self.sp.reassign_calls()))

    def test_busy_detach_is_retried_until_closed(self):
        info = self.conn.connect_volume(_props())
        close = self.hold_open(info['path'])
        timer = threading.Timer(0.15, close)
        timer.start()
        self.addCleanup(timer.cancel)
        conn = self.sp.make_connector(detach_busy_retries=10)

        conn.disconnect_volume(_props(), info)

        detaches = [c for c in self.sp.emu.control.calls(
            'VolumesReassignWait') if 'detach' in c['body']['reassign'][0]]
        self.assertGreater(len(detaches), 1)
        self.assertEqual(['busy'] * (len(detaches) - 1) + [None],
                         [c['error'] for c in detaches])
        self.assertEqual({False}, {c['body']['reassign'][0]['force']
                                   for c in detaches})
        self.assertEqual({}, self.sp.attachments())
        self.assertEqual({}, self.sp.state())

    def test_busy_detach_gives_up_and_keeps_the_user(self):
        info = self.conn.connect_volume(_props())
        close = self.hold_open(info['path'])
        before = self.sp.state()

        err = self.assertRaises(exception.VolumeBusy,
                                self.conn.disconnect_volume, _props(), info)

        self.assertIn('is open at client 1', str(err))
        self.assertIn('after 4 detach attempts', str(err))
        self.assertIn('force=True', str(err))
        detaches = self.sp.reassign_calls()[1:]
        self.assertEqual(4, len(detaches))  # 1 + detach_busy_retries
        self.assertEqual({False}, {d['reassign'][0]['force']
                                   for d in detaches})
        # Still attached, and the user is still recorded: a later
        # disconnect (after the device is closed) finishes the job.
        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertEqual(before, self.sp.state())

        close()
        self.conn.disconnect_volume(_props(), info)
        self.assertEqual({}, self.sp.attachments())
        self.assertEqual({}, self.sp.state())

    def test_forced_disconnect_forces_only_after_the_retries(self):
        info = self.conn.connect_volume(_props())
        self.hold_open(info['path'])

        self.conn.disconnect_volume(_props(), info, force=True)

        forces = [d['reassign'][0]['force']
                  for d in self.sp.reassign_calls()[1:]]
        self.assertEqual([False] * 4 + [True], forces)
        self.assertEqual({}, self.sp.attachments())
        self.assertEqual({}, self.sp.state())

    def test_forced_disconnect_of_a_closed_device_does_not_force(self):
        info = self.conn.connect_volume(_props())

        self.conn.disconnect_volume(_props(), info, force=True)

        self.assertEqual([False], [d['reassign'][0]['force']
                                   for d in self.sp.reassign_calls()[1:]])

    def test_ignore_errors_drops_the_user_and_does_not_raise(self):
        info = self.conn.connect_volume(_props())
        self.hold_open(info['path'])
        conn = self.sp.make_connector(detach_busy_retries=0)

        conn.disconnect_volume(_props(), info, ignore_errors=True)

        # Not forced (not asked to): the volume stays attached, but the
        # caller is done with it, so its record is gone.
        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertEqual({}, self.sp.state())

    def test_api_error_on_detach_keeps_the_user(self):
        self.conn.connect_volume(_props())
        self.sp.emu.control.add_fault(query='VolumesReassignWait',
                                      name='internalError',
                                      transient=False)

        err = self.assertRaises(exception.StorPoolAPIFailure,
                                self.conn.disconnect_volume, _props(), None)

        self.assertIn('detaching volume', str(err))
        self.assertEqual([f'brick-1-{VOL}'], list(self.sp.state()))
        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())

    def test_connect_between_busy_retries_keeps_the_volume(self):
        """A user that comes while a detach is retried is honoured."""
        info = self.conn.connect_volume(_props(instance=INST_A))
        close = self.hold_open(info['path'])
        other = self.sp.make_connector()

        def second_user():
            other.connect_volume(_props(instance=INST_B))
            close()
        timer = threading.Timer(0.1, second_user)
        timer.start()
        self.addCleanup(timer.cancel)
        conn = self.sp.make_connector(detach_busy_retries=10)

        conn.disconnect_volume(_props(instance=INST_A), None)
        timer.join()

        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertEqual([f'brick-1-{VOL}-{INST_B}'],
                         list(self.sp.state()))


class ExtendAndPathsTestCase(ConnectorTestCase):

    def test_extend_while_attached(self):
        info = self.conn.connect_volume(_props())
        self.assertEqual(MiB, device.size_of(info['path']))
        self.sp.api.volume_update(self.name, {'size': 3 * MiB})

        size = self.conn.extend_volume(_props(device_path=info['path']))

        self.assertEqual(3 * MiB, size)
        self.assertEqual(3 * MiB, device.size_of(info['path']))
        # The new space is usable through the same device.
        with open(info['path'], 'r+b', buffering=0) as dev:
            dev.seek(3 * MiB - 512)
            dev.write(b'x' * 512)
        self.conn.disconnect_volume(_props(), info)

    def test_extend_of_a_detached_volume(self):
        self.assertRaises(brick_exception.VolumeDeviceNotFound,
                          self.conn.extend_volume, _props())

    def test_extend_times_out_when_the_device_does_not_grow(self):
        # A device directory of our own, whose "device" for the volume
        # (a 1 MiB file) never follows the size StorPool reports.
        root = self.useFixture(base.fixtures.TempDir()).path
        os.makedirs(os.path.join(root, 'storpool'))
        stale = os.path.join(root, 'stale')
        with open(stale, 'wb') as fobj:
            fobj.truncate(MiB)
        os.symlink(stale, os.path.join(root, 'storpool', self.name))
        conn = self.sp.make_connector(dev_root=root, device_timeout=0.2)
        self.sp.api.volume_update(self.name, {'size': 2 * MiB})

        err = self.assertRaises(exception.DeviceSizeMismatch,
                                conn.extend_volume, _props())

        self.assertIn(f'{self.name} is 2097152 bytes', str(err))
        self.assertIn('still shows 1048576 bytes', str(err))

    def test_paths_are_consistent(self):
        self.assertEqual(os.path.join(self.sp.emu.dev_dir, 'storpool'),
                         self.conn.get_search_path())
        self.assertEqual([], self.conn.get_volume_paths(_props()))

        info = self.conn.connect_volume(_props())
        gid = self.sp.api.volume(self.name)['globalId']

        self.assertEqual(os.path.dirname(info['path']),
                         self.conn.get_search_path())
        for dpath in (None, info['path'], self.sp.byid_path(gid)):
            props = _props() if dpath is None else _props(device_path=dpath)
            self.assertEqual([info['path']],
                             self.conn.get_volume_paths(props))
        self.assertEqual([info['path']],
                         self.conn.get_volume_paths(
                             {'device_path': self.sp.byid_path(gid)}))
        self.assertEqual([info['path']],
                         self.conn.get_all_available_volumes())
        self.conn.disconnect_volume(_props(), info)
        self.assertEqual([], self.conn.get_volume_paths(_props()))


@ddt.ddt
class ClientIdTestCase(test_base.BaseTestCase):
    """No emulator: the connector must refuse before any API call."""

    @ddt.data(None, '', 'abc', '0', '4096')
    def test_bad_our_id_is_an_error_at_construction(self, our_id):
        values = {'SP_API_HTTP_HOST': '127.0.0.1', 'SP_API_HTTP_PORT': '9',
                  'SP_AUTH_TOKEN': 'secret-token-1234'}
        if our_id is not None:
            values['SP_OURID'] = our_id
        config = sp_config.load(override_config=values)

        err = self.assertRaises(
            exception.StorPoolConfigError, connector.StorPoolConnector,
            None, storpool_config=config, attach_state_file='/nonexistent')

        self.assertIn('SP_OURID', str(err))
        self.assertNotIn('secret-token', str(err))
        self.assertIsInstance(err, brick_exception.BrickException)


class ConfigurationTestCase(test_base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.sp = self.useFixture(base.StorPoolConnectorFixture())
        self.conf = self.useFixture(config_fixture.Config(cfg.CONF))
        options.register_opts(cfg.CONF)

    def test_options_from_the_config_file(self):
        self.conf.config(group='storpool_connector',
                         config_file=self.sp.emu.conf_path,
                         dev_root=self.sp.emu.dev_dir,
                         attach_state_file=self.sp.state_file,
                         device_timeout=2.5, detach_busy_retries=1,
                         api_retries=0)

        conn = connector.StorPoolConnector(None)

        self.assertEqual(1, conn.our_id)
        self.assertEqual(2.5, conn._device_timeout)
        self.assertEqual(1, conn._busy_retries)
        name = self.sp.create_volume('cfg')
        info = conn.connect_volume({'volume': 'cfg'})
        self.assertEqual(self.sp.dev_path(name), info['path'])
        self.assertIn('brick-1-cfg', self.sp.state())
        conn.disconnect_volume({'volume': 'cfg'}, info)

    def test_connector_properties(self):
        self.conf.config(group='storpool_connector',
                         config_file=self.sp.emu.conf_path)

        props = connector.StorPoolConnector.get_connector_properties(
            None, host='compute-1', multipath=False,
            enforce_multipath=False)

        self.assertEqual({'storpool_client_id': 1, 'host': 'compute-1'},
                         props)

    def _default_conf_d(self, our_id, port):
        """A stand-in for this machine's /etc/storpool.conf.d.

        The real directory is shared by everything on the test machine
        and must not be written to: storpool.spconfig's default path is
        pointed at a temporary directory holding what a host's own
        /etc/storpool.conf.d could hold.
        """
        conf_d = os.path.join(self.sp.state_dir, 'etc-storpool.conf.d')
        os.makedirs(conf_d, exist_ok=True)
        with open(os.path.join(conf_d, 'host.conf'), 'w') as fobj:
            fobj.write(f'SP_OURID={our_id}\nSP_API_HTTP_PORT={port}\n')
        self.useFixture(base.fixtures.MockPatchObject(
            spconfig.SPConfig, 'PATH_CONFIG_DIR', conf_d))
        return conf_d

    def test_config_file_is_not_overridden_by_the_default_conf_d(self):
        # The case: config_file says client 1 and the emulator's
        # port, /etc/storpool.conf.d says client 7 and another port.
        self._default_conf_d(7, 1)
        self.conf.config(group=options.GROUP,
                         config_file=self.sp.emu.conf_path,
                         dev_root=self.sp.emu.dev_dir,
                         attach_state_file=self.sp.state_file,
                         api_retries=0)

        conn = connector.StorPoolConnector(None)
        props = connector.StorPoolConnector.get_connector_properties(
            None, host='compute-1')
        name = self.sp.create_volume('own-conf')
        conn.connect_volume({'volume': 'own-conf'})

        self.assertEqual(1, conn.our_id)
        self.assertEqual(1, props['storpool_client_id'])
        self.assertEqual({(name, 1): 'rw'}, self.sp.attachments(name))
        conn.disconnect_volume({'volume': 'own-conf'}, None)
        self.assertEqual({}, self.sp.attachments(name))

    def test_config_file_reads_its_own_conf_d(self):
        # As the Cinder driver reads storpool_config_file and <file>.d.
        self._default_conf_d(7, 1)
        own_d = self.sp.emu.conf_path + '.d'
        os.makedirs(own_d)
        with open(os.path.join(own_d, 'host.conf'), 'w') as fobj:
            fobj.write('SP_OURID=3\n')
        self.conf.config(group=options.GROUP,
                         config_file=self.sp.emu.conf_path,
                         attach_state_file=self.sp.state_file)

        conn = connector.StorPoolConnector(None)
        props = connector.StorPoolConnector.get_connector_properties(
            None, host='compute-1')

        self.assertEqual(3, conn.our_id)
        self.assertEqual({'storpool_client_id': 3, 'host': 'compute-1'},
                         props)

    def test_unset_config_file_reads_the_default_conf_d(self):
        conf_d = self._default_conf_d(7, self.sp.emu.port)
        main = os.path.join(self.sp.state_dir, 'storpool.conf')
        with open(main, 'w') as fobj:
            fobj.write('SP_AUTH_TOKEN=t\nSP_OURID=1\n')
        self.useFixture(base.fixtures.MockPatchObject(
            spconfig.SPConfig, 'PATH_CONFIG', main))

        config = connector._load_config(self.conf.conf)

        self.assertEqual(7, config.our_id)
        self.assertEqual(self.sp.emu.port, config.api_port)
        self.assertEqual((main, os.path.join(conf_d, 'host.conf')),
                         config.files)

    def test_connector_properties_without_storpool(self):
        missing = os.path.join(self.sp.state_dir, 'missing.conf')
        self.conf.config(group='storpool_connector', config_file=missing)
        self.useFixture(base.fixtures.EnvironmentVariable('SP_AUTH_TOKEN'))

        props = connector.StorPoolConnector.get_connector_properties(
            None, host='compute-1')

        self.assertEqual({}, props)

    def test_list_opts(self):
        (group, opts), = options.list_opts()
        self.assertEqual('storpool_connector', group)
        self.assertEqual(
            ['config_file', 'attach_state_file', 'device_timeout',
             'dev_root', 'detach_busy_retries', 'api_timeout',
             'api_retries'], [o.name for o in opts])
        self.assertTrue(all(o.help for o in opts))
        self.assertTrue(all(o.deprecated_opts[0].group == 'storpool'
                            for o in opts))

    def _conf_from_file(self, text: str) -> cfg.ConfigOpts:
        path = os.path.join(self.sp.state_dir, 'service.conf')
        with open(path, 'w') as fobj:
            fobj.write(text)
        conf = cfg.ConfigOpts()
        options.register_opts(conf)
        conf(args=[], default_config_files=[path], use_env=False)
        return conf

    def test_own_group_in_a_file(self):
        """[storpool_connector] is the connector's, never a backend's."""
        conf = self._conf_from_file(
            f'[storpool]\nstorpool_api_timeout = 300\n'
            f'[storpool_connector]\nconfig_file = {self.sp.emu.conf_path}\n'
            f'api_timeout = 7\n')
        self.assertEqual(7, conf.storpool_connector.api_timeout)
        conn = connector.StorPoolConnector(None, conf=conf)
        self.assertEqual(1, conn.our_id)

    def test_old_storpool_group_still_read(self):
        """nova.conf files written for earlier releases keep working."""
        conf = self._conf_from_file(
            f'[storpool]\nconfig_file = {self.sp.emu.conf_path}\n'
            f'api_timeout = 9\n')
        self.assertEqual(9, conf.storpool_connector.api_timeout)
        conn = connector.StorPoolConnector(None, conf=conf)
        self.assertEqual(1, conn.our_id)


# Regression tests from the review of the connector's attach path.

class LegacyRecordsTestCase(ConnectorTestCase):
    """Records that os-brick <= 6.8 left (brick-<client_id>-<volume>)."""

    def setUp(self):
        super().setUp()
        self.legacy = f'brick-1-{VOL}'
        attach_state.AttachState(self.sp.state_file).add(
            self.legacy, self.name, kind='brick',
            rights=attach_state.RIGHTS_RW)
        self.sp.api.volumes_reassign([{'volume': self.name, 'rw': [1]}])

    def test_other_users_do_not_take_the_legacy_record(self):
        # A Cinder image copy of the in-use volume must not detach it
        # from under the instance that os-brick <= 6.8 recorded.
        props = _props(storpool_attach_type='cinder-image')
        self.conn.connect_volume(props)

        self.conn.disconnect_volume(props, None)

        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertEqual([self.legacy], list(self.sp.state()))

    def test_legacy_user_takes_only_its_volume_s_record(self):
        other = self.sp.create_volume('other')
        attach_state.AttachState(self.sp.state_file).add(
            'brick-1-other', other, kind='brick',
            rights=attach_state.RIGHTS_RW)
        props = _props(instance=INST_A, storpool_legacy_user=True)

        self.conn.disconnect_volume(props, None)

        self.assertEqual({}, self.sp.attachments(self.name))
        self.assertEqual(['brick-1-other'], list(self.sp.state()))


class UnrecordedAttachmentsTestCase(ConnectorTestCase):
    """A volume attached here by something that keeps no record.

    os-brick's in-tree connector (6.9 and later) attaches with no
    attach-state record, so after an upgrade every running instance's
    volume is such a volume.
    """

    def setUp(self):
        super().setUp()
        self.sp.api.volumes_reassign([{'volume': self.name, 'rw': [1]}])

    def test_forced_disconnect_of_a_new_user_keeps_the_unknown_user(self):
        self.require_loop()
        self.hold_open(self.path)  # the instance's qemu
        # Cinder's copy_volume_to_image of the in-use volume: connect,
        # then disconnect with force=True, ignore_errors=True.
        props = _props(storpool_attach_type='cinder-image')
        info = self.conn.connect_volume(props)

        self.conn.disconnect_volume(props, info, force=True,
                                    ignore_errors=True)

        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertTrue(os.path.exists(self.path))
        self.assertEqual([], [c for c in self.sp.reassign_calls()
                              if 'detach' in c['reassign'][0]])
        self.assertEqual([f'rebuilt-{self.name}'], list(self.sp.state()))

    def test_readonly_user_does_not_downgrade_the_unknown_user(self):
        self.conn.connect_volume(_props(mode='ro'))

        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertEqual([], self.sp.reassign_calls())
        self.assertEqual(
            {f'rebuilt-{self.name}': 2, f'brick-1-{VOL}': 1},
            {k: v['rights'] for k, v in self.sp.state().items()})


class UnwritableStateTestCase(ConnectorTestCase):

    def test_attach_that_cannot_be_recorded_is_undone(self):
        # The new content's side copy cannot be written (here: a
        # directory is in its place; in production, e.g. a directory
        # the service may not write in): the connect fails, and must
        # not leave the volume attached with no record of a user.
        attach_state.AttachState(self.sp.state_file).entries()
        os.mkdir(self.sp.state_file + '.next')

        err = self.assertRaises(exception.AttachStateFailure,
                                self.conn.connect_volume, _props())

        self.assertIn('.next', str(err))
        self.assertEqual({}, self.sp.attachments())
        self.assertEqual({}, self.sp.state())
        self.assertEqual(
            [[{'volume': self.name, 'rw': [1], 'force': False}],
             [{'volume': self.name, 'detach': [1], 'force': False}]],
            [c['reassign'] for c in self.sp.reassign_calls()])

    def test_failed_record_keeps_the_volume_of_other_users(self):
        self.conn.connect_volume(_props(instance=INST_A))
        os.unlink(self.sp.state_file + '.next')  # the empty side copy
        os.mkdir(self.sp.state_file + '.next')

        self.assertRaises(exception.AttachStateFailure,
                          self.conn.connect_volume,
                          _props(instance=INST_B))

        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertEqual([f'brick-1-{VOL}-{INST_A}'],
                         list(self.sp.state()))
