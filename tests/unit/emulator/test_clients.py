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

"""One scenario table, run through both real client generations.

Every scenario talks to the emulator only through a real client
(``storpool.spapi.Api`` plain and multi-cluster, os-brick's
``StorPoolAPI``) and checks the answers, the emulator's state and its
call log.
"""

import os
import re

import ddt

from tests.unit.emulator import base
from tests.unit.emulator import clients

GID_RE = re.compile(r'^[a-z0-9]+\.[a-z0-9]+\.[a-z0-9]+$')
GiB = base.GiB


def _table():
    scenarios = [name[len('scn_'):] for name in sorted(vars(Scenarios))
                 if name.startswith('scn_')]
    rows = []
    for scn in scenarios:
        for kind in clients.CLIENTS:
            if scn.startswith('group') and kind == 'brick':
                continue  # storpool_utils has no group snapshot call
            rows.append('%s__%s' % (kind, scn))
    return rows


class Scenarios(object):
    """The steps; ``self.cl`` is the client under test."""

    def state(self) -> dict:
        return self.emu.control.state()

    def assert_api_error(self, name: str, func, *args, descr=None,
                         transient=False):
        exc = self.assertRaises(self.cl.errors, func, *args)
        self.assertEqual(name, exc.name)
        self.assertIs(transient, exc.transient)
        self.assertNotEqual(200, exc.status)
        if descr is not None:
            self.assertEqual(descr, exc.desc)
        return exc

    # -- scenarios -----------------------------------------------------------
    def scn_create(self):
        self.cl.create({'name': 'os--volume-1', 'size': GiB,
                        'template': 'ssd', 'tags': {'cinder': 'yes'},
                        'iops': 1000, 'bw': 5000})
        vol = self.cl.volume('os--volume-1')
        self.assertEqual(GiB, vol['size'])
        self.assertEqual('ssd', vol['templateName'])
        self.assertEqual(2, vol['replication'])
        self.assertEqual('ssd', vol['placeAll'])
        self.assertEqual({'cinder': 'yes'}, vol['tags'])
        self.assertEqual(1000, vol['iops'])
        self.assertEqual(5000, vol['bw'])
        self.assertEqual('', vol['parentName'])
        self.assertRegex(vol['globalId'], GID_RE)
        self.assertGreater(vol['creationTimestamp'], 0)
        info = self.cl.info('os--volume-1')
        self.assertEqual(vol['globalId'], info['globalId'])
        self.assertGreater(info['disksCount'], 0)
        state = self.state()['volumes']['os--volume-1']
        self.assertEqual(vol['globalId'], state['globalId'])
        call = self.emu.control.calls('VolumeCreate')[0]
        self.assertEqual(self.cl.mc('VolumeCreate'),
                         call['path'].startswith('/ctrl/1.0/MultiCluster/'))
        self.assertEqual('ssd', call['body']['template'])

    def scn_list(self):
        for idx in (2, 1, 3):
            self.cl.create({'name': 'os--volume-%d' % idx,
                            'size': idx * GiB})
        self.assertEqual(['os--volume-2', 'os--volume-1', 'os--volume-3'],
                         self.cl.names())
        self.assertEqual(['hybrid', 'ssd'], sorted(self.cl.templates()))
        disks = self.cl.disks()
        self.assertEqual(6, len(disks))
        for disk in disks.values():
            self.assertEqual(-1, disk['generationLeft'])
            self.assertEqual(disk['agCount'],
                             disk['agAllocated'] + disk['agFree'])

    def scn_snapshot(self):
        self.cl.create({'name': 'os--volume-1', 'size': GiB,
                        'template': 'hybrid'})
        self.cl.snapshot('os--volume-1',
                         {'name': 'os--snap--none--snapshot-1'})
        self.assertEqual('os--snap--none--snapshot-1',
                         self.cl.volume('os--volume-1')['parentName'])
        snap = self.state()['snapshots']['os--snap--none--snapshot-1']
        self.assertEqual('os--volume-1', snap['onVolume'])
        self.assertEqual('', snap['parentName'])
        self.assertEqual('hybrid', snap['templateName'])
        self.assertFalse(snap['deleted'])
        self.assertRegex(snap['globalId'], GID_RE)
        self.cl.snapshot('os--volume-1', {'name': 'snap-2'})
        self.assertEqual('os--snap--none--snapshot-1',
                         self.state()['snapshots']['snap-2']['parentName'])

    def scn_clone_parent(self):
        self.cl.create({'name': 'vol-a', 'size': GiB, 'template': 'ssd'})
        self.cl.snapshot('vol-a', {'name': 'snap-a'})
        self.cl.create({'name': 'vol-b', 'size': 2 * GiB,
                        'parent': 'snap-a'})
        vol = self.cl.volume('vol-b')
        self.assertEqual('snap-a', vol['parentName'])
        self.assertEqual(2 * GiB, vol['size'])
        self.assertEqual('ssd', vol['templateName'])
        gid = self.state()['snapshots']['snap-a']['globalId']
        self.cl.create({'name': 'vol-c', 'parent': '~' + gid})
        self.assertEqual(GiB, self.cl.volume('vol-c')['size'])

    def scn_clone_baseon(self):
        self.cl.create({'name': 'vol-a', 'size': GiB, 'template': 'ssd'})
        self.cl.create({'name': 'vol-b', 'size': GiB, 'baseOn': 'vol-a'})
        vol = self.cl.volume('vol-b')
        self.assertEqual(GiB, vol['size'])
        self.assertEqual('ssd', vol['templateName'])
        self.assertEqual(['vol-a', 'vol-b'], self.cl.names())

    def scn_extend(self):
        self.cl.create({'name': 'vol', 'size': GiB})
        self.cl.update('vol', {'size': 2 * GiB})
        self.assertEqual(2 * GiB, self.cl.volume('vol')['size'])
        self.cl.update('vol', {'sizeAdd': GiB})
        self.assertEqual(3 * GiB, self.cl.volume('vol')['size'])
        self.cl.update('vol', {'size': GiB, 'shrinkOk': True})
        self.assertEqual(GiB, self.cl.volume('vol')['size'])

    def scn_update(self):
        self.cl.create({'name': 'vol', 'size': GiB, 'template': 'hybrid',
                        'tags': {'a': '1', 'b': '2'}})
        self.cl.update('vol', {'template': 'ssd',
                               'tags': {'a': '', 'c': '3'}})
        vol = self.cl.volume('vol')
        self.assertEqual('ssd', vol['templateName'])
        self.assertEqual(2, vol['replication'])
        self.assertEqual({'b': '2', 'c': '3'}, vol['tags'])
        self.cl.update('vol', {'replication': 1, 'iops': '-'})
        self.assertEqual(1, self.cl.volume('vol')['replication'])
        self.cl.update('vol', {'rename': 'vol--temp--mig'})
        self.assertEqual(['vol--temp--mig'], self.cl.names())

    def scn_snapshot_update(self):
        self.cl.create({'name': 'vol', 'size': GiB})
        self.cl.snapshot('vol', {'name': 'os--clone--none--snapshot-x'})
        self.cl.snapshot_update('os--clone--none--snapshot-x',
                                {'template': 'hybrid'})
        self.cl.snapshot_update('os--clone--none--snapshot-x',
                                {'tags': {'transient': '1.0'}})
        snap = self.state()['snapshots']['os--clone--none--snapshot-x']
        self.assertEqual('hybrid', snap['templateName'])
        self.assertEqual({'transient': '1.0'}, snap['tags'])
        self.assertEqual(
            ['/ctrl/1.0/SnapshotUpdate/os--clone--none--snapshot-x'] * 2,
            [c['path'] for c in self.emu.control.calls('SnapshotUpdate')])

    def scn_revert(self):
        self.cl.create({'name': 'vol', 'size': GiB})
        self.cl.snapshot('vol', {'name': 'snap'})
        self.cl.update('vol', {'size': 2 * GiB})
        self.cl.revert('vol', 'snap')
        vol = self.cl.volume('vol')
        self.assertEqual(GiB, vol['size'])
        self.assertEqual('snap', vol['parentName'])

    def scn_attach_detach_wait(self):
        self.cl.create({'name': 'vol', 'size': GiB})
        ourid = self.cl.client_id(self.emu.client_id)
        self.cl.reassign_wait({'reassign': [{'volume': 'vol',
                                             'rw': [ourid]}]})
        gid = self.cl.info('vol')['globalId']
        self.assertTrue(os.path.exists(self.dev_path('vol')))
        self.assertTrue(os.path.exists(self.byid_path(gid)))
        self.assertEqual(
            [{'volume': 'vol', 'snapshot': False, 'client': 1,
              'rights': 'rw', 'pos': 0, 'globalId': gid}],
            self.state()['attachments'])
        # Another host: recorded in the model only.
        self.cl.reassign_wait({'reassign': [{'volume': 'vol',
                                             'ro': [self.cl.client_id(7)]}],
                               'attachTimeout': 0})
        self.assertEqual([(1, 'rw'), (7, 'ro')],
                         [(a['client'], a['rights'])
                          for a in self.state()['attachments']])
        self.cl.reassign_wait({'reassign': [
            {'volume': '~' + gid, 'detach': [ourid], 'force': False}]})
        self.assertFalse(os.path.lexists(self.dev_path('vol')))
        self.assertFalse(os.path.lexists(self.byid_path(gid)))
        self.cl.reassign([{'volume': 'vol', 'detach': 'all'}])
        self.assertEqual([], self.state()['attachments'])

    def scn_attach_snapshot(self):
        self.cl.create({'name': 'vol', 'size': GiB})
        self.cl.snapshot('vol', {'name': 'snap'})
        self.cl.reassign([{'snapshot': 'snap',
                           'ro': [self.cl.client_id(1)]}])
        att = self.state()['attachments']
        self.assertEqual([('snap', True, 'ro')],
                         [(a['volume'], a['snapshot'], a['rights'])
                          for a in att])
        self.assertTrue(os.path.exists(self.dev_path('snap')))
        self.cl.reassign([{'snapshot': 'snap', 'detach': 'all'}])
        self.assertFalse(os.path.lexists(self.dev_path('snap')))

    def scn_group_snapshot(self):
        self.cl.create({'name': 'vol-1', 'size': GiB})
        self.cl.create({'name': 'vol-2', 'size': GiB})
        res = self.cl.group_snapshot({
            'volumes': [{'volume': 'vol-1', 'name': 'grp-1'},
                        {'volume': 'vol-2', 'name': 'grp-2'}],
            'tags': {'group': 'g1'}})
        self.assertEqual(['grp-1', 'grp-2'],
                         [s['snapshot'] for s in res['snapshots']])
        snaps = self.state()['snapshots']
        self.assertEqual({'group': 'g1'}, snaps['grp-1']['tags'])
        self.assertEqual('vol-2', snaps['grp-2']['onVolume'])
        self.assertEqual('grp-1', self.cl.volume('vol-1')['parentName'])

    def scn_delete(self):
        self.cl.create({'name': 'vol', 'size': GiB})
        self.cl.snapshot('vol', {'name': 'snap'})
        self.cl.create({'name': 'child', 'parent': 'snap'})
        self.cl.delete('vol')
        self.assertEqual(['child'], self.cl.names())
        # A snapshot with a child volume is kept, marked deleted, hidden.
        self.cl.snapshot_delete('snap')
        snaps = list(self.state()['snapshots'].values())
        self.assertEqual([True], [s['deleted'] for s in snaps])
        self.assertEqual('', self.cl.volume('child')['parentName'])
        self.assert_api_error('objectDoesNotExist', self.cl.snapshot_delete,
                              'snap')
        self.cl.delete('child')
        state = self.state()
        self.assertEqual({}, state['snapshots'])
        self.assertEqual({}, state['volumes'])
        self.assertEqual([], state['dataObjects'])

    # -- errors ---------------------------------------------------------------
    def scn_err_does_not_exist(self):
        self.assert_api_error('objectDoesNotExist', self.cl.volume,
                              'missing',
                              descr='Volume missing does not exist')
        self.assert_api_error('objectDoesNotExist', self.cl.snapshot_delete,
                              'nosnap',
                              descr='Snapshot nosnap does not exist')
        self.assert_api_error('objectDoesNotExist', self.cl.create,
                              {'name': 'v', 'size': GiB, 'template': 'nope'})
        self.assertEqual(['objectDoesNotExist'] * 3,
                         [c['error'] for c in self.emu.control.calls()])

    def scn_err_exists(self):
        self.cl.create({'name': 'vol', 'size': GiB})
        self.assert_api_error('objectExists', self.cl.create,
                              {'name': 'vol', 'size': GiB})
        self.cl.snapshot('vol', {'name': 'snap'})
        self.assert_api_error('objectExists', self.cl.snapshot, 'vol',
                              {'name': 'snap'})

    def scn_err_busy(self):
        self.cl.create({'name': 'vol', 'size': GiB})
        ourid = self.cl.client_id(1)
        self.cl.reassign_wait({'reassign': [{'volume': 'vol',
                                             'rw': [ourid]}]})
        fd = os.open(self.dev_path('vol'), os.O_RDONLY)
        try:
            self.assert_api_error(
                'busy', self.cl.reassign_wait,
                {'reassign': [{'volume': 'vol', 'detach': [ourid]}]},
                descr="'vol' is open at client 1")
            self.assertEqual(1, len(self.state()['attachments']))
            self.cl.reassign_wait({'reassign': [
                {'volume': 'vol', 'detach': [ourid], 'force': True}]})
        finally:
            os.close(fd)
        self.assertEqual([], self.state()['attachments'])
        self.assertFalse(os.path.lexists(self.dev_path('vol')))

    def scn_err_invalid_param(self):
        self.cl.create({'name': 'vol', 'size': 2 * GiB})
        exc = self.assert_api_error('invalidParam', self.cl.update, 'vol',
                                    {'size': GiB})
        self.assertIn('shrinkOk', exc.desc)
        self.cl.reassign([{'volume': 'vol', 'rw': [self.cl.client_id(9)]}])
        exc = self.assert_api_error('invalidParam', self.cl.delete, 'vol')
        self.assertIn('client 9', exc.desc)
        self.assertEqual(['vol'], self.cl.names())

    def scn_err_transient(self):
        self.emu.control.add_fault('VolumesList', name='busy',
                                   descr='cluster busy', transient=True,
                                   times=1)
        self.assert_api_error('busy', self.cl.names, descr='cluster busy',
                              transient=True)
        self.emu.control.add_fault('VolumesList', name='busy',
                                   transient=True, times=2)
        retrying = clients.make(self.kind, self.emu, retries=3)
        with clients.no_brick_sleep():
            self.assertEqual([], retrying.names())
        self.assertEqual(['busy', 'busy', 'busy', None],
                         [c['error'] for c in
                          self.emu.control.calls('VolumesList')])


@ddt.ddt
class ClientScenarioTestCase(base.TestCase, Scenarios):
    """Each row: ``<client>__<scenario>``."""

    @ddt.data(*_table())
    def test_scenario(self, row: str) -> None:
        self.kind, scenario = row.split('__')
        self.cl = clients.make(self.kind, self.emu)
        getattr(self, 'scn_' + scenario)()
        # Whatever happened, the server answered every call with JSON.
        for call in self.emu.control.calls():
            self.assertIsNotNone(call['status'])
