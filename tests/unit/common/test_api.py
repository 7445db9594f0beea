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
"""The StorPool API client, over real HTTP to the emulator."""

import socket

import ddt
import testtools

from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config
from storpool_openstack.common import exception
from storpool_openstack.emulator import fixture as emu_fixture

GiB = 1024 ** 3


@ddt.ddt
class APITestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.emu = self.useFixture(emu_fixture.EmulatorFixture(
            device_mode='file'))
        self.cfg = config.load(override_config=self.emu.config)
        self.api = sp_api.StorPoolAPI(self.cfg, retries=0)

    def test_volume_round_trip_uses_multicluster_paths(self):
        self.api.volume_create({'name': 'os--volume-a', 'size': GiB,
                                'replication': 2})
        self.assertEqual(GiB, self.api.volume('os--volume-a')['size'])
        self.api.volume_update('os--volume-a', {'sizeAdd': GiB})
        self.assertEqual(2 * GiB,
                         self.api.volume_info('os--volume-a')['size'])
        self.api.snapshot_create('os--volume-a', {'name': 'os--snap-x'})
        self.assertEqual('os--volume-a',
                         self.api.snapshot('os--snap-x')['onVolume'])
        self.api.volume_revert('os--volume-a', 'os--snap-x')
        self.assertEqual(2 * GiB, self.api.volume('os--volume-a')['size'])
        self.api.volume_update('os--volume-a', {'size': 3 * GiB})
        self.api.volume_revert('os--volume-a', 'os--snap-x')
        self.assertEqual(2 * GiB, self.api.volume('os--volume-a')['size'])
        revert = self.emu.control.calls('VolumeRevert')[-1]
        self.assertEqual(['os--volume-a'], revert['args'])
        self.assertEqual({'toSnapshot': 'os--snap-x'}, revert['body'])
        self.api.volume_delete('os--volume-a')
        self.api.snapshot_delete('os--snap-x')
        self.assertEqual([], self.api.volumes_list())
        self.assertEqual([], self.api.snapshots_list())
        paths = [call['path'] for call in self.emu.control.calls()]
        self.assertIn('/ctrl/1.0/MultiCluster/VolumeCreate', paths)
        self.assertIn('/ctrl/1.0/MultiCluster/VolumeRevert/os--volume-a',
                      paths)

    def test_plain_paths_when_not_multicluster(self):
        api = sp_api.StorPoolAPI(self.cfg, retries=0, multicluster=False)
        api.volumes_list()
        self.assertEqual(['/ctrl/1.0/VolumesList'],
                         [call['path'] for call in self.emu.control.calls()])

    @ddt.data(
        ('volume_delete', ('os--volume-none',), exception.NotFound,
         'objectDoesNotExist'),
        ('volume', ('os--volume-none',), exception.NotFound,
         'objectDoesNotExist'),
        ('snapshot_delete', ('os--snap-none',), exception.NotFound,
         'objectDoesNotExist'),
    )
    @ddt.unpack
    def test_not_found(self, method, args, cls, name):
        exc = self.assertRaises(cls, getattr(self.api, method), *args)
        self.assertEqual(name, exc.name)
        self.assertIn(args[0], str(exc))

    def test_exists(self):
        self.api.volume_create({'name': 'os--volume-a', 'size': GiB})
        exc = self.assertRaises(exception.AlreadyExists,
                                self.api.volume_create,
                                {'name': 'os--volume-a', 'size': GiB})
        self.assertEqual('objectExists', exc.name)
        self.assertEqual('volumeCreate', exc.call)

    def test_busy_is_classified(self):
        self.emu.control.add_fault(
            'VolumesReassignWait', name='busy', transient=False,
            descr="'os--volume-a' is open at client 1")
        exc = self.assertRaises(exception.Busy,
                                self.api.volumes_reassign_wait,
                                [{'volume': 'os--volume-a', 'detach': [1]}])
        self.assertIn('is open at client 1', str(exc))

    def test_client_side_validation_sends_nothing(self):
        exc = self.assertRaises(exception.InvalidParam,
                                self.api.volume_create,
                                {'name': 'bad name', 'size': 1000})
        self.assertEqual('volumeCreate', exc.call)
        self.assertEqual([], self.emu.control.calls())

    def test_server_side_invalid_param(self):
        self.api.volume_create({'name': 'os--volume-a', 'size': 2 * GiB})
        exc = self.assertRaises(exception.InvalidParam,
                                self.api.volume_update, 'os--volume-a',
                                {'size': GiB})
        self.assertEqual('invalidParam', exc.name)

    def test_transient_error_retried_then_succeeds(self):
        api = sp_api.StorPoolAPI(self.cfg, retries=3, retry_delay=0)
        self.emu.control.add_fault('VolumesList', name='busy',
                                   transient=True, times=2)
        self.assertEqual([], api.volumes_list())
        self.assertEqual(3, len(self.emu.control.calls('VolumesList')))

    def test_transient_error_after_retries(self):
        api = sp_api.StorPoolAPI(self.cfg, retries=2, retry_delay=0)
        self.emu.control.add_fault('VolumesList', name='busy',
                                   transient=True, times=None)
        exc = self.assertRaises(exception.TransientError, api.volumes_list)
        self.assertTrue(exc.transient)
        self.assertEqual(3, len(self.emu.control.calls('VolumesList')))

    def test_wrong_token_is_an_api_error_without_the_token(self):
        bad = config.load(override_config=dict(
            self.emu.config, SP_AUTH_TOKEN='wrong-token-123'))
        exc = self.assertRaises(exception.APIError,
                                sp_api.StorPoolAPI(bad, retries=0)
                                .volumes_list)
        self.assertNotIn('wrong-token-123', str(exc))
        self.assertNotIn(self.emu.token, str(exc))

    def test_unreachable_api_fails_fast_with_endpoint(self):
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            port = sock.getsockname()[1]
        cfg = config.load(override_config=dict(
            self.emu.config, SP_API_HTTP_PORT=str(port)))
        exc = self.assertRaises(exception.APIConnectionError,
                                sp_api.StorPoolAPI(cfg, retries=0)
                                .volumes_list)
        self.assertIn(f'127.0.0.1:{port}', str(exc))
        self.assertNotIn(self.emu.token, str(exc))
        self.assertNotIn(self.emu.token, repr(sp_api.StorPoolAPI(cfg)))
