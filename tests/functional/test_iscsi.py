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
"""iSCSI export through Cinder's REST API (the attachments API Nova uses).

Create, attach for two initiators at once (multiattach), detach, delete;
StorPool's iSCSI configuration is empty again afterwards. Where the
emulator has its tgtd, bytes go through the exports with userspace
initiators fed the connection info Cinder returned.
"""

import os
import platform
import uuid

import fixtures

from cinder.tests.functional.api import client

from tests.functional import base
from tests import iscsi_tools as it

A = {'host': 'compute-a', 'initiator': it.INITIATOR_A,
     'multipath': False, 'platform': 'x86_64', 'os_type': 'linux'}
B = dict(A, host='compute-b', initiator=it.INITIATOR_B)
# Attachments with a connector, multiattach, and the attach mode.
API_VERSION = '3.54'


class _ISCSIBase(base.StorPoolFunctionalTestBase):

    def _get_flags(self):
        flags = super()._get_flags()
        # The StorPool admin's part, before cinder-volume starts (its
        # start-up check wants the portal group).
        it.configure_portal_group(self.sp_api)
        return flags

    def setUp(self):
        super().setUp()
        self.api.api_version = API_VERSION
        # Deleting a server's attachment makes Cinder ask Nova whether the
        # server still has the volume (bug 2004555). Nova cannot run here:
        # this is its answer once it has detached the volume, which is
        # when Nova deletes an attachment.
        from cinder.compute import nova

        def detached(context, server_id, volume_id):
            raise nova.API.NotFound(404, f'server {server_id} has no '
                                         f'volume {volume_id}')
        self.mock_object(nova.API, 'get_server_volume',
                         staticmethod(detached))
        self.workdir = self.useFixture(fixtures.TempDir()).path

    def iscsi(self) -> dict:
        return self.sp_api.iscsi_config()

    def exports(self) -> dict:
        return {i['name']: sorted(e['target'] for e in i['exports'])
                for i in self.iscsi()['initiators'].values()
                if i['exports']}

    def attach(self, volume_id: str, connector: dict) -> tuple[str, dict]:
        """POST /attachments, then os-complete; (id, connection_info)."""
        att = self.api.api_post('/attachments', {'attachment': {
            'volume_uuid': volume_id, 'instance_uuid': str(uuid.uuid4()),
            'connector': connector, 'mode': 'rw'}})['attachment']
        self.api.api_post(f'/attachments/{att["id"]}/action',
                          {'os-complete': None},
                          check_response_status=[204])
        # Cinder flattens the driver's answer: data plus its type.
        info = dict(att['connection_info'])
        return att['id'], {'driver_volume_type':
                           info.pop('driver_volume_type'), 'data': info}

    def detach(self, attachment_id: str) -> None:
        self.api.api_delete(f'/attachments/{attachment_id}')


class ISCSIRestTestCase(_ISCSIBase):

    driver_options = {'storpool_iscsi_export_to': '*',
                      'storpool_iscsi_portal_group': it.PORTAL_GROUP}

    def test_multiattach_life_cycle(self):
        self.publish_capabilities()
        mtype = self.create_type('sp-multi', {'multiattach': '<is> True'})
        vol = self.create_volume(1, volume_type=mtype['id'])
        self.assertTrue(vol['multiattach'])
        att_a, info_a = self.attach(vol['id'], A)
        att_b, info_b = self.attach(vol['id'], B)
        target = f'{it.BASE_NAME}:{self.vol_name(vol["id"])}'
        for info in (info_a, info_b):
            self.assertEqual('iscsi', info['driver_volume_type'])
            self.assertEqual(target, info['data']['target_iqn'])
            self.assertTrue(info['data']['discard'])
        self.assertEqual({it.INITIATOR_A: [target],
                          it.INITIATOR_B: [target]}, self.exports())
        vol = self.wait_volume(vol['id'], status='in-use')
        self.assertEqual(2, len(vol['attachments']))

        reason = it.data_path_skip_reason(self.control.info())
        where = it.from_connection(info_a['data'])
        if reason is None:
            payload = os.urandom(4096)
            it.write(*where, it.INITIATOR_A, payload, self.workdir)
            self.assertEqual(payload, it.read(
                *it.from_connection(info_b['data']), it.INITIATOR_B, 4096,
                self.workdir))

        self.detach(att_a)
        self.wait_volume(vol['id'], status='in-use')
        self.assertEqual({it.INITIATOR_B: [target]}, self.exports())
        if reason is None:
            self.assertFalse(it.inquiry_ok(*where, it.INITIATOR_A))
            self.assertTrue(it.inquiry_ok(*where, it.INITIATOR_B))
        self.detach(att_b)
        self.wait_volume(vol['id'])
        self.delete_volume(vol['id'])
        cfg = self.iscsi()
        self.assertEqual(({}, {}), (cfg['targets'], cfg['initiators']))
        self.assertEqual(1, len(cfg['portalGroups']))
        self.assert_emulator_empty()

    def test_single_attach_detach_delete(self):
        vol = self.create_volume(1)
        att, info = self.attach(vol['id'], A)
        self.assertEqual('iscsi', info['driver_volume_type'])
        self.wait_volume(vol['id'], status='in-use')
        self.detach(att)
        self.wait_volume(vol['id'])
        self.delete_volume(vol['id'])
        cfg = self.iscsi()
        self.assertEqual(({}, {}), (cfg['targets'], cfg['initiators']))
        self.assert_emulator_empty()


class NoTopLevelClientIdTestCase(_ISCSIBase):
    """The defect: a host without its own section gets no SP_OURID."""

    driver_options = {
        'storpool_iscsi_export_to': 'iqn.2026-12.org.example.compute-a:*',
        'storpool_iscsi_portal_group': it.PORTAL_GROUP}

    def _get_flags(self):
        flags = super()._get_flags()
        # The emulator's config has SP_OURID at the top (this cinder-volume
        # host's id) and no section for compute-b.
        self.conf_path = self.emulator.conf_path
        with open(self.conf_path) as conf:
            self.assertIn('SP_OURID=', conf.read())
        self.assertNotIn('[compute-b]', open(self.conf_path).read())
        return flags

    def test_refused_with_the_missing_section(self):
        vol = self.create_volume(1)
        exc = self.assertRaises(
            client.OpenStackApiException, self.action, vol['id'],
            {'os-initialize_connection': {'connector': B}}, status=(200,))
        self.assertEqual(400, exc.response.status_code)
        text = exc.response.text
        for word in ('compute-b', '[compute-b]', 'SP_OURID',
                     self.conf_path, it.INITIATOR_B):
            self.assertIn(word, text)
        self.assertEqual({}, self.iscsi()['targets'])
        # The matching initiator gets iSCSI; a host with a client id the
        # native protocol.
        info = self.action(vol['id'], {'os-initialize_connection': {
            'connector': A}}, status=(200,)).json()['connection_info']
        self.assertEqual('iscsi', info['driver_volume_type'])
        self.action(vol['id'], {'os-terminate_connection': {
            'connector': A}})
        info = self.action(vol['id'], {'os-initialize_connection': {
            'connector': dict(B, storpool_client_id=7)}},
            status=(200,)).json()['connection_info']
        self.assertEqual(('storpool', 7), (info['driver_volume_type'],
                                           info['data']['client_id']))
        self.assertEqual({}, self.exports())
        self.assertNotEqual('compute-b', platform.node())
        self.delete_volume(vol['id'])
