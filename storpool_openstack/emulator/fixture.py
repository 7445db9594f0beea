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

"""EmulatorFixture: a StorPool API emulator for a test.

By default the emulator runs in a subprocess, because many tests run in
eventlet-monkey-patched processes (Cinder's functional tests) where a
server thread would not behave.  ``in_process=True`` runs it in a thread
and exposes the model as ``.cluster``.
"""

import os
import re
import signal
import subprocess
import sys
import time
import typing

import fixtures

from storpool_openstack.emulator import control
from storpool_openstack.emulator import devices
from storpool_openstack.emulator import service

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
LISTEN_RE = re.compile(
    r'^storpool-emulator listening on http://(?P<host>[^:]+):(?P<port>\d+) '
    r'\(device mode: (?P<mode>\w+), state: (?P<state>.*)\)$', re.M)


class EmulatorStartError(Exception):
    """The emulator did not come up."""


class EmulatorFixture(fixtures.Fixture):
    """Start a StorPool API emulator; see the module docstring.

    After setUp: ``host``, ``port``, ``url``, ``token``, ``client_id``,
    ``volume_prefix``, ``state_dir``, ``dev_dir`` (devices appear at
    ``dev_dir/storpool/<name>`` and ``dev_dir/storpool-byid/<globalId>``),
    ``conf_path`` (a storpool.conf), ``config`` (the same keys as a dict,
    for ``SPConfig(override_config=...)``), ``control`` (a ControlClient)
    and ``device_mode`` ('loop' or 'file', the mode actually in use).
    In-process only: ``cluster`` (the model) and ``emulator`` (with its
    ``faults`` and ``calls`` objects).  Cleanup stops the emulator and
    fails if loop devices or device links were left behind.
    """

    def __init__(self, *, in_process: bool = False,
                 device_mode: str = 'auto', client_id: int = 1,
                 templates: typing.Any = None,
                 volume_prefix: str = 'os') -> None:
        super().__init__()
        self.in_process = in_process
        self.requested_mode = device_mode
        self.client_id = int(client_id)
        self.templates = templates
        self.volume_prefix = volume_prefix
        self.cluster = None
        self.emulator: typing.Optional[service.Emulator] = None
        self.process: typing.Optional[subprocess.Popen] = None

    def _templates_arg(self) -> str:
        tmpl = self.templates
        if tmpl is None:
            return ''
        if isinstance(tmpl, str):
            tmpl = [part for part in tmpl.split(',') if part.strip()]
        out = []
        for item in tmpl:
            if isinstance(item, str):
                name, _sep, rest = item.partition(':')
                item = {'name': name, 'replication': rest or '-'}
            # The command wants a replication ("-": none) before placement.
            item = dict(item)
            item.setdefault('replication', '-')
            out.append(':'.join(str(item[k]) for k in
                                ('name', 'replication', 'placeAll',
                                 'placeTail', 'placeHead') if k in item))
        return ','.join(out)

    def _setUp(self) -> None:
        tmp = self.useFixture(fixtures.TempDir()).path
        self.base_dir = tmp
        self.state_dir = os.path.join(tmp, 'state')
        self.dev_dir = os.path.join(tmp, 'dev')
        self.conf_path = os.path.join(tmp, 'storpool.conf')
        os.makedirs(self.dev_dir)
        self.token = service.new_token()
        self.addCleanup(self._check_leftovers)
        if self.in_process:
            self._start_in_process()
        else:
            self._start_subprocess()
        self.url = 'http://%s:%d' % (self.host, self.port)
        self.config = {
            'SP_API_HTTP_HOST': self.host,
            'SP_API_HTTP_PORT': str(self.port),
            'SP_AUTH_TOKEN': self.token,
            'SP_OURID': str(self.client_id),
            'SP_OPENSTACK_VOLUME_PREFIX': self.volume_prefix,
        }
        # It holds the token: readable by this user only.
        fd = os.open(self.conf_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o600)
        with os.fdopen(fd, 'w') as fobj:
            fobj.write(service.config_text(self.config))
        self.control = control.ControlClient(self.url, self.token)

    def _start_in_process(self) -> None:
        emu = service.Emulator(
            self.state_dir, port=0, dev_dir=self.dev_dir, token=self.token,
            client_id=self.client_id, device_mode=self.requested_mode,
            templates=self.templates, volume_prefix=self.volume_prefix)
        self.emulator = emu
        self.addCleanup(emu.stop)
        emu.start()
        self.host = emu.host
        self.port = emu.port
        self.device_mode = emu.device_mode
        self.cluster = emu.cluster

    def _start_subprocess(self) -> None:
        out_path = os.path.join(self.base_dir, 'emulator.out')
        err_path = os.path.join(self.base_dir, 'emulator.err')
        cmd = [sys.executable, '-m', 'storpool_openstack.emulator',
               '--state-dir', self.state_dir, '--port', '0',
               '--dev-dir', self.dev_dir,
               '--client-id', str(self.client_id),
               '--device-mode', self.requested_mode,
               '--volume-prefix', self.volume_prefix]
        if self.templates is not None:
            cmd += ['--templates', self._templates_arg()]
        env = dict(os.environ)
        # Through the environment, so that it is not visible in ps.
        env['STORPOOL_EMULATOR_TOKEN'] = self.token
        with open(out_path, 'wb') as out, open(err_path, 'wb') as err:
            self.process = subprocess.Popen(
                cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                env=env, close_fds=True)
        self.addCleanup(self._stop_subprocess)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with open(out_path) as fobj:
                match = LISTEN_RE.search(fobj.read())
            if match:
                break
            if self.process.poll() is not None or \
                    time.monotonic() > deadline:
                with open(err_path) as fobj:
                    stderr = fobj.read()
                raise EmulatorStartError(
                    'storpool-emulator did not start (exit code %s) '
                    'within %.0f s; stderr:\n%s' % (
                        self.process.poll(), START_TIMEOUT, stderr))
            time.sleep(0.02)
        self.host = match.group('host')
        self.port = int(match.group('port'))
        self.device_mode = match.group('mode')

    def _stop_subprocess(self) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise EmulatorStartError('storpool-emulator did not stop on '
                                     'SIGTERM within %.0f s' % STOP_TIMEOUT)

    def leftovers(self) -> typing.List[str]:
        """Loop devices and device links this emulator left behind."""
        found = []
        for dev, backing in sorted(devices.loop_backing_files().items()):
            if backing.startswith(self.state_dir + os.sep):
                found.append('%s -> %s' % (dev, backing))
        for sub in ('storpool', 'storpool-byid'):
            path = os.path.join(self.dev_dir, sub)
            if os.path.isdir(path):
                found.extend(os.path.join(path, n) for n in os.listdir(path))
        return found

    def _check_leftovers(self) -> None:
        found = self.leftovers()
        if not found:
            return
        for item in found:
            if item.startswith('/dev/loop'):
                subprocess.run(['losetup', '-d', item.split()[0]],
                               check=False)
        raise AssertionError('storpool-emulator left devices behind: %s'
                             % ', '.join(found))
