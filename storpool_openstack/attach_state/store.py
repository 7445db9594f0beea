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
"""The attach-state file: locking, crash-safe in-place updates, recovery.

The file is shared with `storpool.spopenstack.AttachDB` 3.2.0, so the
protocol is AttachDB's: an exclusive `flock` on the file's own inode, and
the content rewritten in that same inode.  Replacing the file by rename
would let an AttachDB process that had already opened the old inode lock
and write an unlinked file, losing its update.

Crash safety without rename: the new content first goes to a side file
(`<file>.next`), then the main file is rewritten in place (write, truncate
to length, fdatasync), then the side file is emptied (an empty side file
means no update is in flight; it is kept so that the next update need not
create it).  A load that finds the main file torn restores it from a
non-empty side file; a valid main file always wins (a non-empty side file
is then the leftover of an update that never touched the main file, and
is emptied).

One flush per update, of the main file: an update is durable when it
returns.  A killed process (the common crash) loses nothing the kernel
has: the side copy is in the page cache and repairs a torn main file.
The side copy itself is not flushed (writing a fresh block and flushing
it cost more than twice the main file's flush): only a power loss during
the update's own write can leave the main file torn with its side copy
lost, and that is caught as a corrupt file (invalid JSON), rebuilt from
StorPool's attachments of the host (the connector's `rebuild`, or
`storpool-openstack attachments --sync`), never taken as valid data.

AttachDB caches the parsed file while the file's (inode, mtime, size) do
not change.  On kernels with coarse timestamps (ticks of 1-10 ms before
Linux 6.13), a rewrite of the same size in the same tick would look
unchanged to it and it would later write back stale data.  So every
update here makes the file's mtime strictly greater than it was when the
lock was taken (by at least 1 us, more than the float resolution AttachDB
compares), setting it explicitly when the kernel did not.  Since mtimes
then only grow with each of our updates, no AttachDB cache taken earlier
can match the new stat.  (AttachDB alone can still fool itself: two of
its own same-size writes in one tick, or a write that lands between its
unlock and its stat; that is AttachDB's own race, not made worse here.)
"""

import contextlib
import copy
import datetime
import errno
import fcntl
import glob
import grp
import json
import os
import threading
import time
from typing import Callable, Iterator

from oslo_log import log as logging

from storpool_openstack.attach_state import entries as sp_entries
from storpool_openstack.common import exception
from storpool_openstack.common import names

LOG = logging.getLogger(__name__)

FILE_MODE = 0o660
SIDE_SUFFIX = '.next'
CORRUPT_SUFFIX = '.corrupt-'
SETUP_HINT = 'run `storpool-openstack setup-host`'

_POLL_FIRST = 0.0005
_POLL_MAX = 0.002
_MTIME_STEP_NS = 1000
_MTIME_WAIT = 2.5


class AttachStateError(exception.StorPoolError):
    """The attach-state file cannot be used; the message says how to fix."""

    def __init__(self, message: str, *, path: str | None = None):
        super().__init__(message)
        self.path = path


class AttachStateLockTimeout(AttachStateError):
    """Another process held the attach-state lock for too long."""


def _who() -> str:
    try:
        import pwd
        user = pwd.getpwuid(os.geteuid()).pw_name
    except (KeyError, ImportError):
        user = str(os.geteuid())
    groups = []
    for gid in os.getgroups():
        try:
            groups.append(grp.getgrgid(gid).gr_name)
        except KeyError:
            groups.append(str(gid))
    return f'user {user} (groups: {", ".join(groups) or "none"})'


def _group_id() -> int | None:
    try:
        return grp.getgrnam(names.ATTACH_STATE_GROUP).gr_gid
    except KeyError:
        return None


def lock_holders(path: str) -> list[str]:
    """Who holds a flock on `path`, from /proc/locks ('pid N (cmd)')."""
    try:
        st = os.stat(path)
        with open('/proc/locks', encoding='ascii', errors='replace') as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    dev = f'{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}'
    want = f'{dev}:{st.st_ino}'
    holders = []
    for line in lines:
        fields = line.split()
        if '->' in fields:
            continue  # a waiter, not the holder
        if len(fields) >= 6 and fields[1] == 'FLOCK' and fields[5] == want:
            pid = fields[4]
            try:
                with open(f'/proc/{pid}/cmdline', 'rb') as f:
                    cmd = f.read().replace(b'\0', b' ').decode(
                        errors='replace').strip()
            except OSError:
                cmd = ''
            holders.append(f'pid {pid}' + (f' ({cmd[:120]})' if cmd else ''))
    return holders


class AttachState:
    """The per-host record of attached StorPool volumes and their users."""

    # Tests set this to a callable(stage) to stop a writer mid-update.
    _stage_hook: Callable[[str], None] | None = None

    def __init__(self, path: str = names.ATTACH_STATE_FILE, *,
                 lock_timeout: float = 10.0,
                 rebuild: Callable[[], dict] | None = None):
        self.path = path
        self.side_path = path + SIDE_SUFFIX
        self.lock_timeout = lock_timeout
        self.rebuild = rebuild
        self._holders: set[int] = set()
        self._mutex = threading.Lock()

    def __repr__(self) -> str:
        return f'<AttachState {self.path}>'

    # Public interface

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, dict]]:
        """flock + load (recovering if needed); yield the mutable dict.

        On a normal exit the dict is written back crash-safely if it
        changed; on an exception nothing is written.
        """
        me = threading.get_ident()
        with self._mutex:
            if me in self._holders:
                raise AttachStateError(
                    f'{self.path}: nested AttachState.locked() in the same '
                    f'thread would wait for itself; do the work inside the '
                    f'outer block', path=self.path)
            self._holders.add(me)
        try:
            fd = self._open_locked()
            try:
                data, raw = self._load(fd)
                before = os.fstat(fd)
                # A second parse is the cheapest deep copy of JSON data.
                work = json.loads(raw)
                yield work
                if work != data:
                    if not isinstance(work, dict):
                        raise AttachStateError(
                            f'{self.path}: the attach state must stay a '
                            f'dict, not {type(work).__name__}',
                            path=self.path)
                    self._store(fd, work, before)
            finally:
                os.close(fd)
        finally:
            with self._mutex:
                self._holders.discard(me)

    def entries(self) -> dict[str, dict]:
        """A copy of all entries, read under the lock."""
        with self.locked() as entries:
            return copy.deepcopy(entries)

    def add(self, req_id: str, volume: str, *, kind: str, rights: int,
            volsnap: bool = False, remove_on_detach: bool = False) -> None:
        """Record (or replace) one user's entry."""
        entry = sp_entries.make_entry(
            req_id, volume, kind=kind, rights=rights, volsnap=volsnap,
            remove_on_detach=remove_on_detach)
        with self.locked() as entries:
            entries[req_id] = entry

    def remove(self, req_id: str) -> dict | None:
        """Forget one user's entry; return it (None if it was not there)."""
        with self.locked() as entries:
            return entries.pop(req_id, None)

    # Opening and locking

    def _fix_hint(self, what: str) -> str:
        directory = os.path.dirname(self.path) or '.'
        chgrp = f'chgrp {names.ATTACH_STATE_GROUP} {directory}'
        chmod = f'chmod g+rwx {directory}'
        if os.path.exists(self.path):
            chgrp += f' {self.path}'
            chmod += f' && chmod 0660 {self.path}'
        return (f'{what}; {SETUP_HINT} to fix it, or by hand: `{chgrp} && '
                f'{chmod}`, and add this service\'s user to the '
                f'{names.ATTACH_STATE_GROUP} group')

    def _os_error(self, err: OSError, doing: str) -> AttachStateError:
        directory = os.path.dirname(self.path) or '.'
        if err.errno == errno.ENOENT and not os.path.isdir(directory):
            return AttachStateError(
                f'cannot {doing} the attach-state file {self.path}: the '
                f'directory {directory} does not exist; {SETUP_HINT} to '
                f'create it (or `mkdir -m 0770 {directory} && chgrp '
                f'{names.ATTACH_STATE_GROUP} {directory}`)', path=self.path)
        if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return AttachStateError(self._fix_hint(
                f'cannot {doing} the attach-state file {self.path} as '
                f'{_who()}: {err.strerror}'), path=self.path)
        return AttachStateError(
            f'cannot {doing} the attach-state file {self.path}: '
            f'{err.strerror or err}', path=self.path)

    def _create(self) -> None:
        """Make the file appear atomically, already holding `{}`."""
        directory = os.path.dirname(self.path) or '.'
        tmp = f'{self.path}.new-{os.getpid()}-{threading.get_ident()}'
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC |
                         os.O_CLOEXEC, FILE_MODE)
        except OSError as err:
            raise self._os_error(err, 'create') from None
        try:
            try:
                self._set_owner(fd)
                os.write(fd, b'{}')
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                return
            LOG.info('Created the attach-state file %s', self.path)
            self._fsync_dir(directory)
        except OSError as err:
            raise self._os_error(err, 'create') from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def _set_owner(self, fd: int) -> None:
        os.fchmod(fd, FILE_MODE)
        gid = _group_id()
        if gid is not None and os.fstat(fd).st_gid != gid:
            try:
                os.fchown(fd, -1, gid)
            except PermissionError:
                LOG.warning('Cannot give %s to group %s as %s',
                            self.path, names.ATTACH_STATE_GROUP, _who())

    @staticmethod
    def _fsync_dir(directory: str) -> None:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def _open_locked(self) -> int:
        """Open the file (creating it) and hold LOCK_EX on its own inode."""
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                self._create()
                continue
            except OSError as err:
                raise self._os_error(err, 'open') from None
            try:
                self._lock(fd, deadline)
                # Someone may have replaced or removed the file while we
                # waited: then the lock we got protects nothing.
                try:
                    same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
            except BaseException:
                os.close(fd)
                raise
            if same:
                return fd
            os.close(fd)

    def _lock(self, fd: int, deadline: float) -> None:
        # Poll a non-blocking flock: time.sleep yields to other green
        # threads under eventlet, where a blocking flock would stop the hub.
        delay = _POLL_FIRST
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            now = time.monotonic()
            if now >= deadline:
                holders = lock_holders(self.path)
                held = (f'held by {", ".join(holders)}' if holders
                        else 'holder unknown')
                raise AttachStateLockTimeout(
                    f'could not lock the attach-state file {self.path} '
                    f'within {self.lock_timeout:g} s ({held}); if that '
                    f'process is stuck, stop it and retry', path=self.path)
            time.sleep(min(delay, deadline - now))
            delay = min(delay * 2, _POLL_MAX)

    # Loading and recovery

    @staticmethod
    def _read(fd: int) -> bytes:
        chunks = []
        offset = 0
        while True:
            chunk = os.pread(fd, 65536, offset)
            if not chunk:
                return b''.join(chunks)
            chunks.append(chunk)
            offset += len(chunk)

    @staticmethod
    def _parse(raw: bytes) -> dict | None:
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def _read_side(self) -> dict | None:
        try:
            with open(self.side_path, 'rb') as f:
                return self._parse(f.read())
        except FileNotFoundError:
            return None
        except OSError as err:
            LOG.warning('Cannot read the attach-state side copy %s: %s',
                        self.side_path, err)
            return None

    def _side_pending(self) -> bool:
        try:
            return os.stat(self.side_path).st_size > 0
        except OSError:
            return False

    def _clear_side(self) -> None:
        """Mark that no update is in flight: an empty side file.

        Kept (not unlinked) so that the next update need not create it.
        """
        try:
            sfd = os.open(self.side_path, os.O_WRONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        except OSError as err:
            LOG.warning('Cannot clear the attach-state side copy %s: %s',
                        self.side_path, err)
            return
        try:
            os.ftruncate(sfd, 0)
        except OSError as err:
            LOG.warning('Cannot clear the attach-state side copy %s: %s',
                        self.side_path, err)
        finally:
            os.close(sfd)

    def _load(self, fd: int) -> tuple[dict, bytes]:
        """The content, and JSON bytes that parse to it."""
        raw = self._read(fd)
        data = self._parse(raw)
        if data is not None:
            if self._side_pending():
                # Left over by an update that stopped before it touched
                # the main file; the main file is what holds.
                self._clear_side()
            return data, raw
        side = self._read_side()
        if side is not None:
            LOG.warning('The attach-state file %s was torn by an interrupted '
                        'update (%d bytes); restoring it from its side copy '
                        '%s', self.path, len(raw), self.side_path)
            content = json.dumps(side).encode()
            self._rewrite(fd, content, os.fstat(fd))
            self._clear_side()
            return side, content
        data = self._recover_corrupt(fd, raw)
        return data, json.dumps(data).encode()

    def _keep_corrupt(self, raw: bytes) -> str | None:
        for old in glob.glob(glob.escape(self.path) + CORRUPT_SUFFIX + '*'):
            with contextlib.suppress(OSError), open(old, 'rb') as f:
                if f.read() == raw:
                    return old
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime(
            '%Y%m%dT%H%M%S.%fZ')
        copy_path = f'{self.path}{CORRUPT_SUFFIX}{stamp}'
        try:
            # Copied, not renamed: the main file keeps its inode (see the
            # module docstring).
            cfd = os.open(copy_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL |
                          os.O_CLOEXEC, 0o640)
            try:
                os.write(cfd, raw)
                os.fsync(cfd)
            finally:
                os.close(cfd)
        except OSError as err:
            LOG.error('Cannot keep a copy of the corrupt attach-state file '
                      '%s at %s: %s', self.path, copy_path, err)
            return None
        return copy_path

    def _recover_corrupt(self, fd: int, raw: bytes) -> dict:
        kept = self._keep_corrupt(raw) if raw.strip() else None
        what = (f'its content was copied to {kept}' if kept
                else f'it was empty ({len(raw)} bytes)')
        if self.rebuild is None:
            raise AttachStateError(
                f'the attach-state file {self.path} is not valid JSON and '
                f'has no valid side copy ({what}); nothing will be '
                f'attached or detached until it is rebuilt: run '
                f'`storpool-openstack attachments --sync`, which rebuilds '
                f'it from StorPool\'s attachments of this host',
                path=self.path)
        LOG.error('The attach-state file %s is not valid JSON and has no '
                  'valid side copy (%s); rebuilding it from StorPool\'s '
                  'attachments of this host', self.path, what)
        try:
            data = self.rebuild()
        except Exception as err:
            raise AttachStateError(
                f'the attach-state file {self.path} is corrupt ({what}) '
                f'and rebuilding it from StorPool failed: {err}',
                path=self.path) from err
        if not isinstance(data, dict):
            raise AttachStateError(
                f'rebuilding {self.path}: the rebuild callable returned '
                f'{type(data).__name__}, not a dict', path=self.path)
        self._store(fd, data, os.fstat(fd))
        LOG.warning('Rebuilt the attach-state file %s with %d entries',
                    self.path, len(data))
        return data

    # Writing

    def _stage(self, stage: str) -> None:
        hook = type(self)._stage_hook
        if hook is not None:
            hook(stage)

    def _store(self, fd: int, data: dict, before: os.stat_result) -> None:
        content = json.dumps(data).encode()
        self._write_side(content)
        self._stage('side-written')
        self._rewrite(fd, content, before)
        self._stage('main-written')
        self._clear_side()

    def _open_side(self) -> tuple[int, bool]:
        """Open the side file for writing; (fd, whether just created)."""
        try:
            return os.open(self.side_path,
                           os.O_WRONLY | os.O_CLOEXEC), False
        except FileNotFoundError:
            pass
        except PermissionError:
            # Left by another user with other permissions: replace it.
            os.unlink(self.side_path)
        try:
            sfd = os.open(self.side_path, os.O_WRONLY | os.O_CREAT |
                          os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        except FileExistsError:
            return os.open(self.side_path,
                           os.O_WRONLY | os.O_CLOEXEC), False
        try:
            self._set_owner(sfd)
        except OSError:
            os.close(sfd)
            raise
        return sfd, True

    def _write_side(self, content: bytes) -> None:
        try:
            sfd, _created = self._open_side()
        except OSError as err:
            raise self._side_error(err) from None
        try:
            try:
                self._write_all(sfd, content, 0)
                os.ftruncate(sfd, len(content))
                # Not flushed: see the module docstring.
            finally:
                os.close(sfd)
        except OSError as err:
            # Nothing touched the main file yet: it still holds the old
            # content; do not leave a half-written side copy behind.
            self._clear_side()
            raise self._side_error(err) from None

    def _side_error(self, err: OSError) -> AttachStateError:
        directory = os.path.dirname(self.path) or '.'
        if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return AttachStateError(self._fix_hint(
                f'cannot write the side copy {self.side_path} of the '
                f'attach-state file as {_who()}: {err.strerror} (the '
                f'directory {directory} must be writable by the '
                f'{names.ATTACH_STATE_GROUP} group)'), path=self.path)
        return AttachStateError(
            f'cannot write the side copy {self.side_path} of the '
            f'attach-state file: {err.strerror or err}; the file was not '
            f'changed', path=self.path)

    @staticmethod
    def _write_all(fd: int, content: bytes, offset: int | None = None):
        view = memoryview(content)
        pos = 0
        while pos < len(view):
            if offset is None:
                pos += os.write(fd, view[pos:])
            else:
                pos += os.pwrite(fd, view[pos:], offset + pos)

    def _rewrite(self, fd: int, content: bytes,
                 before: os.stat_result) -> None:
        """Rewrite the main file in place: same inode, newer mtime."""
        try:
            # Write first, then cut: a stop in between leaves the new
            # JSON followed by old bytes, which never parses, so the load
            # takes the side copy; it is never an empty file.
            self._write_all(fd, content, 0)
            self._stage('main-partial')
            os.ftruncate(fd, len(content))
            self._bump_mtime(fd, before)
            os.fdatasync(fd)  # data and size; mtime need not be durable
        except OSError as err:
            raise AttachStateError(
                f'cannot rewrite the attach-state file {self.path}: '
                f'{err.strerror or err}; its side copy {self.side_path} '
                f'holds the new content and the next access restores it',
                path=self.path) from None

    @staticmethod
    def _bump_mtime(fd: int, before: os.stat_result) -> None:
        # See the module docstring: AttachDB's cache must see a change.
        old = before.st_mtime_ns
        now = os.fstat(fd)
        if now.st_mtime_ns >= old + _MTIME_STEP_NS:
            return
        target = max(time.time_ns(), old + _MTIME_STEP_NS)
        os.utime(fd, ns=(now.st_atime_ns, target))
        deadline = time.monotonic() + _MTIME_WAIT
        # A file system with coarse stored times may have rounded that
        # down: wait until its clock moves past the old mtime.
        while os.fstat(fd).st_mtime <= before.st_mtime:
            if time.monotonic() > deadline:
                LOG.warning('The mtime of %d did not advance; AttachDB '
                            'users may miss this update', fd)
                return
            time.sleep(0.001)
            os.utime(fd)
