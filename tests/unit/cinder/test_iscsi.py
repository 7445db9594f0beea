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
"""iSCSI export through the driver, against the emulator's iSCSIConfig.

The emulator backs the exports with its own tgtd where it can; the data
path is then checked with userspace initiators fed the connection info
the driver returned, and os-brick's own ISCSIConnector parses it.
"""

import os
import platform

from cinder import exception
from cinder import objects
import ddt
import fixtures
from os_brick.initiator.connectors import iscsi as brick_iscsi
from oslo_utils import timeutils

from storpool_openstack.cinder import iscsi as sp_iscsi
from tests import iscsi_tools as it
from tests.unit.cinder import base

PG = it.PORTAL_GROUP
A = {'host': 'compute-a', 'initiator': it.INITIATOR_A}
B = {'host': 'compute-b', 'initiator': it.INITIATOR_B}


class ISCSIBase(base.DriverTestCase):

    export_to = '*'

    def setUp(self):
        super().setUp()
        self.driver = self.make_driver(
            storpool_iscsi_export_to=self.export_to,
            storpool_iscsi_portal_group=PG)
        it.configure_portal_group(self.driver._api, self.addresses())
        self.driver.check_for_setup_error()
        self.vol = self.volume()
        self.driver.create_volume(self.vol)
        self.name = self.vname(self.vol)
        self.workdir = self.useFixture(fixtures.TempDir()).path
        self.clear_calls()

    def addresses(self):
        return ('127.0.0.1',)

    def config(self):
        return self.driver._api.iscsi_config()

    def exports(self):
        """{initiator: [(portal group, target)]} with exports."""
        return {i['name']: [(e['portalGroup'], e['target'])
                            for e in i['exports']]
                for i in self.config()['initiators'].values()
                if i['exports']}

    def targets(self):
        return sorted(t['volume'] for t in self.config()['targets'].values())

    def iscsi_calls(self):
        return [c['method'] for c in self.calls('iSCSIConfig')]

    def attachment(self, connector, status='attached'):
        att = objects.VolumeAttachment(
            context=self.ctxt, volume_id=self.vol.id,
            attach_status=status, connector=connector,
            attached_host=connector['host'], attach_time=timeutils.utcnow())
        att.create()
        self.vol.refresh()
        return att


@ddt.ddt
class ISCSIConnectionTestCase(ISCSIBase):

    def test_export_to_initiator(self):
        conn = self.driver.initialize_connection(self.vol, A)
        target = f'{it.BASE_NAME}:{self.name}'
        lun = conn['data']['target_lun']
        # Learned, exported, then read back for the target's name.
        self.assertEqual(['GET', 'POST', 'GET'], self.iscsi_calls())
        port = next(iter(self.config()['portalGroups'].values()))[
            'portals'][0]['port']
        self.assertEqual(
            {'driver_volume_type': 'iscsi',
             'data': {'target_discovered': False, 'target_iqn': target,
                      'target_portal': f'127.0.0.1:{port}',
                      'target_lun': lun, 'volume_id': self.vol.id,
                      'discard': True, 'access_mode': 'rw'}}, conn)
        # StorPool's LUN 0; 1 where the emulator's tgtd serves it.
        self.assertEqual(1 if self.tgtd() else 0, lun)
        (post,) = [c for c in self.calls('iSCSIConfig')
                   if c['method'] == 'POST']
        self.assertEqual(
            ['createInitiator', 'initiatorAddNetwork', 'createTarget',
             'export'], [next(iter(c)) for c in post['body']['commands']])
        self.assertEqual({it.INITIATOR_A: [(PG, target)]}, self.exports())
        # Again: nothing to change, one read.
        self.clear_calls()
        self.assertEqual(conn, self.driver.initialize_connection(self.vol,
                                                                 A))
        self.assertEqual(['GET'], self.iscsi_calls())
        # os-brick's own ISCSIConnector reads the targets from it.
        brick = brick_iscsi.ISCSIConnector('sudo')
        self.assertEqual([(f'127.0.0.1:{port}', target, lun)],
                         brick._get_all_targets(conn['data']))

    def tgtd(self):
        return self.state()['iscsi']['mode'] == 'tgtd'

    def test_read_only_and_validate(self):
        self.driver.validate_connector(A)
        conn = self.driver.initialize_connection(self.vol,
                                                 dict(A, mode='ro'))
        self.assertEqual('ro', conn['data']['access_mode'])
        exc = self.assertRaises(exception.InvalidConnectorException,
                                self.driver.validate_connector,
                                {'host': 'compute-c'})
        self.assertIn('compute-c', str(exc))

    def test_multiattach_two_initiators(self):
        stats = self.driver.get_volume_stats(refresh=True)
        self.assertEqual((True, 'iSCSI'), (stats['multiattach'],
                                           stats['storage_protocol']))
        self.assertTrue(stats['pools'][0]['multiattach'])
        # B is the StorPool admin's (with CHAP); A is learned.
        self.driver._api.iscsi_config_change([{'createInitiator': {
            'name': it.INITIATOR_B, 'username': 'b', 'secret': 'b-secret'}}])
        self.driver.initialize_connection(self.vol, A)
        self.driver.initialize_connection(self.vol, B)
        target = f'{it.BASE_NAME}:{self.name}'
        self.assertEqual({it.INITIATOR_A: [(PG, target)],
                          it.INITIATOR_B: [(PG, target)]}, self.exports())
        self.assertFalse(self.driver.terminate_connection(self.vol, A))
        self.assertEqual({it.INITIATOR_B: [(PG, target)]}, self.exports())
        self.assertEqual([self.name], self.targets())
        self.assertFalse(self.driver.terminate_connection(self.vol, B))
        self.assertEqual(({}, []), (self.exports(), self.targets()))
        # The learned initiator went with its last export; the admin's
        # stays.
        self.assertEqual([it.INITIATOR_B], [
            i['name'] for i in self.config()['initiators'].values()])
        self.driver.delete_volume(self.vol)
        self.assertIsNone(self.sp_volume(self.vol))

    def test_second_attachment_keeps_the_export(self):
        self.driver.initialize_connection(self.vol, A)
        self.attachment(A)
        self.attachment(A)
        self.assertTrue(self.driver.terminate_connection(self.vol, A))
        self.assertIn(it.INITIATOR_A, self.exports())
        self.vol.volume_attachment[0].destroy()
        self.vol.refresh()
        self.assertFalse(self.driver.terminate_connection(self.vol, A))
        self.assertEqual({}, self.exports())

    def test_failed_attach_on_the_same_host_keeps_the_export(self):
        # Instance 1 on compute-a uses the volume; Nova's attach of it to
        # instance 2 on the same host fails after attachment_update, so
        # Nova deletes that attachment while it is still "attaching".
        self.driver.initialize_connection(self.vol, A)
        self.attachment(A)
        self.attachment(A, status='attaching')
        self.assertTrue(self.driver.terminate_connection(self.vol, A))
        self.assertIn(it.INITIATOR_A, self.exports())

    def test_force_detach_removes_every_export(self):
        self.driver.initialize_connection(self.vol, A)
        self.driver.initialize_connection(self.vol, B)
        self.driver.terminate_connection(self.vol, None, force=True)
        self.assertEqual(({}, []), (self.exports(), self.targets()))

    def test_delete_removes_a_leftover_export(self):
        self.driver.initialize_connection(self.vol, A)
        self.driver.delete_volume(self.vol)
        self.assertEqual(({}, []), (self.exports(), self.targets()))
        self.assertIsNone(self.sp_volume(self.vol))

    def test_unknown_initiator_without_learning(self):
        drv = self.make_driver(storpool_iscsi_export_to='*',
                               storpool_iscsi_portal_group=PG,
                               storpool_iscsi_learn_initiator_iqns=False)
        before = self.config()
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                drv.initialize_connection, self.vol, A)
        self.assertIn(it.INITIATOR_A, str(exc))
        self.assertEqual(before, self.config())
        # Known to StorPool: exported.
        self.driver._api.iscsi_config_change([{'createInitiator': {
            'name': it.INITIATOR_A, 'username': '', 'secret': ''}}])
        conn = drv.initialize_connection(self.vol, A)
        self.assertEqual('iscsi', conn['driver_volume_type'])

    def test_refused_export_leaves_no_target(self):
        # StorPool refuses the export (here: an IQN it does not accept).
        bad = {'host': 'compute-x', 'initiator': 'iqn.2026-12.x:UPPER'}
        self.assertRaises(exception.VolumeBackendAPIException,
                          self.driver.initialize_connection, self.vol, bad)
        self.assertEqual([], self.targets())

    def test_cinder_volume_own_attach(self):
        drv = self.make_driver(storpool_iscsi_cinder_volume=True,
                               storpool_iscsi_export_to='',
                               storpool_iscsi_portal_group=PG)
        # Not for others: export_to is empty.
        self.assertFalse(drv._iscsi.wants_iscsi(A))
        own = dict(A, storpool_wants_iscsi=True)
        conn = drv.initialize_connection(self.vol, own)
        self.assertEqual('iscsi', conn['driver_volume_type'])
        drv.terminate_connection(self.vol, own)
        self.assertEqual({}, self.exports())
        if os.path.exists(sp_iscsi.INITIATOR_FILE):
            props = drv._local_connector_properties()
            self.assertTrue(props['initiator'])
            self.assertTrue(props[sp_iscsi.WANTS_ISCSI_KEY])
        else:
            exc = self.assertRaises(exception.VolumeDriverException,
                                    drv._local_connector_properties)
            self.assertIn(sp_iscsi.INITIATOR_FILE, str(exc))


class ISCSIMultipathTestCase(ISCSIBase):

    def addresses(self):
        return ('127.0.0.1', '127.0.0.2')

    def test_two_portals(self):
        conn = self.driver.initialize_connection(self.vol, A)
        data = conn['data']
        group = next(iter(self.config()['portalGroups'].values()))
        portals = [f'{p["ip"]}:{p["port"]}' for p in group['portals']]
        self.assertEqual(portals, data['target_portals'])
        self.assertEqual([data['target_iqn']] * 2, data['target_iqns'])
        self.assertEqual([data['target_lun']] * 2, data['target_luns'])
        self.assertEqual(portals[0], data['target_portal'])
        brick = brick_iscsi.ISCSIConnector('sudo')
        self.assertEqual(
            [(p, data['target_iqn'], data['target_lun']) for p in portals],
            brick._get_all_targets(data))
        reason = it.data_path_skip_reason(self.emu.control.info())
        if reason:
            self.skipTest(f'iSCSI data path not tested: {reason}')
        for portal in portals:
            self.assertEqual(self.vol.size * base.GiB, it.capacity(
                portal, data['target_iqn'], data['target_lun'],
                it.INITIATOR_A))


class ISCSIDataPathTestCase(ISCSIBase):

    def test_bytes_through_the_connection_info(self):
        reason = it.data_path_skip_reason(self.emu.control.info())
        if reason:
            self.skipTest(f'iSCSI data path not tested: {reason}')
        conn_a = self.driver.initialize_connection(self.vol, A)
        where = it.from_connection(conn_a['data'])
        payload = os.urandom(4096)
        it.write(*where, it.INITIATOR_A, payload, self.workdir)
        self.assertEqual(payload, self.emu.control.read(self.name, 0, 4096))
        # A second initiator reads what the first wrote (multiattach).
        self.assertFalse(it.inquiry_ok(*where, it.INITIATOR_B))
        conn_b = self.driver.initialize_connection(self.vol, B)
        self.assertEqual(where, it.from_connection(conn_b['data']))
        self.assertEqual(payload, it.read(*where, it.INITIATOR_B, 4096,
                                          self.workdir))
        self.driver.terminate_connection(self.vol, A)
        self.assertFalse(it.inquiry_ok(*where, it.INITIATOR_A))
        self.assertTrue(it.inquiry_ok(*where, it.INITIATOR_B))
        self.driver.terminate_connection(self.vol, B)
        self.assertFalse(it.inquiry_ok(*where, it.INITIATOR_B))


@ddt.ddt
class ISCSIOptionsTestCase(base.DriverTestCase):

    @ddt.data(({'storpool_iscsi_export_to': '* iqn.1991-05.com.x:*',
                'storpool_iscsi_portal_group': PG}, '"*"'),
              ({'storpool_iscsi_export_to': 'IQN.1991-05.com.x:*',
                'storpool_iscsi_portal_group': PG}, 'IQN.1991-05.com.x:*'),
              ({'storpool_iscsi_export_to': '*'},
               'storpool_iscsi_portal_group is required'),
              ({'storpool_iscsi_cinder_volume': True},
               'storpool_iscsi_portal_group is required'),
              ({'storpool_iscsi_export_to': '*',
                'storpool_iscsi_portal_group': 'bad group'}, 'bad group'))
    @ddt.unpack
    def test_bad_values_stop_the_start(self, opts, words):
        exc = self.assertRaises(exception.VolumeDriverException,
                                self.make_driver, **opts)
        self.assertIn(words, str(exc))
        self.assertIn('storpool', str(exc))

    def test_portal_group_must_exist_with_an_address(self):
        drv = self.make_driver(storpool_iscsi_export_to='iqn.2026-12.*',
                               storpool_iscsi_portal_group=PG)
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                drv.check_for_setup_error)
        self.assertIn(f'no iSCSI portal group "{PG}"', str(exc))
        drv._api.iscsi_config_change([{'createPortalGroup': {'name': PG}}])
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                drv.check_for_setup_error)
        self.assertIn('portalGroupAddNetwork', str(exc))

    def test_no_iscsi_no_call(self):
        drv = self.make_driver()
        self.clear_calls()
        drv.check_for_setup_error()
        self.assertEqual(['VolumeTemplatesList'], self.queries())
        stats = drv.get_volume_stats(refresh=True)
        self.assertEqual((False, 'storpool'), (stats['multiattach'],
                                               stats['storage_protocol']))


class PatternsTestCase(ISCSIBase):
    """Only initiators that match go over iSCSI (the defect of issue 15)."""

    export_to = 'iqn.2026-12.org.example.compute-a:*'

    def setUp(self):
        super().setUp()
        # The cinder-volume host's config: its own SP_OURID at the top,
        # a section for compute-1 only.
        self.conf_path = os.path.join(self.workdir, 'storpool.conf')
        with open(self.conf_path, 'w') as conf:
            conf.writelines(f'{k}={v}\n' for k, v in self.emu.config.items())
            conf.write('[compute-1]\nSP_OURID=12\n')
            conf.write(f'[{platform.node()}]\nSP_OURID=5\n')
        self.driver = self.make_driver(
            storpool_config_file=self.conf_path,
            storpool_iscsi_export_to=self.export_to,
            storpool_iscsi_portal_group=PG)

    def test_matching_initiator_gets_iscsi(self):
        conn = self.driver.initialize_connection(self.vol, A)
        self.assertEqual('iscsi', conn['driver_volume_type'])
        stats = self.driver.get_volume_stats(refresh=True)
        self.assertEqual((False, 'storpool'), (stats['multiattach'],
                                               stats['storage_protocol']))

    def test_other_hosts_never_get_the_top_level_id(self):
        connector = {'host': 'compute-b', 'initiator': it.INITIATOR_B}
        for call in (lambda: self.driver.validate_connector(connector),
                     lambda: self.driver.initialize_connection(self.vol,
                                                               connector)):
            exc = self.assertRaises(exception.InvalidConnectorException,
                                    call)
            for word in ('compute-b', '[compute-b]', 'SP_OURID',
                         self.conf_path, it.INITIATOR_B):
                self.assertIn(word, str(exc))
        self.assertEqual({}, self.exports())

    def test_native_where_the_config_says(self):
        conn = self.driver.initialize_connection(
            self.vol, {'host': 'compute-1', 'initiator': it.INITIATOR_B})
        self.assertEqual(('storpool', 12), (conn['driver_volume_type'],
                                            conn['data']['client_id']))
        conn = self.driver.initialize_connection(
            self.vol, {'host': self.driver.host.split('@')[0]})
        self.assertEqual(5, conn['data']['client_id'])
