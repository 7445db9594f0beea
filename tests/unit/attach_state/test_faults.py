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
"""Crashes, corruption, bad permissions and lock waits."""

import fcntl
import glob
import json
import os
import signal
import subprocess
import sys
import time

import fixtures

from storpool_openstack import attach_state
from storpool_openstack.attach_state import store
from tests import root_guard
from tests.unit.attach_state import base
from tests.unit.attach_state.base import side_pending

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))


def old_content(state):
    state.add('keep-1', 'os--volume-1', kind='brick', rights=2)
    state.add('keep-2', 'os--volume-2', kind='nova-attach', rights=1)


class KilledWriterTestCase(base.FileTestCase):
    def kill_at(self, stage: str, *args: str) -> None:
        """Run one update in a child and SIGKILL it at `stage`."""
        marker = os.path.join(self.dir, 'marker')
        proc = subprocess.Popen(
            [sys.executable, '-m', 'tests.unit.attach_state.worker', stage,
             self.path, marker, *args], cwd=REPO,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(proc.wait)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        deadline = time.monotonic() + 30
        while not os.path.exists(marker):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError('the child never reached %s: %s' % (
                    stage, proc.stderr.read().decode(errors='replace')))
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        self.assertEqual(-signal.SIGKILL, proc.wait(10))

    def test_killed_after_side_copy_keeps_old(self):
        state = attach_state.AttachState(self.path)
        old_content(state)
        before = self.raw()
        self.kill_at('side-written', 'add')
        self.assertEqual(before, self.raw())  # main untouched
        self.assertTrue(side_pending(state.side_path))
        self.assertEqual(['keep-1', 'keep-2'], list(state.entries()))
        self.assertFalse(side_pending(state.side_path))
        # The next update reuses the (emptied) side file.
        state.add('next', 'os--volume-3', kind='brick', rights=1)
        self.assertEqual(['keep-1', 'keep-2', 'next'],
                         list(state.entries()))
        self.assertEqual(0, os.path.getsize(state.side_path))

    def test_killed_mid_rewrite_gets_new(self):
        state = attach_state.AttachState(self.path)
        old_content(state)
        self.kill_at('main-partial', 'remove', 'keep-1')
        self.assertRaises(ValueError, json.loads, self.raw())
        entries = state.entries()
        self.assertEqual(['keep-2'], list(entries))
        self.assertEqual(json.dumps(entries).encode(),
                         self.raw())
        self.assertFalse(side_pending(state.side_path))

    def test_attachdb_killed_mid_write_no_rebuild(self):
        state = attach_state.AttachState(self.path)
        old_content(state)
        self.kill_at('never', 'attachdb-add')
        self.assertEqual(b'', self.raw())  # AttachDB's own torn state
        err = self.assertRaises(attach_state.AttachStateError,
                                state.entries)
        self.assertIn(self.path, str(err))
        self.assertIn('storpool-openstack attachments --sync', str(err))
        self.assertEqual(b'', self.raw())


class CorruptTestCase(base.EmulatorTestCase):
    def test_rebuilt_from_attachments(self):
        for name in ('os--volume-aaa', 'os--volume-bbb', 'other-vol'):
            self.create_volume(name)
        self.api.volumes_reassign_wait([
            {'volume': 'os--volume-aaa', 'rw': [self.our_id]},
            {'volume': 'os--volume-bbb', 'ro': [self.our_id]},
            {'volume': 'other-vol', 'rw': [self.our_id]}])
        self.api.snapshot_create('os--volume-bbb',
                                 {'name': 'os--snap--none--snapshot-s'})
        self.api.volumes_reassign_wait([
            {'snapshot': 'os--snap--none--snapshot-s', 'ro': [self.our_id]}])
        self.addCleanup(self.api.volumes_reassign_wait, [
            {'volume': v, 'detach': 'all'}
            for v in ('os--volume-aaa', 'os--volume-bbb', 'other-vol')] + [
            {'snapshot': 'os--snap--none--snapshot-s', 'detach': 'all'}])
        garbage = b'{"req-1": {"volume": "os--volume-aaa", "ty'
        with open(self.path, 'wb') as f:
            f.write(garbage)
        ino = os.stat(self.path).st_ino
        self.emu.control.clear_calls()

        state = attach_state.AttachState(
            self.path, rebuild=lambda: attach_state.entries_from_attachments(
                self.api, self.our_id, self.prefix))
        entries = state.entries()

        self.assertEqual({
            'rebuilt-os--volume-aaa': attach_state.make_entry(
                'rebuilt-os--volume-aaa', 'os--volume-aaa', kind='rebuilt',
                rights=2),
            'rebuilt-os--volume-bbb': attach_state.make_entry(
                'rebuilt-os--volume-bbb', 'os--volume-bbb', kind='rebuilt',
                rights=1),
            'rebuilt-os--snap--none--snapshot-s': attach_state.make_entry(
                'rebuilt-os--snap--none--snapshot-s',
                'os--snap--none--snapshot-s', kind='rebuilt', rights=1,
                volsnap=True),
        }, entries)
        self.assertEqual(['AttachmentsList'], self.emu.control.queries())
        copies = glob.glob(self.path + '.corrupt-*')
        self.assertEqual(1, len(copies))
        with open(copies[0], 'rb') as f:
            self.assertEqual(garbage, f.read())
        self.assertEqual(ino, os.stat(self.path).st_ino)
        # Rebuilt once: the next access neither calls StorPool nor copies.
        self.emu.control.clear_calls()
        self.assertEqual(entries, state.entries())
        self.assertEqual([], self.emu.control.queries())
        self.assertEqual(1, len(glob.glob(self.path + '.corrupt-*')))

    def test_rebuild_failure_leaves_file(self):
        with open(self.path, 'wb') as f:
            f.write(b'not json')
        self.emu.control.add_fault('AttachmentsList', name='internalError',
                                   transient=False, times=1)
        state = attach_state.AttachState(
            self.path, rebuild=lambda: attach_state.entries_from_attachments(
                self.api, self.our_id, self.prefix))
        err = self.assertRaises(attach_state.AttachStateError,
                                state.entries)
        self.assertIn('rebuilding it from StorPool failed', str(err))
        self.assertEqual(b'not json', self.raw())


class SetupErrorsTestCase(base.FileTestCase):
    def test_missing_directory(self):
        path = os.path.join(self.dir, 'nope', 'openstack-attach.json')
        err = self.assertRaises(attach_state.AttachStateError,
                                attach_state.AttachState(path).entries)
        self.assertIn('does not exist', str(err))
        self.assertIn('storpool-openstack setup-host', str(err))
        self.assertIn(os.path.dirname(path), str(err))

    def error_as_nobody(self) -> str:
        """The AttachStateError text that user nobody gets, via fork."""
        root_guard.skip_unless_root(self, 'a child run as another user')
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: drop to nobody, report, exit without cleanup
            out = 'no error'
            try:
                os.close(rfd)
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                attach_state.AttachState(self.path).entries()
            except attach_state.AttachStateError as err:
                out = str(err)
            except BaseException as err:
                out = 'unexpected %s: %s' % (type(err).__name__, err)
            finally:
                os.write(wfd, out.encode())
                os._exit(0)
        os.close(wfd)
        with os.fdopen(rfd, 'rb') as f:
            out = f.read().decode()
        os.waitpid(pid, 0)
        return out

    def test_permission_denied(self):
        os.chmod(self.dir, 0o755)
        os.chmod(os.path.dirname(self.dir), 0o755)
        attach_state.AttachState(self.path).entries()
        os.chmod(self.path, 0o640)
        out = self.error_as_nobody()
        self.assertIn('Permission denied', out)
        self.assertIn('storpool-openstack setup-host', out)
        self.assertIn('chmod 0660 %s' % self.path, out)
        self.assertIn('user nobody', out)

    def test_directory_not_writable(self):
        os.chmod(self.dir, 0o755)
        os.chmod(os.path.dirname(self.dir), 0o755)
        out = self.error_as_nobody()
        self.assertIn('cannot create', out)
        self.assertIn('storpool-openstack setup-host', out)
        self.assertFalse(os.path.exists(self.path))


class LockTimeoutTestCase(base.FileTestCase):
    def test_timeout_names_file_and_holder(self):
        attach_state.AttachState(self.path).entries()
        holder = subprocess.Popen(
            [sys.executable, '-c',
             'import fcntl, sys, time\n'
             'f = open(sys.argv[1], "rb")\n'
             'fcntl.flock(f, fcntl.LOCK_EX)\n'
             'print("locked", flush=True)\n'
             'time.sleep(60)\n', self.path], stdout=subprocess.PIPE)
        self.addCleanup(holder.wait)
        self.addCleanup(holder.kill)
        self.assertEqual(b'locked\n', holder.stdout.readline())
        state = attach_state.AttachState(self.path, lock_timeout=0.3)
        start = time.monotonic()
        err = self.assertRaises(store.AttachStateLockTimeout,
                                state.add, 'r', 'v', kind='k', rights=1)
        self.assertLess(time.monotonic() - start, 5)
        self.assertIn(self.path, str(err))
        self.assertIn('pid %d' % holder.pid, str(err))
        # Gave up cleanly: the file is unchanged and usable again.
        holder.kill()
        holder.wait()
        self.assertEqual({}, state.entries())

    def test_polling_waits_for_release(self):
        state = attach_state.AttachState(self.path, lock_timeout=10)
        state.entries()
        fd = os.open(self.path, os.O_RDWR)
        self.addCleanup(os.close, fd)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self.useFixture(fixtures.MonkeyPatch(
            'time.sleep', _releasing_sleep(fd)))
        state.add('r', 'v', kind='k', rights=1)
        self.assertEqual(['r'], list(state.entries()))


def _releasing_sleep(fd):
    real = time.sleep
    calls = []

    def sleep(seconds):
        # The lock poll sleeps through time.sleep (eventlet patches it);
        # release the other holder on the third poll.
        calls.append(seconds)
        if len(calls) == 3:
            fcntl.flock(fd, fcntl.LOCK_UN)
        real(seconds)
    return sleep


EVENTLET_CHILD = '''
import eventlet
eventlet.monkey_patch()
import sys, time
from storpool_openstack import attach_state
state = attach_state.AttachState(sys.argv[1], lock_timeout=1.0)
ticks = []
def waiter():
    try:
        state.entries()
        return 'got the lock'
    except attach_state.AttachStateError as err:
        return type(err).__name__
gt = eventlet.spawn(waiter)
while not gt.dead:
    ticks.append(time.monotonic())
    eventlet.sleep(0.01)
print(gt.wait(), len(ticks))
'''


class EventletTestCase(base.FileTestCase):
    def test_lock_wait_does_not_stop_the_hub(self):
        # In a child: eventlet.monkey_patch() must not leak into this
        # test process.
        attach_state.AttachState(self.path).entries()
        fd = os.open(self.path, os.O_RDWR)
        self.addCleanup(os.close, fd)
        fcntl.flock(fd, fcntl.LOCK_EX)
        out = subprocess.run(
            [sys.executable, '-c', EVENTLET_CHILD, self.path], cwd=REPO,
            capture_output=True, text=True, timeout=60)
        self.assertEqual(0, out.returncode, out.stderr)
        result, ticks = out.stdout.split()
        self.assertEqual('AttachStateLockTimeout', result)
        # 1 s of waiting at 10 ms per tick: the other green thread ran.
        self.assertGreater(int(ticks), 30)
