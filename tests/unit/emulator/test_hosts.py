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
"""A second local client (a second host) and the lost-device fault."""

import os

from oslotest import base as oslo_base

from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config as sp_config
from storpool_openstack.common import exception as sp_exception
from storpool_openstack.emulator import fixture as emu_fixture

MiB = 1024 * 1024


class LocalClientsTestCase(oslo_base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.emu = self.useFixture(emu_fixture.EmulatorFixture(
            extra_clients=[2]))
        self.api = sp_api.StorPoolAPI(
            sp_config.load(override_config=self.emu.config), retries=0,
            retry_delay=0)
        self.api.volume_create({'name': 'v', 'size': MiB})

    def dev(self, client):
        return os.path.join(self.emu.client_dev_dirs[client], 'storpool',
                            'v')

    def reassign(self, **item):
        item['volume'] = 'v'
        self.api.volumes_reassign_wait([item])

    def test_each_client_has_its_own_devices(self):
        self.reassign(rw=[1])
        self.reassign(ro=[2])

        self.assertTrue(os.path.exists(self.dev(1)))
        self.assertTrue(os.path.exists(self.dev(2)))
        self.assertNotEqual(os.path.realpath(self.dev(1)),
                            os.path.realpath(self.dev(2)))
        self.assertEqual([(1, 'rw'), (2, 'ro')], sorted(
            (a['client'], a['rights']) for a in self.api.attachments_list()))
        info = self.emu.control.info()
        self.assertEqual({'1', '2'}, set(info['localClients']))

        self.reassign(detach=[1])

        self.assertFalse(os.path.exists(self.dev(1)))
        self.assertTrue(os.path.exists(self.dev(2)))
        self.reassign(detach=[2])
        self.assertFalse(os.path.exists(self.dev(2)))

    def test_an_open_device_is_busy_on_its_own_client_only(self):
        self.reassign(rw=[1])
        self.reassign(rw=[2])
        with open(self.dev(2), 'rb'):
            err = self.assertRaises(sp_exception.StorPoolError,
                                    self.reassign, detach=[2])
            self.assertIn('open at client 2', str(err))
            self.reassign(detach=[1])
        self.reassign(detach=[2])
        self.assertEqual([], self.api.attachments_list())

    def test_lost_devices(self):
        self.emu.control.lose_devices(1)

        self.reassign(rw=[1])

        # Attached in StorPool, but the host's device never appears.
        self.assertEqual([1], [a['client']
                               for a in self.api.attachments_list()])
        self.assertFalse(os.path.exists(self.dev(1)))
        self.reassign(detach=[1])
        # One only: the next attach makes its device again.
        self.reassign(rw=[1])
        self.assertTrue(os.path.exists(self.dev(1)))
        self.reassign(detach=[1])

    def test_lost_devices_until_cleared(self):
        self.emu.control.lose_devices(None)
        self.reassign(rw=[1])
        self.reassign(detach=[1])
        self.reassign(rw=[2])
        self.assertFalse(os.path.exists(self.dev(2)))
        self.reassign(detach=[2])

        self.emu.control.clear_faults()

        self.reassign(rw=[1])
        self.assertTrue(os.path.exists(self.dev(1)))
        self.reassign(detach=[1])

    def test_extra_client_command_line_is_checked(self):
        from storpool_openstack.emulator import cli as emu_cmd

        for bad in ('2', 'x:/tmp', '1:/tmp', '5000:/tmp', '2:'):
            self.assertRaises(SystemExit, emu_cmd.parse_args,
                              ['--extra-client', bad])
        args = emu_cmd.parse_args(['--extra-client', '2:/tmp/d2',
                                   '--extra-client', '3:/tmp/d3'])
        self.assertEqual({2: '/tmp/d2', 3: '/tmp/d3'}, args.extra_clients)
