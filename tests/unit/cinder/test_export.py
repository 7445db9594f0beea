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
"""Snapshot attachments: the connection info and the connector's attach."""

import json
import os

from cinder import exception
import fixtures

from storpool_openstack.cinder import capabilities
from tests.unit.cinder import base


class SnapshotExportTestCase(base.DriverTestCase):

    def test_snapshot_attaches_read_only_and_is_recorded(self):
        state = os.path.join(self.useFixture(fixtures.TempDir()).path,
                             'attach.json')
        drv = self.make_driver(storpool_dev_root=self.emu.dev_dir,
                               storpool_attach_state_file=state)
        vol = self.volume()
        drv.create_volume(vol)
        snap = self.snapshot(vol)
        drv.create_snapshot(snap)
        connector = {'host': 'h1', 'storpool_client_id': self.emu.client_id}
        self.assertIsNone(drv.create_export_snapshot(self.ctxt, snap,
                                                     connector))
        self.clear_calls()
        conn = drv.initialize_connection_snapshot(snap, connector)
        self.assertEqual([], self.queries())
        self.assertEqual(
            {'driver_volume_type': 'storpool',
             'data': {'client_id': self.emu.client_id,
                      'snapshot': snap.id, 'access_mode': 'ro'}}, conn)

        brick = drv._storpool_connector()
        dev = brick.connect_volume(conn['data'])
        try:
            with open(dev['path'], 'rb') as src:
                self.assertEqual(bytes(512), src.read(512))
            with open(state) as src:
                entries = json.load(src)
            self.assertEqual(
                [f'brick-{self.emu.client_id}-snapshot-{snap.id}'],
                list(entries))
            self.assertEqual(
                [(self.sname(snap), 'ro')],
                [(a['volume'], a['rights'])
                 for a in drv._api.attachments_list()])
        finally:
            brick.disconnect_volume(conn['data'], dev)
        drv.terminate_connection_snapshot(snap, connector)
        drv.remove_export_snapshot(self.ctxt, snap)
        self.assertEqual([], drv._api.attachments_list())

    def test_multiattach_is_off_over_the_native_protocol(self):
        self.assertFalse(capabilities.multiattach_supported('storpool'))
        drv = self.make_driver(storpool_multiattach=True)
        props, vendor = drv._init_vendor_properties()
        self.assertEqual('storpool', vendor)
        self.assertIn('native block protocol',
                      props['storpool:multiattach']['description'])
        self.assertIn('storpool:vc_policy', props)


class SnapshotOverISCSITestCase(base.DriverTestCase):
    """A snapshot has no iSCSI export: the refusal must say so."""

    def test_iscsi_initiator_without_client_id(self):
        drv = self.make_driver(storpool_iscsi_export_to='*',
                               storpool_iscsi_portal_group='pg')
        vol = self.volume()
        drv.create_volume(vol)
        snap = self.snapshot(vol)
        drv.create_snapshot(snap)
        connector = {'host': 'backup-host',
                     'initiator': 'iqn.2026-12.com.example:backup'}
        err = self.assertRaises(
            exception.InvalidConnectorException,
            drv.initialize_connection_snapshot, snap, connector)
        self.assertNotIn('matches no pattern', str(err))
        self.assertIn('snapshot', str(err))
        self.assertIn('[backup-host]', str(err))
