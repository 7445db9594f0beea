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
"""The emulator's iSCSIConfig API, and the tgtd behind it.

Through the real client (storpool.spapi, via common.api) over HTTP; the
answers are checked against storpool.sptypes' own iSCSIConfig type. The
data path goes through real userspace initiators (libiscsi's tools and
qemu-img), as the kernel here has none.
"""

import os

import fixtures
from oslotest import base
from storpool import sptypes

from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config as sp_config
from storpool_openstack.common import exception as sp_exc
from storpool_openstack.emulator import fixture
from tests import iscsi_tools as it

MiB = 1 << 20
VOL = 'os--volume-iscsi'
PG = it.PORTAL_GROUP


class _Base(base.BaseTestCase):

    iscsi_target = 'auto'
    device_mode = 'file'

    def setUp(self):
        super().setUp()
        self.emu = fixture.EmulatorFixture(
            device_mode=self.device_mode, iscsi_target=self.iscsi_target)
        self.emu.setUp()
        self.emu_stopped = False
        self.addCleanup(self.stop_emulator)
        self.api = sp_api.StorPoolAPI(
            sp_config.load(override_config=self.emu.config), retries=0)
        self.api.volume_create({'name': VOL, 'size': 16 * MiB})
        self.workdir = self.useFixture(fixtures.TempDir()).path

    def stop_emulator(self):
        if not self.emu_stopped:
            self.emu_stopped = True
            self.emu.cleanUp()

    def export(self, iqn=it.INITIATOR_A, learn=True):
        cmds = []
        if learn:
            cmds += [{'createInitiator': {'name': iqn, 'username': '',
                                          'secret': ''}},
                     {'initiatorAddNetwork': {'initiator': iqn,
                                              'net': '0.0.0.0/0'}}]
        cmds.append({'export': {'initiator': iqn, 'portalGroup': PG,
                                'volumeName': VOL}})
        self.api.iscsi_config_change(cmds)

    def target(self):
        cfg = self.api.iscsi_config()
        return next(t for t in cfg['targets'].values()
                    if t['volume'] == VOL)


class ISCSIConfigTestCase(_Base):
    """The configuration API, with tgtd behind it where it can run."""

    def test_shapes_are_storpools(self):
        it.configure_portal_group(self.api, ('127.0.0.1', '127.0.0.2'))
        self.api.iscsi_config_change([{'createTarget': {'volumeName': VOL}}])
        self.export()
        cfg = self.api.iscsi_config()
        # storpool.sptypes' own type accepts the answer.
        parsed = sptypes.iSCSIConfig({'iscsi': cfg})
        self.assertEqual(it.BASE_NAME, parsed.iscsi.baseName)
        (group,) = parsed.iscsi.portalGroups.values()
        self.assertEqual(PG, group.name)
        self.assertEqual(['127.0.0.1', '127.0.0.2'],
                         [n.address for n in group.networks])
        self.assertEqual([8, 8], [n.prefix for n in group.networks])
        self.assertEqual(2, len(group.portals))
        for portal in group.portals:
            self.assertIsInstance(portal.port, str)
            self.assertNotEqual('0', portal.port)
        (init,) = parsed.iscsi.initiators.values()
        self.assertEqual(it.INITIATOR_A, init.name)
        self.assertEqual(['0.0.0.0/0'], init.nets)
        (tgt,) = parsed.iscsi.targets.values()
        self.assertEqual(VOL, tgt.volume)
        self.assertEqual(f'{it.BASE_NAME}:{VOL}', tgt.name)
        self.assertEqual([(PG, tgt.name)],
                         [(e.portalGroup, e.target) for e in init.exports])

    def test_refusals_change_nothing(self):
        it.configure_portal_group(self.api)
        before = self.api.iscsi_config()
        cases = [
            ([{'export': {'initiator': it.INITIATOR_A, 'portalGroup': PG,
                          'volumeName': VOL}}], sp_exc.NotFound),
            ([{'createTarget': {'volumeName': 'os--volume-missing'}}],
             sp_exc.NotFound),
            ([{'createPortalGroup': {'name': PG}}], sp_exc.AlreadyExists),
            # The first command would work: the list is all or nothing.
            ([{'createTarget': {'volumeName': VOL}},
              {'deletePortalGroup': {'name': 'nope'}}], sp_exc.NotFound),
        ]
        for cmds, error in cases:
            self.assertRaises(error, self.api.iscsi_config_change, cmds)
            self.assertEqual(before, self.api.iscsi_config())

    def test_target_rules(self):
        it.configure_portal_group(self.api)
        self.api.iscsi_config_change([{'createTarget': {'volumeName': VOL}}])
        self.assertRaises(sp_exc.AlreadyExists, self.api.iscsi_config_change,
                          [{'createTarget': {'volumeName': VOL}}])
        self.export()
        exc = self.assertRaises(sp_exc.APIError, self.api.iscsi_config_change,
                                [{'deleteTarget': {'volumeName': VOL}}])
        self.assertIn(it.INITIATOR_A, str(exc))
        # A volume with a target is not deleted (nor reverted).
        exc = self.assertRaises(sp_exc.APIError, self.api.volume_delete, VOL)
        self.assertIn('iSCSI target', str(exc))
        self.api.iscsi_config_change([
            {'exportDelete': {'initiator': it.INITIATOR_A, 'portalGroup': PG,
                              'volumeName': VOL}},
            {'deleteTarget': {'volumeName': VOL}}])
        self.assertEqual({}, self.api.iscsi_config()['targets'])
        self.api.volume_delete(VOL)

    def test_target_follows_a_renamed_volume(self):
        it.configure_portal_group(self.api)
        self.api.iscsi_config_change([{'createTarget': {'volumeName': VOL}}])
        self.api.volume_update(VOL, {'rename': VOL + '-new'})
        (tgt,) = self.api.iscsi_config()['targets'].values()
        self.assertEqual((VOL + '-new', f'{it.BASE_NAME}:{VOL}'),
                         (tgt['volume'], tgt['name']))

    def test_reset_empties_it(self):
        it.configure_portal_group(self.api)
        self.api.iscsi_config_change([{'createTarget': {'volumeName': VOL}}])
        self.emu.control.reset()
        cfg = self.api.iscsi_config()
        self.assertEqual(({}, {}, {}), (cfg['portalGroups'],
                                        cfg['initiators'], cfg['targets']))
        self.assertIsNone(self.emu.control.state()['iscsi']['tgtdPid'])


class ISCSIWithoutTgtdTestCase(ISCSIConfigTestCase):
    """--iscsi-target none: the API alone, StorPool's LUN-less targets."""

    iscsi_target = 'none'

    def test_no_tgtd(self):
        it.configure_portal_group(self.api)
        self.api.iscsi_config_change([{'createTarget': {'volumeName': VOL}}])
        self.export()
        self.assertNotIn('lun', self.target())
        info = self.emu.control.state()['iscsi']
        self.assertEqual(('none', None), (info['mode'], info['tgtdPid']))


class ISCSIDataPathTestCase(_Base):
    """tgtd serves the exports: bytes both ways, and only to its IQNs."""

    iscsi_target = 'auto'
    device_mode = 'auto'

    def setUp(self):
        super().setUp()
        reason = it.data_path_skip_reason(self.emu.control.info())
        if reason:
            self.skipTest(f'iSCSI data path not tested: {reason}')
        it.configure_portal_group(self.api)
        self.api.iscsi_config_change([{'createTarget': {'volumeName': VOL}}])
        self.export()
        tgt = self.target()
        group = next(iter(self.api.iscsi_config()['portalGroups'].values()))
        portal = group['portals'][0]
        self.where = (f'{portal["ip"]}:{portal["port"]}', tgt['name'],
                      tgt['lun'])

    def test_lun_is_the_volume(self):
        self.assertEqual(1, self.where[2])
        self.assertEqual(16 * MiB, it.capacity(*self.where, it.INITIATOR_A))

    def test_native_write_iscsi_read_and_back(self):
        # Written through StorPool's native path: the attached device.
        self.api.volumes_reassign([{'volume': VOL,
                                    'rw': [self.emu.client_id]}])
        self.addCleanup(self.api.volumes_reassign,
                        [{'volume': VOL, 'detach': [self.emu.client_id]}])
        native = os.urandom(8192)
        dev = os.path.join(self.emu.dev_dir, 'storpool', VOL)
        fd = os.open(dev, os.O_WRONLY)
        try:
            os.pwrite(fd, native, 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
        got = it.read(*self.where, it.INITIATOR_A, 4096 + 8192,
                      self.workdir)
        self.assertEqual(b'\0' * 4096 + native, got)
        # And the other way: written through iSCSI, read from StorPool.
        over = os.urandom(4096)
        it.write(*self.where, it.INITIATOR_A, over, self.workdir)
        self.assertEqual(over + native[:4096],
                         self.emu.control.read(VOL, 0, 8192))

    def test_only_exported_initiators(self):
        self.assertTrue(it.inquiry_ok(*self.where, it.INITIATOR_A))
        self.assertFalse(it.inquiry_ok(*self.where, it.INITIATOR_B))
        self.export(it.INITIATOR_B)
        self.assertTrue(it.inquiry_ok(*self.where, it.INITIATOR_B))
        self.api.iscsi_config_change([{'exportDelete': {
            'initiator': it.INITIATOR_A, 'portalGroup': PG,
            'volumeName': VOL}}])
        self.assertFalse(it.inquiry_ok(*self.where, it.INITIATOR_A))
        self.assertTrue(it.inquiry_ok(*self.where, it.INITIATOR_B))

    def test_snapshot_of_exported_volume_is_stable(self):
        it.write(*self.where, it.INITIATOR_A, b'A' * 512, self.workdir)
        self.api.snapshot_create(VOL, {'name': 'snap1'})
        it.write(*self.where, it.INITIATOR_A, b'B' * 512, self.workdir)
        self.assertEqual(b'A' * 512,
                         self.emu.control.read('snap1', 0, 512, True))
        self.assertEqual(b'B' * 512, self.emu.control.read(VOL, 0, 512))

    def test_tgtd_stops_with_the_emulator(self):
        info = self.emu.control.state()['iscsi']
        pid, port = info['tgtdPid'], info['tgtdControlPort']
        self.assertTrue(os.path.exists(f'/proc/{pid}'))
        self.stop_emulator()
        self.assertFalse(os.path.exists(f'/proc/{pid}'))
        self.assertFalse(os.path.exists(f'/var/run/tgtd/socket.{port}'))
        self.assertIsNone(it.capacity(*self.where, it.INITIATOR_A))
