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
"""The StorPool driver inside real Cinder services, against the emulator.

`harness.StorPoolServicesBase` starts
Cinder's real REST API, scheduler and volume service in this process. The
StorPool emulator runs in a subprocess (this process is eventlet
monkey-patched) and the driver finds it through a storpool.conf of its
own. Glance cannot run here; a file-backed image service stands in.
"""

import logging as std_logging
import os
import sys
import time

import fixtures

from cinder.tests.functional.api import client

from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config as sp_config
from storpool_openstack.emulator import fixture as emu_fixture
from tests.functional import harness

DEFAULT_TYPE = 'storpool-default'
GiB = 1024 ** 3


class _CollectingHandler(std_logging.Handler):
    """Keeps every formatted log line (DEBUG too) for the token scans."""

    def __init__(self):
        super().__init__(level=std_logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(std_logging.Formatter(
            '%(levelname)s [%(name)s] %(message)s'))

    def emit(self, record):
        try:
            self.lines.append(self.format(record))
        except Exception:  # a bad log call must not break the test
            self.lines.append(repr(record.msg))


class StorPoolFunctionalTestBase(harness.StorPoolServicesBase):
    """Real Cinder services + StorPoolDriver + the emulator."""

    emulator_templates = None
    # More EmulatorFixture arguments (e.g. extra_clients).
    emulator_options: dict = {}
    driver_options: dict = {}

    def setUp(self):
        super().setUp()
        self.default_type = self.api.create_type(DEFAULT_TYPE)
        self.use_driver_connector_properties()
        # Checked last: nothing secret in what the test logged.
        self.addCleanup(self.assert_no_token_in_output)

    def _get_flags(self):
        # Runs inside setUp before the services start: the emulator must be
        # up before the volume service initializes the driver.
        self.log_handler = _CollectingHandler()
        self.useFixture(fixtures.LogHandler(self.log_handler,
                                            nuke_handlers=False))
        # Create the DEBUG records too (StandardLogging keeps the root at
        # INFO), so that the token scan sees what a debug log would.
        root = std_logging.getLogger()
        self.addCleanup(root.setLevel, root.level)
        root.setLevel(std_logging.DEBUG)
        self.emulator = self.useFixture(emu_fixture.EmulatorFixture(
            templates=self.emulator_templates, **self.emulator_options))
        self.state_dir = self.useFixture(fixtures.TempDir()).path
        self.sp_api = sp_api.StorPoolAPI(
            sp_config.load(override_config=self.emulator.config),
            retries=0, retry_delay=0)
        flags = super()._get_flags()
        self.glance = self.storpool_flags(
            flags, self.emulator, self.state_dir,
            attach_state_file=os.path.join(self.state_dir,
                                           'attach-state.json'),
            options=self.driver_options)
        flags['default_volume_type'] = {'v': DEFAULT_TYPE}
        return flags

    @property
    def driver(self):
        """The StorPoolDriver instance inside the volume service."""
        return self.volume.manager.driver

    # The emulator

    @property
    def control(self):
        return self.emulator.control

    def emu_calls(self) -> list[dict]:
        """The emulator's call log (every API request, in order)."""
        return self.control.calls()

    def emu_call_names(self, since: int = 0) -> list[str]:
        return [c.get('query') for c in self.emu_calls()[since:]]

    def emu_mark(self) -> int:
        """A position in the call log; pass it to emu_call_names()."""
        return len(self.emu_calls())

    def emu_volumes(self) -> dict[str, dict]:
        return {v['name']: v for v in self.sp_api.volumes_list()}

    def emu_snapshots(self) -> dict[str, dict]:
        return {s['name']: s for s in self.sp_api.snapshots_list()}

    def emu_attachments(self) -> list[dict]:
        return self.sp_api.attachments_list()

    def vol_name(self, volume_id: str) -> str:
        return f'{self.emulator.volume_prefix}--volume-{volume_id}'

    def snap_name(self, snapshot_id: str) -> str:
        return (f'{self.emulator.volume_prefix}--snap--none--snapshot-'
                f'{snapshot_id}')

    def assert_emulator_empty(self, *, image_cache_ok: bool = False):
        """Nothing leaked: no volumes, snapshots or attachments remain."""
        volumes = self.emu_volumes()
        snapshots = {
            name: snap for name, snap in self.emu_snapshots().items()
            if not (image_cache_ok and 'image' in (snap.get('tags') or {}))}
        self.assertEqual({}, volumes)
        self.assertEqual({}, snapshots)
        self.assertEqual([], self.emu_attachments())

    def problems(self) -> str:
        """The WARNING and ERROR lines logged so far (for failures)."""
        return '\n'.join(line[:2000] for line in self.log_handler.lines
                         if line.startswith(('WARNING', 'ERROR')))

    def assert_no_token_in_output(self):
        token = self.emulator.token
        self.assertIsNotNone(token)
        leaks = [line for line in self.log_handler.lines if token in line]
        for name in ('stdout', 'stderr'):
            stream = getattr(sys, name)
            value = getattr(stream, 'getvalue', lambda: '')()
            if isinstance(value, bytes):
                value = value.decode('utf-8', 'replace')
            if token in value:
                leaks.append(f'<{name}>')
        self.assertEqual([], leaks, 'the StorPool API token was logged')

    # REST helpers

    def action(self, volume_id: str, body: dict, status=(202,)):
        return self.api.api_request(
            f'/volumes/{volume_id}/action', method='POST',
            body=client.jsonutils.dumps(body),
            check_response_status=list(status))

    def create_volume(self, size: int = 1, *, wait=True, **kwargs) -> dict:
        body = {'size': size}
        body.update(kwargs)
        try:
            vol = self.api.post_volume({'volume': body})
        except client.OpenStackApiException as exc:
            self.fail(f'POST /volumes {body}: {exc.response.text}')
        if wait:
            vol = self.wait_volume(vol['id'])
        return vol

    def wait_volume(self, volume_id: str, *, status: str = 'available',
                    timeout: float = 60, field: str = 'status') -> dict:
        """Poll until the volume leaves the transitional states."""
        deadline = time.monotonic() + timeout
        while True:
            vol = self.api.get_volume(volume_id)
            value = vol[field]
            if value == status:
                return vol
            if value in ('error', 'error_deleting', 'error_extending',
                         'error_managing') or time.monotonic() > deadline:
                self.fail(f'volume {volume_id}: {field} is {value!r}, '
                          f'expected {status!r}; problems logged: '
                          f'{self.problems()}')
            time.sleep(0.1)

    def delete_volume(self, volume_id: str, timeout: float = 60):
        self.api.delete_volume(volume_id)
        self.wait_volume_gone(volume_id, timeout)

    def wait_volume_gone(self, volume_id: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                vol = self.api.get_volume(volume_id)
            except client.OpenStackApiException404:
                return
            if vol['status'] == 'error_deleting' or \
                    time.monotonic() > deadline:
                self.fail(f'volume {volume_id} not deleted: {vol["status"]}')
            time.sleep(0.1)

    def create_snapshot(self, volume_id: str, **kwargs) -> dict:
        body = {'volume_id': volume_id}
        body.update(kwargs)
        snap = self.api.post_snapshot({'snapshot': body})
        return self.wait_snapshot(snap['id'])

    def wait_snapshot(self, snapshot_id: str, status='available',
                      timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            snap = self.api.get_snapshot(snapshot_id)
            if snap['status'] == status:
                return snap
            if snap['status'].startswith('error') or \
                    time.monotonic() > deadline:
                self.fail(f'snapshot {snapshot_id}: {snap["status"]}')
            time.sleep(0.1)

    def delete_snapshot(self, snapshot_id: str, timeout: float = 60):
        self.api.delete_snapshot(snapshot_id)
        deadline = time.monotonic() + timeout
        while True:
            try:
                snap = self.api.get_snapshot(snapshot_id)
            except client.OpenStackApiException404:
                return
            if snap['status'] == 'error_deleting' or \
                    time.monotonic() > deadline:
                self.fail(f'snapshot {snapshot_id} not deleted')
            time.sleep(0.1)

    def create_type(self, name: str, extra_specs: dict | None = None):
        # (The functional client puts extra_specs outside volume_type.)
        body = {'name': name}
        if extra_specs:
            body['extra_specs'] = extra_specs
        return self.api.api_post('/types',
                                 {'volume_type': body})['volume_type']
