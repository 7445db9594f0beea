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
import subprocess
import typing

import fixtures

from storpool_openstack.emulator import control
from storpool_openstack.emulator import process
from storpool_openstack.emulator import service

EmulatorStartError = process.EmulatorStartError


class EmulatorFixture(fixtures.Fixture):
    """Start a StorPool API emulator; see the module docstring.

    After setUp: ``host``, ``port``, ``url``, ``token``, ``client_id``,
    ``volume_prefix``, ``state_dir``, ``dev_dir`` (devices appear at
    ``dev_dir/storpool/<name>`` and ``dev_dir/storpool-byid/<globalId>``),
    ``conf_path`` (a storpool.conf), ``config`` (the same keys as a dict,
    for ``SPConfig(override_config=...)``), ``control`` (a ControlClient)
    and ``device_mode`` ('loop' or 'file', the mode actually in use).
    ``extra_clients`` (client ids) are other local clients (other hosts on
    this machine): ``client_dev_dirs[id]`` is where their devices appear.
    In-process only: ``cluster`` (the model) and ``emulator`` (with its
    ``faults`` and ``calls`` objects).  Cleanup stops the emulator and
    fails if loop devices or device links were left behind.
    """

    def __init__(self, *, in_process: bool = False,
                 device_mode: str = 'auto', client_id: int = 1,
                 templates: typing.Any = None,
                 volume_prefix: str = 'os',
                 iscsi_target: str = 'auto',
                 extra_clients: typing.Sequence[int] = ()) -> None:
        super().__init__()
        self.iscsi_target = iscsi_target
        self.extra_clients = [int(c) for c in extra_clients]
        self.in_process = in_process
        self.requested_mode = device_mode
        self.client_id = int(client_id)
        self.templates = templates
        self.volume_prefix = volume_prefix
        self.cluster = None
        self.emulator: service.Emulator | None = None
        self.process: subprocess.Popen | None = None

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
        self.client_dev_dirs = {self.client_id: self.dev_dir}
        for cid in self.extra_clients:
            self.client_dev_dirs[cid] = os.path.join(
                tmp, f'dev-client{cid}')
            os.makedirs(self.client_dev_dirs[cid])
        self.token = service.new_token()
        self.addCleanup(self._check_leftovers)
        if self.in_process:
            self._start_in_process()
        else:
            self._start_subprocess()
        self.url = f'http://{self.host}:{self.port}'
        self.config = process.write_client_config(
            self.conf_path, self.host, self.port, self.token,
            self.client_id, self.volume_prefix)
        self.control = control.ControlClient(self.url, self.token)

    def _start_in_process(self) -> None:
        emu = service.Emulator(
            self.state_dir, port=0, dev_dir=self.dev_dir, token=self.token,
            client_id=self.client_id, device_mode=self.requested_mode,
            templates=self.templates, volume_prefix=self.volume_prefix,
            iscsi_target=self.iscsi_target,
            extra_clients={c: self.client_dev_dirs[c]
                           for c in self.extra_clients})
        self.emulator = emu
        self.addCleanup(emu.stop)
        emu.start()
        self.host = emu.host
        self.port = emu.port
        self.device_mode = emu.device_mode
        self.cluster = emu.cluster

    def _start_subprocess(self) -> None:
        runner = process.EmulatorProcess(
            self.base_dir, device_mode=self.requested_mode,
            client_id=self.client_id, volume_prefix=self.volume_prefix,
            iscsi_target=self.iscsi_target,
            extra_clients={c: self.client_dev_dirs[c]
                           for c in self.extra_clients},
            templates=(None if self.templates is None
                       else self._templates_arg()))
        runner.token = self.token
        self.addCleanup(runner.stop)
        runner.start()
        self.process = runner.process
        self.host = runner.host
        self.port = runner.port
        self.device_mode = runner.device_mode

    def leftovers(self) -> list[str]:
        """Loop devices and device links this emulator left behind."""
        found = process.leftovers(self.state_dir, self.dev_dir)
        for cid in self.extra_clients:
            found.extend(process.leftovers(self.state_dir,
                                           self.client_dev_dirs[cid]))
        return sorted(set(found))

    def _check_leftovers(self) -> None:
        found = self.leftovers()
        if not found:
            return
        for item in found:
            if item.startswith('/dev/loop'):
                subprocess.run(['losetup', '-d', item.split()[0]],
                               check=False)
        raise AssertionError('storpool-emulator left devices behind: '
                             + ', '.join(found))
