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
"""The real cinder-backup service next to the API, scheduler and volume.

Cinder's backup manager runs in this process with the posix backup driver
writing into a temporary directory. It attaches through os-brick's
connector factory; its ``STORPOOL`` entry points at this package's
connector, as ``storpool-openstack patch-os-brick`` makes it do on a host
(the file edit itself is tested on a copy of the installed os-brick's
``connector.py`` in tests/unit/brick/test_os_brick_patch.py). The
connector reads its ``[storpool]`` options: the emulator's config, device
directory and the attach-state file the driver uses too.
"""

import json
import os
import time
from unittest import mock

# Imported for its options (backup_posix_path, backup_file_size).
from cinder.backup.drivers import posix  # noqa: F401
from cinder import context as cinder_context
from cinder.tests.functional.api import client
import fixtures
from os_brick.initiator import connector as brick_factory
from oslo_config import cfg

from storpool_openstack.brick import connector as sp_connector
from storpool_openstack.brick import options as brick_options
from storpool_openstack.common import config as sp_config
from tests.functional import base

CONF = cfg.CONF
MiB = 1024 * 1024
OUR_CONNECTOR = 'storpool_openstack.brick.connector.StorPoolConnector'


class BackupTestBase(base.StorPoolFunctionalTestBase):
    """StorPoolDriver, the backup service and the emulator."""

    use_temp_snapshot = False

    def _get_flags(self):
        flags = super()._get_flags()
        self.backup_dir = self.useFixture(fixtures.TempDir()).path
        self.attach_state_file = os.path.join(self.state_dir,
                                              'attach-state.json')
        flags['backup_driver'] = {
            'v': 'cinder.backup.drivers.posix.PosixBackupDriver'}
        flags['backup_posix_path'] = {'v': self.backup_dir}
        # Many small chunks: incremental backups and a cancel mid-way.
        flags['backup_file_size'] = {'v': 32 * MiB}
        flags['backup_sha_block_size_bytes'] = {'v': MiB}
        flags['backup_compression_algorithm'] = {'v': 'zstd'}
        # A backup of a 1 GiB volume keeps this process busy for a while:
        # the volume service must not look dead to the scheduler after it.
        flags['service_down_time'] = {'v': 600}
        flags['backup_use_temp_snapshot'] = {'v': self.use_temp_snapshot}
        brick_options.register_opts(CONF)
        for key, value in (('config_file', self.emulator.conf_path),
                           ('dev_root', self.emulator.dev_dir),
                           ('attach_state_file', self.attach_state_file),
                           ('api_retries', 0)):
            flags[key] = {'v': value, 'g': brick_options.GROUP}
        return flags

    def setUp(self):
        super().setUp()
        # What the os-brick patch writes into os_brick's connector.py.
        patcher = mock.patch.dict(brick_factory._connector_mapping_linux,
                                  {'STORPOOL': OUR_CONNECTOR})
        patcher.start()
        self.addCleanup(patcher.stop)
        # nova-compute deletes its attachments with a service token, which
        # Cinder then trusts (bug 2004555); there is no Keystone or Nova
        # here to ask, so every request counts as the service's.
        from cinder.volume import api as volume_api
        self.mock_object(volume_api.API, 'is_service_request',
                         lambda *a, **k: True)
        # As cinder/cmd/backup.py starts it.
        self.backup = self.start_service('backup', service_name='backup')
        # The scheduler picks a backup host among those that reported
        # (a periodic task): report now.
        self.backup.manager.publish_service_capabilities(
            cinder_context.get_admin_context())
        states = self.scheduler.manager.driver.host_manager.\
            backup_service_states
        deadline = time.monotonic() + 30
        while not states:
            if time.monotonic() > deadline:
                raise AssertionError('the backup service did not report')
            time.sleep(0.05)

    # A local user of a volume (for writing test data)

    def local_connector(self) -> sp_connector.StorPoolConnector:
        return sp_connector.StorPoolConnector(
            None, storpool_config=sp_config.load(
                override_config=self.emulator.config),
            dev_root=self.emulator.dev_dir,
            attach_state_file=self.attach_state_file, device_timeout=10)

    def write_volume(self, volume_id: str, data: bytes,
                     offset: int = 0) -> None:
        """Write through the connector, as a host user would."""
        conn = self.local_connector()
        props = {'volume': volume_id, 'storpool_attach_type': 'test'}
        dev = conn.connect_volume(props)
        try:
            fd = os.open(dev['path'], os.O_WRONLY)
            try:
                os.pwrite(fd, data, offset)
                os.fsync(fd)
            finally:
                os.close(fd)
        finally:
            conn.disconnect_volume(props, dev)

    def volume_bytes(self, volume_id: str, length: int,
                     offset: int = 0) -> bytes:
        name = self.vol_name(volume_id)
        out = b''
        while len(out) < length:
            piece = min(MiB, length - len(out))
            out += self.control.read(name, offset=offset + len(out),
                                     length=piece)
        return out

    def attach_state(self) -> dict:
        try:
            with open(self.attach_state_file) as src:
                return json.load(src)
        except FileNotFoundError:
            return {}

    def post(self, uri: str, body: dict) -> dict:
        try:
            return self.api.api_post(uri, body)
        except client.OpenStackApiException as exc:
            self.fail(f'POST {uri} {body}: {exc.response.text}')

    # Backups through REST

    def create_backup(self, volume_id: str, *, wait: bool = True,
                      status: str = 'available', **kwargs) -> dict:
        body = {'volume_id': volume_id}
        body.update(kwargs)
        backup = self.post('/backups', {'backup': body})['backup']
        if wait:
            backup = self.wait_backup(backup['id'], status=status)
        return backup

    def get_backup(self, backup_id: str) -> dict:
        return self.api.api_get(f'/backups/{backup_id}')['backup']

    def wait_backup(self, backup_id: str, *, status: str = 'available',
                    timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            backup = self.get_backup(backup_id)
            if backup['status'] == status:
                return backup
            if (backup['status'] == 'error' or
                    time.monotonic() > deadline):
                self.fail(f'backup {backup_id}: {backup["status"]} '
                          f'({backup.get("fail_reason")}), expected '
                          f'{status}; problems logged: {self.problems()}')
            # Not faster: each poll is served by this busy process.
            time.sleep(0.5)

    def restore_backup(self, backup_id: str,
                       volume_id: str | None = None) -> str:
        body = {'restore': {'volume_id': volume_id} if volume_id else {}}
        restored = self.post(f'/backups/{backup_id}/restore',
                             body)['restore']
        self.wait_backup(backup_id)
        self.wait_volume(restored['volume_id'])
        return restored['volume_id']

    def delete_backup(self, backup_id: str, *, force: bool = False,
                      timeout: float = 600) -> None:
        if force:
            self.post(f'/backups/{backup_id}/action',
                      {'os-force_delete': {}})
        else:
            self.api.api_delete(f'/backups/{backup_id}')
        deadline = time.monotonic() + timeout
        while True:
            try:
                backup = self.get_backup(backup_id)
            except client.OpenStackApiException404:
                return
            if backup['status'] == 'error_deleting' or \
                    time.monotonic() > deadline:
                self.fail(f'backup {backup_id} not deleted: '
                          f'{backup["status"]}')
            time.sleep(0.1)

    # Attachments through REST (an instance's volume)

    def attach_to_instance(self, volume_id: str, instance: str) -> dict:
        """Cinder's attachment for an instance; its connection_info."""
        connector = self.driver._local_connector_properties()
        att = self.post('/attachments', {'attachment': {
            'volume_uuid': volume_id, 'instance_uuid': instance,
            'connector': connector}})['attachment']
        self.api.api_request(
            f'/attachments/{att["id"]}/action', method='POST',
            body=client.jsonutils.dumps({'os-complete': {}}),
            check_response_status=[204])
        self.wait_volume(volume_id, status='in-use')
        return att

    def detach_from_instance(self, attachment_id: str,
                             volume_id: str) -> None:
        self.api.api_delete(f'/attachments/{attachment_id}')
        self.wait_volume(volume_id)

    def assert_no_temporary_objects(self, keep_volumes=(), keep_snaps=(),
                                    timeout: float = 60):
        """Only the test's own volumes and snapshots are in StorPool.

        Within `timeout`: the backup service deletes its temporary volume
        or snapshot after the backup's status has already changed (a
        cancelled backup's clean-up runs on its own).
        """
        want = (sorted(self.vol_name(v) for v in keep_volumes),
                sorted(self.snap_name(s) for s in keep_snaps))
        deadline = time.monotonic() + timeout
        while True:
            have = (sorted(self.emu_volumes()), sorted(self.emu_snapshots()))
            if have == want or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(want[0], have[0])
        self.assertEqual(want[1], have[1])
