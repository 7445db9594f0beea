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
"""Generic volume groups with consistent snapshots; manage/unmanage.

Also: manage never takes another Cinder object's StorPool object, and a
rename or group snapshot whose answer was lost is seen as done.
"""

from cinder import exception
from cinder import objects
from cinder.tests.unit import utils as test_utils
from cinder.volume import group_types
import ddt

from tests.unit.cinder import base

GiB = base.GiB


class GroupTestCase(base.DriverTestCase):

    def setUp(self):
        super().setUp()
        cg = group_types.create(
            self.ctxt, 'cg',
            {'consistent_group_snapshot_enabled': '<is> True'})
        plain = group_types.create(self.ctxt, 'plain', {})
        self.cg_type, self.plain_type = cg['id'], plain['id']

    def group(self, cg: bool = True, n: int = 2):
        grp = test_utils.create_group(
            self.ctxt, host=f'{base.HOST}@storpool#default',
            group_type_id=self.cg_type if cg else self.plain_type,
            volume_type_ids=[])
        vols = [self.volume(size=i + 1, group_id=grp.id) for i in range(n)]
        return grp, vols

    def group_snapshot(self, grp, vols):
        gsnap = test_utils.create_group_snapshot(
            self.ctxt, grp.id, group_type_id=grp.group_type_id)
        snaps = [self.snapshot(v, group_snapshot_id=gsnap.id) for v in vols]
        return gsnap, snaps

    def test_non_cg_groups_are_cinders(self):
        grp, vols = self.group(cg=False)
        gsnap, snaps = self.group_snapshot(grp, vols)
        for call in (lambda: self.driver.create_group(self.ctxt, grp),
                     lambda: self.driver.update_group(self.ctxt, grp),
                     lambda: self.driver.delete_group(self.ctxt, grp, vols),
                     lambda: self.driver.create_group_snapshot(
                         self.ctxt, gsnap, snaps),
                     lambda: self.driver.delete_group_snapshot(
                         self.ctxt, gsnap, snaps),
                     lambda: self.driver.create_group_from_src(
                         self.ctxt, grp, vols, gsnap, snaps)):
            self.assertRaises(NotImplementedError, call)
        self.assertEqual([], self.queries())

    def test_group_lifecycle(self):
        grp, vols = self.group()
        self.assertEqual({'status': 'available'},
                         self.driver.create_group(self.ctxt, grp))
        self.assertEqual((None, None, None),
                         self.driver.update_group(self.ctxt, grp, vols, []))
        for vol in vols:
            self.driver.create_volume(vol)
        gsnap, snaps = self.group_snapshot(grp, vols)
        self.clear_calls()
        model, snap_updates = self.driver.create_group_snapshot(
            self.ctxt, gsnap, snaps)
        self.assertEqual(['VolumesGroupSnapshot'], self.queries())
        self.assertEqual('available', model['status'])
        self.assertEqual(sorted(s.id for s in snaps),
                         sorted(u['id'] for u in snap_updates))
        self.assertEqual(sorted(self.sname(s) for s in snaps),
                         sorted(self.snapshots()))

        # A new group from the group snapshot.
        grp2, vols2 = self.group()
        self.clear_calls()
        model, updates = self.driver.create_group_from_src(
            self.ctxt, grp2, vols2, gsnap, snaps)
        self.assertEqual(['VolumeCreate', 'VolumeCreate'], self.queries())
        self.assertEqual({'available'}, {u['status'] for u in updates})
        for vol, snap in zip(vols2, snaps):
            self.assertEqual(self.sname(snap),
                             self.sp_volume(vol)['parentName'])

        self.clear_calls()
        model, snap_updates = self.driver.delete_group_snapshot(
            self.ctxt, gsnap, snaps)
        self.assertEqual('deleted', model['status'])
        self.assertEqual({}, self.snapshots())

        model, updates = self.driver.delete_group(self.ctxt, grp, vols)
        self.assertEqual('deleted', model['status'])
        self.assertEqual({'deleted'}, {u['status'] for u in updates})
        self.assertEqual(sorted(self.vname(v) for v in vols2),
                         sorted(self.state()['volumes']))

    def test_group_from_group_is_consistent_and_clean(self):
        grp, vols = self.group()
        for vol in vols:
            self.driver.create_volume(vol)
        grp2, vols2 = self.group()
        self.clear_calls()
        self.driver.create_group_from_src(self.ctxt, grp2, vols2,
                                          source_group=grp, source_vols=vols)
        self.assertEqual(['VolumesGroupSnapshot', 'VolumeCreate',
                          'VolumeCreate', 'SnapshotDelete', 'SnapshotDelete'],
                         self.queries())
        self.assertEqual({}, self.snapshots())
        self.assertEqual(4, len(self.state()['volumes']))

    def test_group_from_src_rolls_back(self):
        grp, vols = self.group()
        for vol in vols:
            self.driver.create_volume(vol)
        grp2, vols2 = self.group()
        self.inject('VolumeCreate', nth=2, descr='out of space')
        exc = self.assertRaises(
            exception.VolumeBackendAPIException,
            self.driver.create_group_from_src, self.ctxt, grp2, vols2,
            source_group=grp, source_vols=vols)
        self.assertIn('out of space', str(exc))
        self.assertEqual({}, self.snapshots())
        self.assertEqual(sorted(self.vname(v) for v in vols),
                         sorted(self.state()['volumes']))

    def test_delete_group_reports_each_volume(self):
        grp, vols = self.group()
        for vol in vols:
            self.driver.create_volume(vol)
        self.inject('VolumeDelete', nth=1, descr='disk down')
        model, updates = self.driver.delete_group(self.ctxt, grp, vols)
        self.assertEqual('error_deleting', model['status'])
        self.assertEqual(['error_deleting', 'deleted'],
                         [u['status'] for u in updates])
        self.assertEqual([self.vname(vols[0])],
                         list(self.state()['volumes']))

    def test_delete_group_snapshot_reports_each_snapshot(self):
        grp, vols = self.group()
        for vol in vols:
            self.driver.create_volume(vol)
        gsnap, snaps = self.group_snapshot(grp, vols)
        self.driver.create_group_snapshot(self.ctxt, gsnap, snaps)
        self.inject('SnapshotDelete', nth=2, descr='disk down')
        model, updates = self.driver.delete_group_snapshot(
            self.ctxt, gsnap, snaps)
        self.assertEqual('error_deleting', model['status'])
        self.assertEqual([(snaps[0].id, 'deleted'),
                          (snaps[1].id, 'error_deleting')],
                         [(u['id'], u['status']) for u in updates])
        self.assertEqual([self.sname(snaps[1])], list(self.snapshots()))


@ddt.ddt
class ManageTestCase(base.DriverTestCase):

    def foreign(self, name: str = 'legacy-data', size: int = GiB + 4096,
                template: str | None = None) -> dict:
        desc = {'name': name, 'size': size, 'replication': 2}
        if template:
            desc = {'name': name, 'size': size, 'template': template}
        res = self.driver._api.volume_create(desc)
        self.clear_calls()
        return res

    @ddt.data('name', 'id')
    def test_manage_volume(self, how):
        gid = self.foreign()['globalId']
        ref = {'source-name': 'legacy-data'} if how == 'name' else \
            {'source-id': gid}
        vol = self.volume(size=2, type_id=self.vtype(
            'gold', {'storpool_template': 'ssd',
                     'storpool:qos_class': 'gold'}))
        self.assertEqual(2, self.driver.manage_existing_get_size(vol, ref))
        self.clear_calls()
        self.driver.manage_existing(vol, ref)
        self.assertEqual(['Volume', 'VolumeUpdate'], self.queries())
        spv = self.sp_volume(vol)
        self.assertEqual((gid, 2 * GiB, 'ssd', {'qc': 'gold'}),
                         (spv['globalId'], spv['size'], spv['templateName'],
                          spv['tags']))
        self.assertNotIn('legacy-data', self.state()['volumes'])

    @ddt.data({}, {'source-name': 'nope'}, {'source-id': 'not-a-gid'},
              {'source-id': 'e.m.zzzz'})
    def test_manage_bad_reference(self, ref):
        self.foreign()
        exc = self.assertRaises(exception.ManageExistingInvalidReference,
                                self.driver.manage_existing, self.volume(),
                                ref)
        self.assertIn('StorPool', str(exc))
        self.assertIn('legacy-data', self.state()['volumes'])

    def test_unmanage_keeps_the_data(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        gid = self.sp_volume(vol)['globalId']
        self.driver.unmanage(vol)
        vols = self.state()['volumes']
        self.assertEqual([f'{self.prefix}--unmanaged--volume-{vol.id}'],
                         list(vols))
        self.assertEqual(gid, list(vols.values())[0]['globalId'])
        # ... and it can be managed again.
        again = self.volume()
        self.driver.manage_existing(again, {'source-id': gid})
        self.assertEqual(gid, self.sp_volume(again)['globalId'])

    def test_manageable_volumes(self):
        self.foreign()
        mine = self.volume()
        self.driver.create_volume(mine)
        gone = self.volume()
        self.driver._api.volume_create({'name': self.vname(gone),
                                        'size': GiB, 'replication': 3})
        gone.destroy()
        self.clear_calls()
        listed = self.driver.get_manageable_volumes(
            objects.VolumeList.get_all(self.ctxt), None, 100, 0,
            ['size'], ['asc'])
        self.assertEqual(['VolumesList'], self.queries())
        by_name = {e['reference']['source-name']: e for e in listed}
        self.assertEqual({'legacy-data', self.vname(mine),
                          self.vname(gone)}, set(by_name))
        self.assertFalse(by_name[self.vname(mine)]['safe_to_manage'])
        self.assertEqual(mine.id, by_name[self.vname(mine)]['cinder_id'])
        self.assertTrue(by_name[self.vname(gone)]['safe_to_manage'])
        self.assertTrue(by_name['legacy-data']['safe_to_manage'])
        self.assertEqual(2, by_name['legacy-data']['size'])
        page = self.driver.get_manageable_volumes(
            objects.VolumeList.get_all(self.ctxt), None, 1, 0,
            ['size'], ['desc'])
        self.assertEqual(['legacy-data'],
                         [e['reference']['source-name'] for e in page])

    def test_manage_snapshots(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        self.driver._api.snapshot_create(self.vname(vol),
                                         {'name': 'backup-1'})
        mine = self.snapshot(vol)
        self.driver.create_snapshot(mine)
        self.driver.delete_volume(self.make_deferred_victim())
        self.clear_calls()
        listed = self.driver.get_manageable_snapshots(
            objects.SnapshotList.get_all(self.ctxt, {}), None, 100, 0,
            ['size'], ['asc'])
        self.assertEqual(['SnapshotsList'], self.queries())
        by_name = {e['reference']['source-name']: e for e in listed}
        self.assertTrue(by_name['backup-1']['safe_to_manage'])
        self.assertEqual({'source-name': self.vname(vol)},
                         by_name['backup-1']['source_reference'])
        self.assertEqual(mine.id, by_name[self.sname(mine)]['cinder_id'])
        deleted = [e for n, e in by_name.items() if '--deleted--' in n]
        self.assertEqual(1, len(deleted))
        self.assertFalse(deleted[0]['safe_to_manage'])

        new = self.snapshot(vol)
        self.assertEqual(1, self.driver.manage_existing_snapshot_get_size(
            new, {'source-name': 'backup-1'}))
        self.driver.manage_existing_snapshot(new, {'source-name': 'backup-1'})
        self.assertIn(self.sname(new), self.snapshots())
        self.assertNotIn('backup-1', self.snapshots())
        self.driver.unmanage_snapshot(new)
        self.assertIn(f'{self.prefix}--unmanaged--none--snapshot-{new.id}',
                      self.snapshots())

    def make_deferred_victim(self):
        victim = self.volume()
        self.driver.create_volume(victim)
        self.driver = self.make_driver(storpool_deferred_delete_hours=1)
        return victim


# Manage must never take the StorPool object of another Cinder object.
# A mistyped `cinder manage` reference that names a volume or snapshot
# Cinder already has would rename it away from under that object: its
# volume or snapshot would then be VolumeNotFound/SnapshotNotFound for
# ever. Cinder has ManageExistingAlreadyManaged for exactly this.

@ddt.ddt
class ManageAlreadyManagedTestCase(base.DriverTestCase):

    def ref(self, how: str, name: str) -> dict:
        if how == 'name':
            return {'source-name': name}
        return {'source-id': self.state()['volumes'][name]['globalId']}

    @ddt.data('name', 'id')
    def test_volume_of_another_cinder_volume(self, how):
        other = self.volume(size=2)
        self.driver.create_volume(other)
        new = self.volume()
        ref = self.ref(how, self.vname(other))
        for call in (self.driver.manage_existing_get_size,
                     self.driver.manage_existing):
            exc = self.assertRaises(exception.ManageExistingAlreadyManaged,
                                    call, new, ref)
            self.assertIn(other.id, str(exc))
        self.assertEqual([self.vname(other)], list(self.state()['volumes']))

    def test_volume_of_a_migrated_cinder_volume(self):
        # Cinder volume `other` keeps its data under its _name_id.
        stored = self.volume()
        self.driver.create_volume(stored)
        name = self.vname(stored)
        stored.destroy()
        other = self.volume()
        other._name_id = stored.id
        other.save()
        self.assertRaises(exception.ManageExistingAlreadyManaged,
                          self.driver.manage_existing, self.volume(),
                          {'source-name': name})
        self.assertEqual([name], list(self.state()['volumes']))

    def test_volume_of_a_deleted_cinder_volume_can_be_managed(self):
        gone = self.volume(size=2)
        self.driver.create_volume(gone)
        name = self.vname(gone)
        gone.destroy()
        new = self.volume()
        self.driver.manage_existing(new, {'source-name': name})
        self.assertEqual([self.vname(new)], list(self.state()['volumes']))

    def test_volume_of_a_failed_manage_can_be_managed_again(self):
        # The first manage renamed it, then Cinder's flow failed: that
        # record (error_managing) has no claim, and deleting it later
        # must not find the data.
        self.driver._api.volume_create(
            {'name': 'legacy-data', 'size': 2 * base.GiB, 'replication': 3})
        failed = self.volume(status='error_managing')
        self.driver.manage_existing(failed, {'source-name': 'legacy-data'})
        again = self.volume()
        self.driver.manage_existing(again,
                                    {'source-name': self.vname(failed)})
        self.driver.delete_volume(failed)
        self.assertEqual([self.vname(again)], list(self.state()['volumes']))

    def test_snapshot_of_another_cinder_snapshot(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        other = self.snapshot(vol)
        self.driver.create_snapshot(other)
        new = self.snapshot(vol)
        ref = {'source-name': self.sname(other)}
        for call in (self.driver.manage_existing_snapshot_get_size,
                     self.driver.manage_existing_snapshot):
            exc = self.assertRaises(exception.ManageExistingAlreadyManaged,
                                    call, new, ref)
            self.assertIn(other.id, str(exc))
        self.assertEqual([self.sname(other)], list(self.snapshots()))


# A rename that StorPool did, but whose answer was lost.
# The API client retries a call whose connection was reset (a management
# failover does that). For a rename the retry meets "does not exist": the
# first attempt already did it. The driver must see that the rename
# happened, or Cinder ends up with a record that names nothing (and, for
# a failed manage, a delete of that record deletes the managed data).
# The emulator's drop-answer fault runs the call and then, once, resets the
# driver's connection instead of answering.


class _LostAnswerTestCase(base.DriverTestCase):

    def lost_answer(self, query: str, retries: int = 1):
        """A driver whose next `query` is done but gets no answer."""
        self.emu.control.drop_answer(query)
        return self.make_driver(storpool_api_retries=retries)

    def assertAnswerDropped(self, query: str) -> None:
        self.assertEqual(1, sum(c['answerDropped']
                                for c in self.calls(query)))


class LostRenameAnswerTestCase(_LostAnswerTestCase):

    def test_manage_volume(self):
        gid = self.driver._api.volume_create(
            {'name': 'legacy-data', 'size': GiB, 'replication': 3}
        )['globalId']
        drv = self.lost_answer('VolumeUpdate')
        vol = self.volume()
        drv.manage_existing(vol, {'source-name': 'legacy-data'})
        self.assertAnswerDropped('VolumeUpdate')
        self.assertEqual(gid, self.sp_volume(vol)['globalId'])

    def test_manage_snapshot(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        self.driver._api.snapshot_create(self.vname(vol),
                                         {'name': 'backup-1'})
        drv = self.lost_answer('SnapshotUpdate')
        snap = self.snapshot(vol)
        drv.manage_existing_snapshot(snap, {'source-name': 'backup-1'})
        self.assertAnswerDropped('SnapshotUpdate')
        self.assertEqual([self.sname(snap)], list(self.snapshots()))

    def test_update_migrated_volume(self):
        orig = self.volume()
        new = self.volume(size=2)
        self.driver.create_volume(new)
        drv = self.lost_answer('VolumeUpdate')
        res = drv.update_migrated_volume(self.ctxt, orig, new, 'available')
        self.assertAnswerDropped('VolumeUpdate')
        self.assertEqual({'_name_id': None}, res)
        self.assertEqual([self.vname(orig)], list(self.state()['volumes']))

    def test_manage_of_a_vanished_volume_still_fails(self):
        # "Does not exist" without a rename behind it stays an error.
        self.driver._api.volume_create(
            {'name': 'legacy-data', 'size': GiB, 'replication': 3})
        vol = self.volume()
        self.inject('VolumeUpdate', name='objectDoesNotExist',
                    descr='Volume legacy-data does not exist')
        self.assertRaises(exception.VolumeNotFound,
                          self.driver.manage_existing, vol,
                          {'source-name': 'legacy-data'})
        self.assertIsNone(self.sp_volume(vol))

    def test_create_snapshot(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        drv = self.lost_answer('VolumeSnapshot')
        snap = self.snapshot(vol)
        drv.create_snapshot(snap)
        self.assertAnswerDropped('VolumeSnapshot')
        self.assertEqual([self.sname(snap)], list(self.snapshots()))

    def test_create_snapshot_name_of_another_volume(self):
        # objectExists for a snapshot of something else stays an error.
        vol, other = self.volume(), self.volume()
        self.driver.create_volume(vol)
        self.driver.create_volume(other)
        snap = self.snapshot(vol)
        self.driver._api.snapshot_create(self.vname(other),
                                         {'name': self.sname(snap)})
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.create_snapshot, snap)
        self.assertIn('objectExists', str(exc))


class LostGroupSnapshotAnswerTestCase(_LostAnswerTestCase):
    """The same for VolumesGroupSnapshot (group snapshots, group clones)."""

    def setUp(self):
        super().setUp()
        cg = group_types.create(
            self.ctxt, 'cg',
            {'consistent_group_snapshot_enabled': '<is> True'})
        self.group_type = cg['id']

    def group(self):
        grp = test_utils.create_group(
            self.ctxt, host=f'{base.HOST}@storpool#default',
            group_type_id=self.group_type, volume_type_ids=[])
        vols = [self.volume(group_id=grp.id) for _ in range(2)]
        for vol in vols:
            self.driver.create_volume(vol)
        return grp, vols

    def test_group_snapshot(self):
        grp, vols = self.group()
        gsnap = test_utils.create_group_snapshot(
            self.ctxt, grp.id, group_type_id=self.group_type)
        snaps = [self.snapshot(v, group_snapshot_id=gsnap.id) for v in vols]
        drv = self.lost_answer('VolumesGroupSnapshot')
        model, _updates = drv.create_group_snapshot(self.ctxt, gsnap, snaps)
        self.assertAnswerDropped('VolumesGroupSnapshot')
        self.assertEqual('available', model['status'])
        self.assertEqual(sorted(self.sname(s) for s in snaps),
                         sorted(self.snapshots()))

    def target_group(self, count: int) -> tuple:
        """An empty group with `count` new volumes, to clone into."""
        grp = test_utils.create_group(
            self.ctxt, host=f'{base.HOST}@storpool#default',
            group_type_id=self.group_type, volume_type_ids=[])
        return grp, [self.volume(group_id=grp.id) for _ in range(count)]

    def test_group_from_group(self):
        grp, vols = self.group()
        grp2, vols2 = self.target_group(len(vols))
        drv = self.lost_answer('VolumesGroupSnapshot')
        drv.create_group_from_src(self.ctxt, grp2, vols2,
                                  source_group=grp, source_vols=vols)
        self.assertAnswerDropped('VolumesGroupSnapshot')
        self.assertEqual({}, self.snapshots())
        self.assertEqual(sorted(self.vname(v) for v in vols + vols2),
                         sorted(self.state()['volumes']))

    def test_group_from_group_no_retry_leaves_nothing(self):
        # Without a retry the call fails, but StorPool made the temporary
        # snapshots: they must not stay behind.
        grp, vols = self.group()
        grp2, vols2 = self.target_group(len(vols))
        drv = self.lost_answer('VolumesGroupSnapshot', retries=0)
        self.assertRaises(exception.VolumeBackendAPIException,
                          drv.create_group_from_src, self.ctxt, grp2, vols2,
                          source_group=grp, source_vols=vols)
        self.assertAnswerDropped('VolumesGroupSnapshot')
        self.assertEqual({}, self.snapshots())
        self.assertEqual(sorted(self.vname(v) for v in vols),
                         sorted(self.state()['volumes']))

    def test_group_snapshot_name_taken_by_another_volume(self):
        grp, vols = self.group()
        gsnap = test_utils.create_group_snapshot(
            self.ctxt, grp.id, group_type_id=self.group_type)
        snaps = [self.snapshot(v, group_snapshot_id=gsnap.id) for v in vols]
        # The second name is taken by a snapshot of the first volume.
        self.driver._api.snapshot_create(self.vname(vols[0]),
                                         {'name': self.sname(snaps[1])})
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.create_group_snapshot,
                                self.ctxt, gsnap, snaps)
        self.assertIn('objectExists', str(exc))
        self.assertEqual([self.sname(snaps[1])], list(self.snapshots()))
