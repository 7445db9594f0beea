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

"""Shared helpers for the emulator's own tests."""

import os

from oslotest import base

from storpool_openstack.emulator import devices
from storpool_openstack.emulator import fixture
from tests import root_guard

GiB = 1 << 30
MiB = 1 << 20


def loop_skip_reason() -> str:
    """Why loop mode cannot run here ('' when it can)."""
    ok, why = devices.loop_supported()
    return '' if ok else why


class TestCase(base.BaseTestCase):
    """Starts an emulator; subclasses pick the mode via class attributes."""

    in_process = True
    device_mode = 'file'

    def setUp(self) -> None:
        super().setUp()
        if self.device_mode == 'loop':
            root_guard.skip_unless_root(self, 'loop device mode')
            reason = loop_skip_reason()
            if reason:
                self.skipTest('loop device mode unavailable here: %s' %
                              reason)
        self.emu = self.useFixture(fixture.EmulatorFixture(
            in_process=self.in_process, device_mode=self.device_mode))
        if self.device_mode != 'auto':
            self.assertEqual(self.device_mode, self.emu.device_mode)

    def dev_path(self, name: str) -> str:
        return os.path.join(self.emu.dev_dir, 'storpool', name)

    def byid_path(self, global_id: str) -> str:
        return os.path.join(self.emu.dev_dir, 'storpool-byid', global_id)
