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

"""The cluster model on its own (no HTTP) and the sparse data store."""

import os

import ddt
import fixtures
from oslotest import base as oslo_base
from storpool import spapi
from storpool import sptypes

from storpool_openstack.emulator import data
from storpool_openstack.emulator import errors
from storpool_openstack.emulator import model
from storpool_openstack.emulator import validate
from tests.unit.emulator import base

MiB = base.MiB
GiB = base.GiB


@ddt.ddt
class ModelTestCase(oslo_base.BaseTestCase):

    def setUp(self) -> None:
        super().setUp()
        tmp = self.useFixture(fixtures.TempDir()).path
        self.cl = model.Cluster(os.path.join(tmp, 'state'),
                                dev_dir=os.path.join(tmp, 'dev'),
                                device_mode='file')
        self.addCleanup(self.cl.close)

    def assert_error(self, name: str, func, *args) -> errors.EmulatorError:
        gen = self.cl.generation
        exc = self.assertRaises(errors.EmulatorError, func, *args)
        self.assertEqual(name, exc.name)
        self.assertEqual(gen, self.cl.generation)
        return exc

    @ddt.named_data(
        ('space_in_name', {'name': 'bad name', 'size': 512}),
        ('reserved_name', {'name': 'list', 'size': 512}),
        ('long_name', {'name': 'x' * 200, 'size': 512}),
        ('snapshot_star', {'name': '*vol', 'size': 512}),
        ('size_not_sector', {'name': 'v', 'size': 1000}),
        ('size_zero', {'name': 'v', 'size': 0}),
        ('size_negative', {'name': 'v', 'size': -512}),
        ('size_string', {'name': 'v', 'size': '1024'}),
        ('size_bool', {'name': 'v', 'size': True}),
        ('no_size', {'name': 'v'}),
        ('replication_4', {'name': 'v', 'size': 512, 'replication': 4}),
        ('iops_negative', {'name': 'v', 'size': 512, 'iops': -1}),
        ('bw_word', {'name': 'v', 'size': 512, 'bw': 'lots'}),
        ('tag_name', {'name': 'v', 'size': 512, 'tags': {'a b': 'x'}}),
        ('tag_value', {'name': 'v', 'size': 512, 'tags': {'a': 'x y'}}),
        ('pg_name', {'name': 'v', 'size': 512, 'placeAll': 'a b'}),
        ('parent_and_baseon', {'name': 'v', 'parent': 's', 'baseOn': 'b'}),
        ('unknown_field', {'name': 'v', 'size': 512, 'x': 1}),
    )
    def test_create_invalid(self, desc: dict) -> None:
        self.assert_error('invalidParam', self.cl.volume_create, desc)
        self.assertEqual([], self.cl.volumes_list())

    @ddt.named_data(
        ('template', {'name': 'v', 'size': 512, 'template': 'nope'}),
        ('parent', {'name': 'v', 'parent': 'nope'}),
        ('baseon', {'name': 'v', 'baseOn': 'nope'}),
        ('pg', {'name': 'v', 'size': 512, 'placeAll': 'nope'}),
        ('parent_gid', {'name': 'v', 'parent': '~a.b.c'}),
    )
    def test_create_missing_reference(self, desc: dict) -> None:
        self.assert_error('objectDoesNotExist', self.cl.volume_create, desc)

    def test_generation_counts_mutations_only(self) -> None:
        gen = self.cl.generation
        res = self.cl.volume_create({'name': 'v', 'size': MiB})
        self.assertEqual(gen + 1, res['generation'])
        self.cl.volumes_list()
        self.cl.disks_list()
        self.assertEqual(gen + 1, self.cl.generation)
        self.assert_error('objectExists', self.cl.volume_create,
                          {'name': 'v', 'size': MiB})
        self.cl.volume_update('v', {'tags': {'a': 'b'}})
        self.cl.volume_snapshot('v', {})
        self.cl.volumes_reassign([{'volume': 'v', 'ro': [3]}])
        self.assertEqual(gen + 4, self.cl.generation)

    def test_template_defaults_and_tags(self) -> None:
        self.cl.add_template({'name': 'big', 'replication': 1,
                              'size': 4 * MiB, 'bw': 100})
        self.cl.volume_create({'name': 'v', 'template': 'big',
                               'tags': {'a': '1', 'empty': ''}})
        vol = self.cl.volume('v')[0]
        self.assertEqual((4 * MiB, 1, 'big', 100, 'default', {'a': '1'}),
                         (vol['size'], vol['replication'],
                          vol['templateName'], vol['bw'], vol['placeAll'],
                          vol['tags']))
        self.cl.volume_update('v', {'tags': {'a': '', 'b': '2'}})
        self.assertEqual({'b': '2'}, self.cl.volume('v')[0]['tags'])
        self.assertEqual({'v': {'b': '2'}}, self.cl.dump()['tags'])

    def test_shrink_needs_shrink_ok(self) -> None:
        self.cl.volume_create({'name': 'v', 'size': 2 * MiB})
        exc = self.assert_error('invalidParam', self.cl.volume_update, 'v',
                                {'size': MiB})
        self.assertIn('shrinkOk', exc.descr)
        self.assert_error('invalidParam', self.cl.volume_update, 'v',
                          {'sizeAdd': 100})
        self.cl.volume_update('v', {'size': MiB, 'shrinkOk': True})
        self.assertEqual(MiB, self.cl.volume('v')[0]['size'])

    def test_snapshot_chain_and_global_ids(self) -> None:
        self.cl.volume_create({'name': 'v', 'size': MiB})
        first = self.cl.volume_snapshot('v', {'name': 's1'})
        self.cl.volume_snapshot('v', {'name': 's2', 'tags': {'k': 'v'}})
        auto = self.cl.volume_snapshot('v', {})
        self.assertTrue(auto['autoName'].startswith('*'))
        chain = [s['name'] for s in self.cl.volume_list_snapshots('v')]
        self.assertEqual([auto['autoName'], 's2', 's1'], chain)
        snap = self.cl.snapshot('~' + first['snapshotGlobalId'])[0]
        self.assertEqual('s1', snap['name'])
        self.assertRegex(snap['globalId'], validate.GLOBAL_ID_RE)
        gids = {r['globalId'] for r in self.cl.snapshots_list() +
                self.cl.volumes_list()}
        self.assertEqual(4, len(gids))
        self.assert_error('invalidParam', self.cl.snapshot, '~bad')
        self.assert_error('objectDoesNotExist', self.cl.volume,
                          '~' + first['snapshotGlobalId'])

    def test_snapshot_with_children_is_hidden_until_they_go(self) -> None:
        self.cl.volume_create({'name': 'v', 'size': MiB})
        self.cl.volume_snapshot('v', {'name': 's1'})
        self.cl.volume_snapshot('v', {'name': 's2'})
        self.cl.volume_create({'name': 'c', 'parent': 's1'})
        self.cl.snapshot_delete('s1')
        self.assertEqual(['s2'],
                         [s['name'] for s in self.cl.snapshots_list()])
        self.assertEqual('', self.cl.volume('c')[0]['parentName'])
        # s2's parent was s1: now hidden, so no visible parent either.
        self.assertEqual('', self.cl.snapshot('s2')[0]['parentName'])
        self.cl.volume_create({'name': 'v2', 'size': MiB})
        self.cl.volume_snapshot('v2', {'name': 's1'})  # name is free again
        self.cl.volume_delete('c')
        names = sorted(self.cl.dump()['snapshots'])
        self.assertEqual(['s1', 's2'], names)

    def test_attached_objects_are_protected(self) -> None:
        self.cl.volume_create({'name': 'v', 'size': MiB})
        self.cl.volume_snapshot('v', {'name': 's'})
        self.cl.volumes_reassign([{'volume': 'v', 'rw': [12]},
                                  {'snapshot': 's', 'ro': [12]}])
        exc = self.assert_error('invalidParam', self.cl.volume_delete, 'v')
        self.assertIn('client 12', exc.descr)
        exc = self.assert_error('invalidParam', self.cl.snapshot_delete, 's')
        self.assertIn('client 12', exc.descr)
        self.assert_error('invalidParam', self.cl.volume_revert, 'v',
                          {'toSnapshot': 's'})
        self.assert_error('invalidParam', self.cl.volumes_reassign,
                          [{'snapshot': 's', 'rw': [12]}])
        self.cl.volumes_reassign([{'volume': 'v', 'detach': 'all'},
                                  {'snapshot': 's', 'detach': [12]}])
        self.cl.volume_delete('v')
        self.cl.snapshot_delete('s')

    def test_revert_only_to_own_snapshots(self) -> None:
        for name in ('a', 'b'):
            self.cl.volume_create({'name': name, 'size': MiB})
            self.cl.volume_snapshot(name, {'name': name + '-s'})
        self.assert_error('invalidParam', self.cl.volume_revert, 'a',
                          {'toSnapshot': 'b-s'})
        self.assert_error('invalidParam', self.cl.volume_revert, 'a', {})
        self.cl.volume_revert('a', {'toSnapshot': 'a-s'})

    def test_reassign_is_all_or_nothing(self) -> None:
        self.cl.volume_create({'name': 'v', 'size': MiB})
        self.assert_error('objectDoesNotExist', self.cl.volumes_reassign,
                          [{'volume': 'v', 'rw': [2]},
                           {'volume': 'nope', 'rw': [2]}])
        self.assertEqual([], self.cl.attachments_list())
        self.cl.volumes_reassign([{'volume': 'v', 'rw': ['2']},
                                  {'volume': 'v', 'ro': [3]}])
        self.assertEqual([(2, 'rw', 0), (3, 'ro', 0)],
                         [(a['client'], a['rights'], a['pos'])
                          for a in self.cl.attachments_list()])

    def test_rename_moves_device(self) -> None:
        self.cl.volume_create({'name': 'v', 'size': MiB})
        self.cl.volumes_reassign([{'volume': 'v', 'rw': [1]}])
        links = self.cl.devices.by_name
        self.cl.volume_update('v', {'rename': 'w'})
        self.assertEqual(['w'], os.listdir(links))
        self.cl.volumes_reassign([{'volume': 'w', 'detach': [1]}])
        self.assertEqual([], os.listdir(links))

    def test_failed_device_links_leave_nothing(self) -> None:
        self.cl.volume_create({'name': 'v', 'size': MiB})
        # A file where the by-id directory belongs: the second link fails.
        os.makedirs(self.cl.devices.dev_dir, exist_ok=True)
        with open(self.cl.devices.by_id, 'w'):
            pass
        exc = self.assertRaises(errors.EmulatorError,
                                self.cl.volumes_reassign,
                                [{'volume': 'v', 'rw': [1]}])
        self.assertEqual('internalError', exc.name)
        self.assertIn('device links of v', exc.descr)
        self.assertEqual([], os.listdir(self.cl.devices.by_name))
        self.assertEqual([], self.cl.devices.names())
        self.assertEqual([], self.cl.attachments_list())

    def test_copy_on_write_data(self) -> None:
        self.cl.volume_create({'name': 'v', 'size': 64 * MiB})
        self.cl.volumes_reassign([{'volume': 'v', 'rw': [1]}])
        with open(os.path.join(self.cl.devices.by_name, 'v'), 'r+b') as f:
            f.seek(32 * MiB)
            f.write(b'data')
        self.cl.volumes_reassign([{'volume': 'v', 'detach': [1]}])
        path = self.cl.dump()['volumes']['v']['dataObject']['path']
        inode = os.stat(path).st_ino
        # Not attached: the snapshot takes the file, the volume shares it.
        self.cl.volume_snapshot('v', {'name': 's'})
        state = self.cl.dump()
        self.assertIsNone(state['volumes']['v']['dataObject']['path'])
        path = state['snapshots']['s']['dataObject']['path']
        self.assertEqual(inode, os.stat(path).st_ino)
        self.cl.volume_create({'name': 'c', 'parent': 's'})
        self.assertIsNone(self.cl.dump()['volumes']['c']['dataObject']
                          ['path'])
        self.assertEqual(b'data', self.cl.read_data('c', 32 * MiB, 4))
        # Attaching materialises a sparse private copy.
        self.cl.volumes_reassign([{'volume': 'c', 'rw': [1]}])
        cpath = self.cl.dump()['volumes']['c']['dataObject']['path']
        self.assertNotEqual(path, cpath)
        self.assertLess(os.stat(cpath).st_blocks * 512, MiB)
        self.cl.volumes_reassign([{'volume': 'c', 'detach': [1]}])
        for name in ('v', 'c'):
            self.cl.volume_delete(name)
        self.cl.snapshot_delete('s')
        self.assertEqual([], self.cl.dump()['dataObjects'])
        self.assertEqual([], os.listdir(self.cl.data.root))

    def test_group_snapshot_validates_first(self) -> None:
        self.cl.volume_create({'name': 'a', 'size': MiB})
        self.assert_error('objectDoesNotExist',
                          self.cl.volumes_group_snapshot,
                          {'volumes': [{'volume': 'a', 'name': 'a-s'},
                                       {'volume': 'b', 'name': 'b-s'}]})
        self.assertEqual([], self.cl.snapshots_list())

    def test_reset(self) -> None:
        self.cl.volume_create({'name': 'v', 'size': MiB})
        self.cl.volumes_reassign([{'volume': 'v', 'rw': [1]}])
        gen = self.cl.generation
        self.cl.reset()
        self.assertEqual([], self.cl.volumes_list())
        self.assertEqual([], self.cl.devices.names())
        self.assertGreater(self.cl.generation, gen)


class SparseCopyTestCase(oslo_base.BaseTestCase):

    def test_holes_stay_holes(self) -> None:
        tmp = self.useFixture(fixtures.TempDir()).path
        src = os.path.join(tmp, 'src')
        dst = os.path.join(tmp, 'dst')
        with open(src, 'wb') as fobj:
            fobj.truncate(256 * MiB)
            fobj.write(b'head')
            fobj.seek(200 * MiB)
            fobj.write(b'tail')
        data.sparse_copy(src, dst, 256 * MiB)
        self.assertEqual(256 * MiB, os.path.getsize(dst))
        self.assertLess(os.stat(dst).st_blocks * 512, MiB)
        with open(dst, 'rb') as fobj:
            self.assertEqual(b'head', fobj.read(4))
            fobj.seek(200 * MiB)
            self.assertEqual(b'tail', fobj.read(4))
            fobj.seek(100 * MiB)
            self.assertEqual(b'\0' * 4096, fobj.read(4096))
        data.sparse_copy(src, dst, 2)
        self.assertEqual(2, os.path.getsize(dst))


class EveryReadCallTestCase(base.TestCase):
    """spapi's typed parsing accepts every read-only answer."""

    def test_every_read_call_parses(self) -> None:
        api = spapi.Api(self.emu.host, self.emu.port, self.emu.token,
                        transientRetries=0)
        api.volumeCreate({'name': 'v', 'size': GiB, 'template': 'hybrid'})
        api.snapshotCreate('v', {'name': 's'})
        api.volumesReassign([{'volume': 'v', 'rw': [1]}])
        status = api.volumesStatus()
        self.assertIsInstance(status['v'], sptypes.VolumeStatus)
        self.assertIsInstance(status['s'], sptypes.SnapshotStatus)
        self.assertIsInstance(api.volumeDescribe('v'), sptypes.Volume)
        self.assertEqual(3, len(api.volumeDescribe('v').targetDiskSets[0]))
        self.assertEqual(['s'], [s.name for s in api.snapshotsList()])
        self.assertEqual('v', api.snapshotList('s')[0].onVolume)
        self.assertEqual(['s'], [s.name for s in
                                 api.volumeListSnapshots('v')])
        self.assertEqual(['v'], [v.name for v in api.volumesSpace()])
        self.assertEqual(['s'], [s.name for s in api.snapshotsSpace()])
        self.assertEqual({'default', 'ssd', 'hdd'},
                         set(api.placementGroupsList()))
        self.assertEqual('running', api.servicesList().clusterStatus)
        self.assertEqual([1], [c.id for c in api.clientsConfigDump()])
        self.assertEqual([sptypes.AttachmentDesc],
                         [type(a) for a in api.attachmentsList()])
        tmpl = api.volumeTemplateDescribe('hybrid')
        self.assertEqual(('hdd', 'ssd'), (tmpl.placeAll, tmpl.placeTail))
        self.assertEqual(2, len(api.volumeTemplatesStatus()))
        for disk in api.disksList().values():
            self.assertIsInstance(disk, sptypes.UpDiskSummary)
        api.volumesReassign([{'volume': 'v', 'detach': 'all'}])
