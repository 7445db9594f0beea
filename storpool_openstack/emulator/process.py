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
"""storpool-emulator as a child process, with no test library.

`EmulatorProcess` starts ``python -m storpool_openstack.emulator`` in a
directory of its own, waits for its "listening" line, writes a
storpool.conf for it, and stops it by its pid.  The demo uses it directly;
the tests' `fixture.EmulatorFixture` runs it the same way.
"""

import os
import re
import signal
import subprocess
import sys
import time

from storpool_openstack.emulator import control
from storpool_openstack.emulator import devices
from storpool_openstack.emulator import service

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
LISTEN_RE = re.compile(
    r'^storpool-emulator listening on http://(?P<host>[^:]+):(?P<port>\d+) '
    r'\(device mode: (?P<mode>\w+), state: (?P<state>.*)\)$', re.M)


class EmulatorStartError(Exception):
    """The emulator did not come up (or did not stop)."""


class EmulatorProcess:
    """A StorPool API emulator in a child process, under `base_dir`.

    After `start()` (or entering the context): ``host``, ``port``,
    ``url``, ``token``, ``client_id``, ``volume_prefix``, ``state_dir``,
    ``dev_dir``, ``conf_path`` (a storpool.conf, mode 0600), ``config``
    (its keys as a dict), ``control`` (a ControlClient) and
    ``device_mode`` (the mode actually in use).
    """

    def __init__(self, base_dir: str, *, device_mode: str = 'auto',
                 client_id: int = 1, templates: str | None = None,
                 volume_prefix: str = 'os',
                 iscsi_target: str | None = None,
                 extra_clients: dict[int, str] | None = None) -> None:
        self.base_dir = base_dir
        self.iscsi_target = iscsi_target
        # Other client ids served on this machine: id -> device directory.
        self.extra_clients = dict(extra_clients or {})
        self.requested_mode = device_mode
        self.client_id = int(client_id)
        self.templates = templates
        self.volume_prefix = volume_prefix
        self.state_dir = os.path.join(base_dir, 'state')
        self.dev_dir = os.path.join(base_dir, 'dev')
        self.conf_path = os.path.join(base_dir, 'storpool.conf')
        self.token = service.new_token()
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> 'EmulatorProcess':
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        os.makedirs(self.dev_dir, exist_ok=True)
        out_path = os.path.join(self.base_dir, 'emulator.out')
        err_path = os.path.join(self.base_dir, 'emulator.err')
        cmd = [sys.executable, '-m', 'storpool_openstack.emulator',
               '--state-dir', self.state_dir, '--port', '0',
               '--dev-dir', self.dev_dir,
               '--client-id', str(self.client_id),
               '--device-mode', self.requested_mode,
               '--volume-prefix', self.volume_prefix]
        if self.templates is not None:
            cmd += ['--templates', self.templates]
        if self.iscsi_target is not None:
            cmd += ['--iscsi-target', self.iscsi_target]
        for cid, client_dev_dir in sorted(self.extra_clients.items()):
            cmd += ['--extra-client', f'{cid}:{client_dev_dir}']
        env = dict(os.environ)
        # Through the environment, so that it is not visible in ps.
        env['STORPOOL_EMULATOR_TOKEN'] = self.token
        with open(out_path, 'wb') as out, open(err_path, 'wb') as err:
            self.process = subprocess.Popen(
                cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                env=env, close_fds=True)
        try:
            match = self._wait_listening(out_path, err_path)
        except BaseException:
            self.stop()
            raise
        self.host = match.group('host')
        self.port = int(match.group('port'))
        self.device_mode = match.group('mode')
        self.url = f'http://{self.host}:{self.port}'
        self.config = write_client_config(
            self.conf_path, self.host, self.port, self.token,
            self.client_id, self.volume_prefix)
        self.control = control.ControlClient(self.url, self.token)

    def _wait_listening(self, out_path: str, err_path: str) -> re.Match:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with open(out_path) as fobj:
                match = LISTEN_RE.search(fobj.read())
            if match:
                return match
            if self.process.poll() is not None or \
                    time.monotonic() > deadline:
                with open(err_path) as fobj:
                    stderr = fobj.read()
                raise EmulatorStartError(
                    f'storpool-emulator did not start (exit code '
                    f'{self.process.poll()}) within {START_TIMEOUT:.0f} s; '
                    f'stderr:\n{stderr}')
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM, so that it removes its loop devices; then wait."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise EmulatorStartError(f'storpool-emulator did not stop on '
                                     f'SIGTERM within {STOP_TIMEOUT:.0f} s')

    def leftovers(self) -> list[str]:
        """Loop devices and device links this emulator left behind."""
        return leftovers(self.state_dir, self.dev_dir)


def write_client_config(path: str, host: str, port: int, token: str,
                        client_id: int, volume_prefix: str
                        ) -> dict[str, str]:
    """Write the storpool.conf a client of this emulator reads.

    It holds the token, so it is readable by this user only.  Returns
    its keys.
    """
    config = {
        'SP_API_HTTP_HOST': host,
        'SP_API_HTTP_PORT': str(port),
        'SP_AUTH_TOKEN': token,
        'SP_OURID': str(client_id),
        'SP_OPENSTACK_VOLUME_PREFIX': volume_prefix,
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as fobj:
        fobj.write(service.config_text(config))
    return config


def leftovers(state_dir: str, dev_dir: str) -> list[str]:
    """Loop devices on files of `state_dir`, device links in `dev_dir`."""
    found = []
    for dev, backing in sorted(devices.loop_backing_files().items()):
        if backing.startswith(state_dir + os.sep):
            found.append(f'{dev} -> {backing}')
    for sub in ('storpool', 'storpool-byid'):
        path = os.path.join(dev_dir, sub)
        if os.path.isdir(path):
            found.extend(os.path.join(path, n) for n in os.listdir(path))
    return found
