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

"""Device nodes for attachments to the emulator's own client.

A real StorPool client shows an attached volume as
``/dev/storpool/<name>`` and ``/dev/storpool-byid/<globalId>``.  The
emulator makes those links point at loop block devices where the host
allows it (root, ``/dev/loop-control``), or at the backing files.
"""

import errno
import fcntl
import os
import stat
import subprocess
import threading
import typing

from oslo_log import log as logging

from storpool_openstack.emulator import errors

LOG = logging.getLogger(__name__)

LOOP_CONTROL = '/dev/loop-control'
LOOP_CTL_GET_FREE = 0x4C82
LOOP_MAJOR = 7
MODES = ('auto', 'loop', 'file')


def _run(*args: str) -> str:
    res = subprocess.run(args, capture_output=True, check=False,
                         text=True)
    if res.returncode != 0:
        raise OSError(errno.EIO, f"{' '.join(args)} failed: "
                                 f'{res.stderr.strip()}')
    return res.stdout


def loop_supported() -> tuple[bool, str]:
    """Can this process set up loop devices?  (answer, reason if not)"""
    if os.geteuid() != 0:
        return False, 'not running as root'
    if not os.path.exists(LOOP_CONTROL):
        return False, f'{LOOP_CONTROL} is missing'
    try:
        _run('losetup', '--version')
    except (OSError, FileNotFoundError) as exc:
        return False, f'losetup unusable: {exc}'
    try:
        fd = os.open(LOOP_CONTROL, os.O_RDWR)
        os.close(fd)
    except OSError as exc:
        return False, f'cannot open {LOOP_CONTROL}: {exc}'
    return True, ''


def resolve_mode(mode: str) -> str:
    """Turn 'auto' into 'loop' or 'file'; refuse 'loop' when impossible."""
    if mode not in MODES:
        raise ValueError(f'device mode must be one of {MODES}')
    if mode == 'file':
        return mode
    ok, why = loop_supported()
    if ok:
        return 'loop'
    if mode == 'loop':
        raise RuntimeError(f'loop device mode unavailable: {why}')
    return 'file'


def loop_backing_files() -> dict[str, str]:
    """Map /dev/loopN to its backing file for every bound loop device."""
    res = {}
    try:
        names = os.listdir('/sys/block')
    except OSError:
        return res
    for name in names:
        if not name.startswith('loop'):
            continue
        try:
            with open(f'/sys/block/{name}/loop/backing_file') as fobj:
                res['/dev/' + name] = fobj.read().strip()
        except OSError:
            continue
    return res


def open_by(targets: typing.Iterable[str]) -> list[int]:
    """PIDs of processes that hold one of ``targets`` open."""
    wanted = set(targets)
    pids = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        fddir = f'/proc/{pid}/fd'
        try:
            fds = os.listdir(fddir)
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(os.path.join(fddir, fd))
            except OSError:
                continue
            if link in wanted:
                pids.append(int(pid))
                break
    return pids


class Device:
    """One attached volume or snapshot on the emulator's client."""

    def __init__(self, name: str, global_id: str, backing: str,
                 readonly: bool, loop: str | None) -> None:
        self.name = name
        self.global_id = global_id
        self.backing = backing
        self.readonly = readonly
        self.loop = loop

    @property
    def target(self) -> str:
        return self.loop or self.backing

    def to_json(self) -> dict:
        return {'name': self.name, 'globalId': self.global_id,
                'backing': self.backing, 'readonly': self.readonly,
                'device': self.target}


class DeviceManager:
    """Creates and removes the device links (and loop devices)."""

    def __init__(self, dev_dir: str, mode: str = 'auto',
                 client_id: int = 1) -> None:
        self.dev_dir = dev_dir
        self.mode = resolve_mode(mode)
        self.client_id = client_id
        self.by_name = os.path.join(dev_dir, 'storpool')
        self.by_id = os.path.join(dev_dir, 'storpool-byid')
        self._lock = threading.RLock()
        self._devices: dict[str, Device] = {}
        # PIDs whose open files do not make a device busy (the
        # emulator's own iSCSI target daemon serving the same data).
        self.ignored_holders: typing.Callable[[], set[int]] = set

    # -- paths -----------------------------------------------------------
    def name_path(self, name: str) -> str:
        return os.path.join(self.by_name, name)

    def id_path(self, global_id: str) -> str:
        return os.path.join(self.by_id, global_id)

    def _link(self, target: str, path: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + '.tmp-emu'
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        os.symlink(target, tmp)
        os.rename(tmp, path)

    @staticmethod
    def _unlink(path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    # -- loop devices ----------------------------------------------------
    def _loop_setup(self, backing: str, readonly: bool) -> str:
        last = None
        for _ in range(32):
            ctl = os.open(LOOP_CONTROL, os.O_RDWR)
            try:
                idx = fcntl.ioctl(ctl, LOOP_CTL_GET_FREE)
            finally:
                os.close(ctl)
            dev = f'/dev/loop{idx}'
            if not os.path.exists(dev):
                try:
                    os.mknod(dev, 0o660 | stat.S_IFBLK,
                             os.makedev(LOOP_MAJOR, idx))
                except FileExistsError:
                    pass
            args = ['losetup']
            if readonly:
                args.append('--read-only')
            try:
                _run(*(args + [dev, backing]))
                return dev
            except OSError as exc:
                # Another process took the same free device: try again.
                last = exc
        raise errors.EmulatorError(
            'internalError', f'could not set up a loop device: {last}',
            500)

    @staticmethod
    def _loop_detach(dev: str) -> None:
        for _ in range(50):
            try:
                _run('losetup', '-d', dev)
                return
            except OSError as exc:
                LOG.debug('losetup -d %s: %s', dev, exc)
                threading.Event().wait(0.05)
        LOG.warning('could not detach loop device %s', dev)

    # -- public ----------------------------------------------------------
    def attach(self, name: str, global_id: str, backing: str,
               readonly: bool) -> Device:
        """Make the device links for ``name`` (idempotent per rights)."""
        with self._lock:
            old = self._devices.get(name)
            if old is not None:
                if old.readonly == readonly and old.backing == backing:
                    return old
                self.detach(name, force=True)
            loop = None
            if self.mode == 'loop':
                loop = self._loop_setup(backing, readonly)
            dev = Device(name, global_id, backing, readonly, loop)
            try:
                self._link(dev.target, self.name_path(name))
                self._link(dev.target, self.id_path(global_id))
            except OSError as exc:
                # Leave no half-made device: no link, no bound loop.
                for path in (self.name_path(name), self.id_path(global_id)):
                    try:
                        self._unlink(path)
                    except OSError:
                        pass
                if loop is not None:
                    self._loop_detach(loop)
                raise errors.EmulatorError(
                    'internalError', 'could not create the device links '
                    f'of {name}: {exc}', 500)
            self._devices[name] = dev
            return dev

    def get(self, name: str) -> Device | None:
        with self._lock:
            return self._devices.get(name)

    def holders(self, name: str) -> list[int]:
        """PIDs that have the device (or its backing file) open."""
        dev = self.get(name)
        if dev is None:
            return []
        targets = {dev.target, dev.backing}
        ignored = self.ignored_holders()
        return [pid for pid in open_by(targets) if pid not in ignored]

    def detach(self, name: str, force: bool = False) -> None:
        """Remove the device; refuse with ``busy`` if open and not forced."""
        with self._lock:
            dev = self._devices.get(name)
            if dev is None:
                return
            if not force and self.holders(name):
                raise errors.EmulatorError(
                    'busy', f"'{name}' is open at client {self.client_id}",
                    409)
            self._unlink(self.name_path(name))
            self._unlink(self.id_path(dev.global_id))
            if dev.loop is not None:
                self._loop_detach(dev.loop)
            del self._devices[name]

    def rename(self, old: str, new: str) -> None:
        with self._lock:
            dev = self._devices.pop(old, None)
            if dev is None:
                return
            dev.name = new
            self._devices[new] = dev
            self._link(dev.target, self.name_path(new))
            self._unlink(self.name_path(old))

    def resize(self, name: str) -> None:
        """Tell the kernel the backing file changed size."""
        dev = self.get(name)
        if dev is not None and dev.loop is not None:
            _run('losetup', '-c', dev.loop)

    def flush(self, name: str) -> None:
        """Push the device's dirty pages into the backing file."""
        dev = self.get(name)
        if dev is None or dev.loop is None:
            return
        fd = os.open(dev.loop, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._devices)

    def describe(self) -> list[dict]:
        with self._lock:
            return [self._devices[n].to_json() for n in sorted(self._devices)]

    def close(self) -> None:
        """Remove every device (at shutdown); nothing is left behind."""
        with self._lock:
            for name in list(self._devices):
                try:
                    self.detach(name, force=True)
                except Exception:  # noqa: broad; keep cleaning up
                    LOG.exception('could not remove device %s', name)
