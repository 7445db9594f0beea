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

"""The emulator's own tgtd: started, driven and stopped by pid.

Process control only: ``iscsi.ISCSIConfig`` decides which portals,
targets and bindings tgtd should have and drives it with ``adm``
(tgtadm on this daemon's own control port).
"""

import os
import random
import re
import shutil
import subprocess
import threading
import time

from oslo_log import log as logging

from storpool_openstack.emulator import errors

LOG = logging.getLogger(__name__)

TGTD_RUN_DIR = '/var/run/tgtd'
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def available() -> tuple[bool, str]:
    """Can this process run tgtd?  (answer, the reason if not)"""
    if os.geteuid() != 0:
        return False, 'not running as root'
    for tool in ('tgtd', 'tgtadm'):
        if shutil.which(tool) is None:
            return False, f'{tool} is not installed (apt-get install tgt)'
    return True, ''


class TgtDaemon:
    """One tgtd of this emulator's own, started and stopped by pid.

    Its control socket is /var/run/tgtd/socket.<N> for a control port N
    no other tgtd on the machine uses; tgtadm reaches it with -C N.
    """

    def __init__(self, log_dir: str) -> None:
        self.log_path = os.path.join(log_dir, 'tgtd.log')
        self.proc: subprocess.Popen | None = None
        self.control_port = 0
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def _socket(self, port: int) -> str:
        return os.path.join(TGTD_RUN_DIR, f'socket.{port}')

    def start(self, portal: tuple[str, int]) -> None:
        last = ''
        for _attempt in range(8):
            # tgtd takes control ports up to 32767.
            port = random.randint(10000, 32767)
            if os.path.exists(self._socket(port)) or \
                    os.path.exists(self._socket(port) + '.lock'):
                continue
            self.control_port = port
            with open(self.log_path, 'ab') as log:
                self.proc = subprocess.Popen(
                    ['tgtd', '-f', '-C', str(port), '--iscsi',
                     f'portal={portal[0]}:{portal[1]}'],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    close_fds=True)
            if self._wait_ready(portal):
                LOG.info('tgtd pid %d: control port %d, portal %s:%d',
                         self.proc.pid, port, *portal)
                return
            last = self._tail()
            self._kill()
        raise errors.EmulatorError(
            'internalError', f'tgtd did not start: {last}', 500)

    def _wait_ready(self, portal: tuple[str, int]) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            res = self._run('--mode', 'portal', '--op', 'show')
            if res.returncode == 0 and \
                    f'Portal: {portal[0]}:{portal[1]}' in res.stdout:
                return True
            time.sleep(0.05)
        return False

    def _tail(self) -> str:
        try:
            with open(self.log_path, errors='replace') as log:
                return ' | '.join(log.read().strip().splitlines()[-3:])
        except OSError as exc:
            return str(exc)

    def _run(self, *args: str,
             lld: bool = True) -> subprocess.CompletedProcess:
        cmd = ['tgtadm', '-C', str(self.control_port)]
        if lld:
            cmd += ['--lld', 'iscsi']
        return subprocess.run(cmd + list(args), capture_output=True,
                              text=True, check=False,
                              timeout=30)

    def adm(self, *args: str) -> str:
        with self._lock:
            res = self._run(*args)
        if res.returncode != 0:
            raise errors.EmulatorError(
                'internalError',
                f"tgtadm {' '.join(args)} failed: {res.stderr.strip()}", 500)
        return res.stdout

    def stop(self) -> None:
        """Offline, drop every target, delete the system, wait on the pid.

        tgtd ignores SIGTERM; only an empty system can be deleted.
        """
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self._run('--op', 'update', '--mode', 'sys', '--name',
                          'State', '-v', 'offline', lld=False)
                shown = self._run('--mode', 'target', '--op', 'show')
                for tid in re.findall(r'^Target (\d+):', shown.stdout,
                                      re.M):
                    self._run('--mode', 'target', '--op', 'delete',
                              '--force', '--tid', tid)
                self._run('--op', 'delete', '--mode', 'system', lld=False)
                try:
                    self.proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    LOG.warning('tgtd pid %d did not stop; killing it',
                                self.proc.pid)
        finally:
            self._kill()

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        for path in (self._socket(self.control_port),
                     self._socket(self.control_port) + '.lock'):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
