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
"""A private virtlogd + libvirtd pair, started and stopped by pid.

There is no systemd here, and other work on the machine may run its own
libvirtd. A root libvirtd always uses /run/libvirt, /var/lib/libvirt,
/etc/libvirt (qemu.conf, persistent domains) and friends, and its QEMU
driver takes a lock file there, so two of them cannot share those
paths. Each daemon here therefore runs in a mount namespace of its own
(``unshare -m``) where those directories are bind mounts of a temporary
directory; the daemons see only that, and the test reaches libvirtd
through the socket's path in the temporary directory
(``qemu:///system?socket=...``). Nothing outside that directory changes.

qemu.conf runs guests as root with no security driver, no cgroups and
no private /dev (nothing here to confine them with), so /dev/kvm needs
no group change.
"""

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

# Bind-mounted over these, in the daemons' namespace only.
_DIRS = {'run': '/run', 'lib': '/var/lib/libvirt',
         'cache': '/var/cache/libvirt', 'log': '/var/log/libvirt',
         'etc': '/etc/libvirt'}

_LIBVIRTD_CONF = '''\
auth_unix_rw = "none"
auth_unix_ro = "none"
unix_sock_rw_perms = "0700"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
'''
_VIRTLOGD_CONF = 'log_outputs = "3:file:/var/log/libvirt/virtlogd.log"\n'
_QEMU_CONF = '''\
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
'''


class LibvirtdError(Exception):
    """libvirtd did not start."""


class Libvirtd(object):
    """virtlogd and libvirtd in a private layout; see the module doc."""

    def __init__(self) -> None:
        self.base = None
        self.procs: dict[str, subprocess.Popen] = {}
        self.start_seconds = None

    @property
    def socket(self) -> str:
        return os.path.join(self.base, 'run', 'libvirt', 'libvirt-sock')

    @property
    def uri(self) -> str:
        return f'qemu:///system?socket={self.socket}'

    def log_tail(self, lines: int = 30) -> str:
        path = os.path.join(self.base, 'log', 'libvirtd.log')
        try:
            with open(path) as fobj:
                return ''.join(fobj.readlines()[-lines:])
        except OSError:
            return ''

    def start(self) -> None:
        # Short: the socket path must fit a sockaddr_un (108 bytes).
        self.base = tempfile.mkdtemp(prefix='sp-virt-', dir='/tmp')
        for sub in _DIRS:
            os.makedirs(os.path.join(self.base, sub))
        os.makedirs(os.path.join(self.base, 'etc', 'qemu'))
        for name, text in (('libvirtd.conf', _LIBVIRTD_CONF),
                           ('virtlogd.conf', _VIRTLOGD_CONF),
                           ('qemu.conf', _QEMU_CONF)):
            with open(os.path.join(self.base, 'etc', name), 'w') as fobj:
                fobj.write(text)
        t0 = time.monotonic()
        self._spawn('virtlogd')
        self._spawn('libvirtd')
        self._wait_ready()
        self.start_seconds = time.monotonic() - t0

    def _spawn(self, daemon: str) -> None:
        mounts = ' && '.join(
            f'mount --bind {os.path.join(self.base, sub)} {target}'
            for sub, target in _DIRS.items())
        out = open(os.path.join(self.base, f'{daemon}.out'), 'wb')
        # `exec`: the pid we hold is the daemon itself, not a shell.
        self.procs[daemon] = subprocess.Popen(
            ['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
             f'{mounts} && exec {daemon}'],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            close_fds=True)
        out.close()

    def _wait_ready(self) -> None:
        import libvirt

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise LibvirtdError(
                        f'{name} exited with {proc.returncode}: '
                        f'{self._output(name)}')
            if os.path.exists(self.socket):
                try:
                    conn = libvirt.open(self.uri)
                    conn.close()
                    return
                except libvirt.libvirtError:
                    pass
            if time.monotonic() > deadline:
                raise LibvirtdError(
                    f'libvirtd did not answer within {START_TIMEOUT:.0f} s: '
                    f'{self.log_tail()}')
            time.sleep(0.2)

    def _output(self, daemon: str) -> str:
        with open(os.path.join(self.base, f'{daemon}.out')) as fobj:
            return fobj.read()[-2000:]

    def _destroy_domains(self) -> None:
        """Stop any guest a failed test left (qemu outlives libvirtd)."""
        import libvirt

        try:
            conn = libvirt.open(self.uri)
        except libvirt.libvirtError:
            return
        try:
            for dom in conn.listAllDomains():
                try:
                    if dom.isActive():
                        dom.destroy()
                    dom.undefine()
                except libvirt.libvirtError:
                    pass
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop libvirtd, then virtlogd, by pid; remove the directory."""
        proc = self.procs.get('libvirtd')
        if proc is not None and proc.poll() is None:
            self._destroy_domains()
        for name in ('libvirtd', 'virtlogd'):
            proc = self.procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.base:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None


_shared = None
_shared_lock = threading.Lock()


def shared() -> Libvirtd:
    """One libvirtd for this test process (it takes ~10 s to start).

    Stopped when the process exits; each test removes its own domains.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            daemon = Libvirtd()
            try:
                daemon.start()
            except Exception:
                daemon.stop()
                raise
            atexit.register(daemon.stop)
            _shared = daemon
        return _shared
