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
"""A StorPool emulator, an API client and a connector for one test.

The emulator runs in a subprocess (the Nova tests run monkey-patched), on
real loop block devices where this host allows it, else on plain files.
"""

import json
import os

import fixtures

from storpool_openstack.brick import connector
from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config as sp_config
from storpool_openstack.emulator import fixture as emu_fixture

MiB = 1 << 20


class StorPoolConnectorFixture(fixtures.Fixture):
    """Emulator + config + API client + attach-state path + connector."""

    def __init__(self, **connector_kwargs):
        super().__init__()
        self.connector_kwargs = connector_kwargs

    def _setUp(self):
        self.emu = self.useFixture(emu_fixture.EmulatorFixture())
        self.config = sp_config.load(override_config=self.emu.config)
        self.api = sp_api.StorPoolAPI(self.config, retries=0,
                                      retry_delay=0, timeout=30)
        self.state_dir = self.useFixture(fixtures.TempDir()).path
        self.state_file = os.path.join(self.state_dir, 'attach.json')
        self.connector = self.make_connector(**self.connector_kwargs)
        # Nothing may stay attached after a test: detach by force what a
        # failed test left, so that the emulator's leftover check passes
        # and no loop device leaks.
        self.addCleanup(self._detach_all)

    def make_connector(self, **kwargs):
        args = dict(storpool_config=self.config, api=self.api,
                    dev_root=self.emu.dev_dir,
                    attach_state_file=self.state_file, device_timeout=5,
                    detach_busy_retries=3)
        args.update(kwargs)
        return connector.StorPoolConnector(None, **args)

    def _detach_all(self):
        try:
            atts = self.api.attachments_list()
        except Exception:  # noqa: the emulator may be gone already
            return
        items = [{'snapshot' if a['snapshot'] else 'volume': a['volume'],
                  'detach': 'all', 'force': True} for a in atts]
        if items:
            self.api.volumes_reassign(items)

    # Helpers for the tests

    @property
    def our_id(self):
        return self.emu.client_id

    def create_volume(self, volume_id, size=MiB):
        name = f'{self.emu.volume_prefix}--volume-{volume_id}'
        self.api.volume_create({'name': name, 'size': size,
                                'replication': 3})
        return name

    def dev_path(self, name):
        return os.path.join(self.emu.dev_dir, 'storpool', name)

    def byid_path(self, global_id):
        return os.path.join(self.emu.dev_dir, 'storpool-byid', global_id)

    def state(self):
        """The attach-state file's entries, read raw (not through code)."""
        try:
            with open(self.state_file, encoding='utf-8') as fobj:
                return json.load(fobj)
        except FileNotFoundError:
            return {}

    def attachments(self, name=None):
        """{(name, client): rights} as the emulator has them."""
        return {(a['volume'], a['client']): a['rights']
                for a in self.emu.control.state()['attachments']
                if name is None or a['volume'] == name}

    def reassign_calls(self):
        """The bodies of the VolumesReassignWait calls so far."""
        return [c['body'] for c in
                self.emu.control.calls('VolumesReassignWait')]
