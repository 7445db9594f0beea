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
"""Shared set-up: a temporary attach-state file and a StorPool emulator."""

import os

import fixtures
from oslotest import base

from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config as sp_config
from storpool_openstack.emulator import fixture as emu_fixture

GiB = 1 << 30


def side_pending(side_path: str) -> bool:
    """Whether a side copy holds an update in flight (non-empty)."""
    return os.path.exists(side_path) and os.path.getsize(side_path) > 0


class FileTestCase(base.BaseTestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.dir, 'openstack-attach.json')

    def raw(self) -> bytes:
        with open(self.path, 'rb') as f:
            return f.read()


class EmulatorTestCase(FileTestCase):
    """An in-process emulator with file devices (no loop devices used)."""

    def setUp(self):
        super().setUp()
        self.emu = self.useFixture(emu_fixture.EmulatorFixture(
            in_process=True, device_mode='file'))
        self.our_id = self.emu.client_id
        self.prefix = self.emu.volume_prefix
        self.api = sp_api.StorPoolAPI(
            sp_config.load(override_config=self.emu.config), retries=0,
            retry_delay=0, timeout=30)

    def create_volume(self, name: str) -> None:
        self.api.volume_create({'name': name, 'size': GiB,
                                'template': 'hybrid'})

    def attachments(self) -> dict[str, str]:
        """volume name -> rights, for our client, as StorPool has them."""
        return {a['volume']: a['rights'] for a in self.api.attachments_list()
                if a['client'] == self.our_id}
