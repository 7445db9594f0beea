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
"""Helpers for the `storpool-openstack` command tests."""

import io
import os
import shutil
import subprocess
import sys

import fixtures
import testtools

from storpool_openstack.cmd import storpool_openstack as cli
from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config
from storpool_openstack.emulator import fixture as emu_fixture
from storpool_openstack.ops import output


_PATCHED_NOVA: bytes | None = None


class Result:
    def __init__(self, code: int, out: str, err: str):
        self.code = code
        self.out = out
        self.err = err

    def __repr__(self):
        return f'<exit {self.code}\n{self.out}\n{self.err}>'


class CLITestCase(testtools.TestCase):
    """Runs the real CLI in-process; no output may contain the token."""

    def setUp(self):
        super().setUp()
        self.outputs: list[str] = []
        self.secrets: list[str] = []
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.addCleanup(self._assert_no_secret_printed)
        # The CLI reads these as the services do; a test sets them itself.
        for var in ('SP_AUTH_TOKEN', 'SP_API_HTTP_HOST', 'SP_API_HTTP_PORT'):
            self.useFixture(fixtures.EnvironmentVariable(var))

    def _assert_no_secret_printed(self):
        for secret in self.secrets:
            for text in self.outputs:
                self.assertNotIn(secret, text,
                                 'a secret was printed by the command')

    def run_cli(self, *argv: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(list(argv), console=output.Console(out, err))
        self.outputs += [out.getvalue(), err.getvalue()]
        return Result(code, out.getvalue(), err.getvalue())

    def start_emulator(self, **kwargs) -> emu_fixture.EmulatorFixture:
        kwargs.setdefault('in_process', True)
        kwargs.setdefault('device_mode', 'file')
        emu = self.useFixture(emu_fixture.EmulatorFixture(**kwargs))
        self.secrets.append(emu.token)
        return emu

    def start_cluster(self) -> None:
        """`emu`, its volume `prefix` and an `api` to it with no retries.

        No retries: a test sees the first answer.
        """
        self.emu = self.start_emulator()
        self.prefix = self.emu.volume_prefix
        self.api = sp_api.StorPoolAPI(
            config.load(override_config=self.emu.config), retries=0)

    def write(self, name: str, text: str, mode: int = 0o644) -> str:
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as fobj:
            fobj.write(text)
        os.chmod(path, mode)
        return path

    def nova_driver_copy(self, patched: bool) -> str:
        """A temp copy of the installed Nova's driver.py, maybe patched."""
        global _PATCHED_NOVA
        import nova
        src = os.path.join(os.path.dirname(nova.__file__), 'virt',
                           'libvirt', 'driver.py')
        dst_dir = os.path.join(self.tmp, 'nova', 'virt', 'libvirt')
        os.makedirs(dst_dir, exist_ok=True)
        dst = os.path.join(dst_dir, 'driver.py')
        shutil.copy(src, dst)
        if patched:
            if _PATCHED_NOVA is None:
                # Patched once per process by the real tool, then reused.
                subprocess.run(
                    [sys.executable, '-m',
                     'storpool_openstack.cmd.add_storpool_nova_driver',
                     '--file', dst, '--skip-import-check', '--quiet'],
                    check=True, capture_output=True)
                with open(dst, 'rb') as fobj:
                    _PATCHED_NOVA = fobj.read()
            with open(dst, 'wb') as fobj:
                fobj.write(_PATCHED_NOVA)
        return dst
