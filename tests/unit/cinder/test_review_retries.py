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
"""A rename that StorPool did, but whose answer was lost.

The API client retries a call whose connection was reset (a management
failover does that). For a rename the retry meets "does not exist": the
first attempt already did it. The driver must see that the rename
happened, or Cinder ends up with a record that names nothing (and, for
a failed manage, a delete of that record deletes the managed data).

The emulator's drop-answer fault runs the call and then, once, resets the
driver's connection instead of answering.
"""

from cinder import exception
from cinder.tests.unit import utils as test_utils
from cinder.volume import group_types

from tests.unit.cinder import base

GiB = base.GiB


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
