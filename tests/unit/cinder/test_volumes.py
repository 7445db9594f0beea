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
"""Volumes, snapshots, clones, reverts, migration renames, deletion."""

import os
import socket
import time

from cinder import exception
import ddt
import fixtures

from storpool_openstack.cinder import deferred
from tests.unit.cinder import base

GiB = base.GiB
DRIVER = 'storpool_openstack.cinder.driver.StorPoolDriver'


@ddt.ddt
class VolumeTestCase(base.DriverTestCase):

    def test_create_no_type(self):
        vol = self.volume(size=2)
        self.driver.create_volume(vol)
        self.assertEqual(['VolumeCreate'], self.queries())
        body = self.calls('VolumeCreate')[0]['body']
        self.assertEqual({'name': self.vname(vol), 'size': 2 * GiB,
                          'replication': 3}, body)
        spv = self.sp_volume(vol)
        self.assertEqual(2 * GiB, spv['size'])
        self.assertEqual('', spv['templateName'])

    @ddt.data(('ssd', None, 'ssd'), (None, 'hdd', 'hdd'),
              ('ssd', 'hdd', 'hdd'))
    @ddt.unpack
    def test_create_template(self, config_tmpl, type_tmpl, expected):
        drv = self.make_driver(storpool_template=config_tmpl)
        type_id = self.vtype('t', {'storpool_template': type_tmpl}) \
            if type_tmpl else None
        vol = self.volume(type_id=type_id)
        drv.create_volume(vol)
        self.assertEqual(expected, self.sp_volume(vol)['templateName'])
        self.assertNotIn('replication', self.calls('VolumeCreate')[0]['body'])

    def test_missing_template_is_backend_error(self):
        # Not VolumeNotFound/SnapshotNotFound: those name the source.
        vol = self.volume()
        self.driver.create_volume(vol)
        snap = self.snapshot(vol)
        self.driver.create_snapshot(snap)
        drv = self.make_driver(storpool_template='nope')
        for call, args in ((drv.create_volume, ()),
                           (drv.create_volume_from_snapshot, (snap,)),
                           (drv.create_cloned_volume, (vol,))):
            new = self.volume()
            exc = self.assertRaises(exception.VolumeBackendAPIException,
                                    call, new, *args)
            self.assertIn(new.id, str(exc))
            self.assertIn('nope', str(exc))
            self.assertIsNone(self.sp_volume(new))
        self.assertEqual([self.vname(vol)], list(self.state()['volumes']))

    def test_create_exists_is_backend_error(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.create_volume, vol)
        self.assertIn(vol.id, str(exc))
        self.assertIn('objectExists', str(exc))

    def test_delete_detached_is_one_call(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        self.clear_calls()
        self.driver.delete_volume(vol)
        self.assertEqual(['VolumeDelete'], self.queries())
        self.assertIsNone(self.sp_volume(vol))

    def test_delete_missing_is_success(self):
        vol = self.volume()
        self.driver.delete_volume(vol)
        self.assertEqual(['VolumeDelete'], self.queries())

    def test_delete_attached_detaches_first(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        self.driver._api.volumes_reassign(
            [{'volume': self.vname(vol), 'rw': [self.emu.client_id]}])
        self.assertEqual(1, len(self.state()['attachments']))
        self.clear_calls()
        self.driver.delete_volume(vol)
        self.assertEqual(['VolumeDelete', 'VolumesReassign', 'VolumeDelete'],
                         self.queries())
        self.assertEqual({'volume': self.vname(vol), 'detach': 'all'},
                         {k: v for k, v in self.calls('VolumesReassign')[0][
                             'body'][0].items() if k != 'force'})
        self.assertIsNone(self.sp_volume(vol))
        self.assertEqual([], self.state()['attachments'])

    def test_delete_open_volume_is_busy(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        self.attach_open(vol)
        exc = self.assertRaises(exception.VolumeIsBusy,
                                self.driver.delete_volume, vol)
        self.assertIn(vol.id, str(exc))
        self.assertIn('is open at client 1', str(exc))
        self.assertIsNotNone(self.sp_volume(vol))

    def test_delete_other_error_translated(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        self.inject('VolumeDelete', name='internalError', descr='disk down')
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.delete_volume, vol)
        self.assertIn('disk down', str(exc))
        self.assertIn(self.vname(vol), str(exc))
        self.assertNotIn('VolumesReassign', self.queries())

    def test_extend(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        self.clear_calls()
        self.driver.extend_volume(vol, 3)
        self.assertEqual(['VolumeUpdate'], self.queries())
        self.assertEqual({'size': 3 * GiB},
                         self.calls('VolumeUpdate')[0]['body'])
        self.assertEqual(3 * GiB, self.sp_volume(vol)['size'])

    def test_extend_missing_is_volume_not_found(self):
        vol = self.volume()
        exc = self.assertRaises(exception.VolumeNotFound,
                                self.driver.extend_volume, vol, 2)
        self.assertIn(vol.id, str(exc))
        self.assertIn('objectDoesNotExist', str(exc))

    # Snapshots

    def test_snapshot_create_delete(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        snap = self.snapshot(vol)
        self.clear_calls()
        self.driver.create_snapshot(snap)
        self.assertEqual(['VolumeSnapshot'], self.queries())
        self.assertIn(self.sname(snap), self.snapshots())
        self.clear_calls()
        self.driver.delete_snapshot(snap)
        self.assertEqual(['SnapshotDelete'], self.queries())
        self.assertEqual({}, self.snapshots())
        self.driver.delete_snapshot(snap)  # idempotent

    def test_snapshot_of_missing_volume(self):
        vol = self.volume()
        snap = self.snapshot(vol)
        self.assertRaises(exception.VolumeNotFound,
                          self.driver.create_snapshot, snap)

    @ddt.data(1, 3)
    def test_volume_from_snapshot_one_call(self, size):
        vol = self.volume()
        self.driver.create_volume(vol)
        snap = self.snapshot(vol)
        self.driver.create_snapshot(snap)
        new = self.volume(size=size)
        self.clear_calls()
        self.driver.create_volume_from_snapshot(new, snap)
        self.assertEqual(['VolumeCreate'], self.queries())
        spv = self.sp_volume(new)
        self.assertEqual(size * GiB, spv['size'])
        self.assertEqual(self.sname(snap), spv['parentName'])

    def test_volume_from_missing_snapshot(self):
        vol = self.volume()
        snap = self.snapshot(vol)
        exc = self.assertRaises(exception.SnapshotNotFound,
                                self.driver.create_volume_from_snapshot,
                                self.volume(), snap)
        self.assertIn(snap.id, str(exc))
        self.assertEqual({}, self.state()['volumes'])

    def test_volume_from_snapshot_into_template(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        snap = self.snapshot(vol)
        self.driver.create_snapshot(snap)
        new = self.volume(type_id=self.vtype(
            'ssd', {'storpool_template': 'ssd'}))
        self.driver.create_volume_from_snapshot(new, snap)
        self.assertEqual('ssd', self.sp_volume(new)['templateName'])

    # Clones

    @ddt.data((None, None), ('hybrid', 'hybrid'), ('hybrid', 'ssd'),
              (None, 'ssd'), ('ssd', None))
    @ddt.unpack
    def test_clone_one_call_no_leftovers(self, src_tmpl, dst_tmpl):
        types = {t: self.vtype(t, {'storpool_template': t})
                 for t in {src_tmpl, dst_tmpl} if t}
        src = self.volume(type_id=types.get(src_tmpl))
        self.driver.create_volume(src)
        dst = self.volume(size=2, type_id=types.get(dst_tmpl))
        self.clear_calls()
        self.driver.create_cloned_volume(dst, src)
        self.assertEqual(['VolumeCreate'], self.queries())
        body = self.calls('VolumeCreate')[0]['body']
        self.assertEqual(self.vname(src), body['baseOn'])
        state = self.state()
        self.assertEqual({}, self.snapshots())
        spv = state['volumes'][self.vname(dst)]
        self.assertEqual(2 * GiB, spv['size'])
        self.assertEqual(dst_tmpl or src_tmpl or '', spv['templateName'])

    def test_clone_missing_source(self):
        src = self.volume()
        exc = self.assertRaises(exception.VolumeNotFound,
                                self.driver.create_cloned_volume,
                                self.volume(), src)
        self.assertEqual(src.id, exc.kwargs['volume_id'])

    # Revert

    def test_revert_is_one_call(self):
        self.assertFalse(self.driver.snapshot_revert_use_temp_snapshot())
        vol = self.volume()
        self.driver.create_volume(vol)
        snap = self.snapshot(vol)
        self.driver.create_snapshot(snap)
        self.clear_calls()
        self.driver.revert_to_snapshot(self.ctxt, vol, snap)
        self.assertEqual(['VolumeRevert'], self.queries())
        self.assertEqual({'toSnapshot': self.sname(snap)},
                         self.calls('VolumeRevert')[0]['body'])

    def test_revert_after_extend_keeps_size(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        snap = self.snapshot(vol)
        self.driver.create_snapshot(snap)
        self.driver.extend_volume(vol, 2)
        vol.size = 2
        vol.save()
        self.clear_calls()
        self.driver.revert_to_snapshot(self.ctxt, vol, snap)
        self.assertEqual(['VolumeRevert', 'VolumeUpdate'], self.queries())
        spv = self.sp_volume(vol)
        self.assertEqual(2 * GiB, spv['size'])
        self.assertEqual(self.sname(snap), spv['parentName'])

    def test_revert_error(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        snap = self.snapshot(vol)
        self.driver.create_snapshot(snap)
        self.inject('VolumeRevert', descr='cannot revert now')
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.revert_to_snapshot, self.ctxt,
                                vol, snap)
        self.assertIn('cannot revert now', str(exc))

    # Migration

    def test_update_migrated_volume_renames(self):
        orig = self.volume()
        new = self.volume()
        self.driver.create_volume(new)
        self.clear_calls()
        res = self.driver.update_migrated_volume(self.ctxt, orig, new,
                                                 'available')
        self.assertEqual({'_name_id': None}, res)
        self.assertEqual(['VolumeUpdate'], self.queries())
        self.assertEqual([self.vname(orig)], list(self.state()['volumes']))

    def test_update_migrated_volume_source_still_there(self):
        # Same cluster: no swap (Cinder deletes the source through the
        # other record, by the original name); the data keeps its name.
        orig = self.volume(size=1)
        new = self.volume(size=2)
        self.driver.create_volume(orig)
        self.driver.create_volume(new)
        self.clear_calls()
        res = self.driver.update_migrated_volume(self.ctxt, orig, new,
                                                 'available')
        self.assertEqual({'_name_id': new.id}, res)
        vols = self.state()['volumes']
        self.assertEqual({self.vname(orig), self.vname(new)}, set(vols))
        self.assertEqual(1 * GiB, vols[self.vname(orig)]['size'])
        self.assertEqual(2 * GiB, vols[self.vname(new)]['size'])
        self.assertEqual(1, len(self.calls('VolumeUpdate')))

    def test_update_migrated_volume_falls_back_to_name_id(self):
        orig = self.volume()
        new = self.volume()
        self.driver.create_volume(new)
        self.inject('VolumeUpdate', descr='rename refused')
        res = self.driver.update_migrated_volume(self.ctxt, orig, new,
                                                 'available')
        self.assertEqual({'_name_id': new.id}, res)
        self.assertEqual([self.vname(new)], list(self.state()['volumes']))
        # The driver then finds the volume through its _name_id.
        orig._name_id = new.id
        self.clear_calls()
        self.driver.extend_volume(orig, 2)
        self.assertEqual(2 * GiB, self.state()['volumes'][
            self.vname(new)]['size'])
        conn = self.driver.initialize_connection(
            orig, {'host': 'h', 'storpool_client_id': 3})
        self.assertEqual(new.id, conn['data']['volume'])

    def _migrated(self):
        """`orig` after a same-cluster migration that kept _name_id."""
        orig = self.volume(size=1)
        new = self.volume(size=2)
        self.driver.create_volume(orig)
        self.driver.create_volume(new)
        snap = self.migrate_then_snapshot(self.driver, orig, new)
        self.clear_calls()
        return new, snap

    def assert_snapshot_of(self, volume, snap):
        # The migrated data, not the stale source that still has the
        # original name until Cinder deletes it.
        self.assertEqual(self.vname(volume), self.snapshots()[
            self.sname(snap)]['onVolume'])
        self.assertEqual(['VolumeSnapshot'], self.queries())

    def test_snapshot_after_migration_without_a_volume_load(self):
        new, snap = self._migrated()
        self.driver.create_snapshot(snap)
        self.assert_snapshot_of(new, snap)
        # The driver knew where the data is: no database load.
        self.assertFalse(snap.obj_attr_is_set('volume'))

    def test_snapshot_of_a_volume_not_seen_since_start(self):
        new, snap = self._migrated()
        self.make_driver().create_snapshot(snap)
        self.assert_snapshot_of(new, snap)
        self.assertTrue(snap.obj_attr_is_set('volume'))

    def test_get_pool(self):
        self.assertEqual('default', self.driver.get_pool(self.volume()))

    def test_exports_are_noops(self):
        vol = self.volume()
        self.driver.create_export(self.ctxt, vol, {})
        self.driver.ensure_export(self.ctxt, vol)
        self.driver.remove_export(self.ctxt, vol)
        self.driver.terminate_connection(vol, {})
        self.assertEqual([], self.queries())


class DeferredDeleteTestCase(base.DriverTestCase):

    def setUp(self):
        super().setUp()
        self.driver = self.make_driver(storpool_deferred_delete_hours=2)

    def test_delete_keeps_a_tagged_snapshot(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        self.clear_calls()
        self.driver.delete_volume(vol)
        self.assertEqual(['VolumeSnapshot', 'VolumeDelete'], self.queries())
        state = self.state()
        self.assertIsNone(state['volumes'].get(self.vname(vol)))
        [(name, snap)] = self.snapshots().items()
        self.assertTrue(name.startswith(f'{self.prefix}--deleted--'))
        self.assertTrue(name.endswith(f'--snapshot-{vol.id}'))
        pending = deferred.list_deferred(self.driver._api, self.prefix, 2)
        self.assertEqual([vol.id], [p['volume_id'] for p in pending])
        self.assertEqual(snap['tags'][deferred.TAG],
                         str(pending[0]['deleted_at']))
        self.assertEqual(pending[0]['deleted_at'] + 7200,
                         pending[0]['expires_at'])
        self.assertEqual(str(pending[0]['expires_at']),
                         snap['tags'][deferred.TAG_UNTIL])
        # Not yet due: nothing happens; due: it goes.
        self.assertEqual([], deferred.reap(self.driver._api, self.prefix, 2))
        done = deferred.reap(self.driver._api, self.prefix, 2,
                             now=pending[0]['expires_at'] + 1)
        self.assertEqual([name], done)
        self.assertEqual({}, self.snapshots())

    def test_window_is_the_deleting_backends(self):
        # Another backend on this cluster keeps deletions 48 h; this one's
        # 2 h reaper must not cut that short, and keeps its own 2 h.
        other = self.make_driver('sp-long', storpool_deferred_delete_hours=48)
        long_vol, short_vol = self.volume(), self.volume()
        for drv, vol in ((other, long_vol), (self.driver, short_vol)):
            drv.create_volume(vol)
            drv.delete_volume(vol)
        pending = {p['volume_id']: p for p in deferred.list_deferred(
            self.driver._api, self.prefix, 2)}
        deleted_at = pending[long_vol.id]['deleted_at']
        self.assertEqual(deleted_at + 48 * 3600,
                         pending[long_vol.id]['expires_at'])
        later = deleted_at + 3 * 3600
        done = deferred.reap(self.driver._api, self.prefix, 2, now=later)
        self.assertEqual([pending[short_vol.id]['name']], done)
        self.assertEqual([pending[long_vol.id]['name']],
                         list(self.snapshots()))
        self.assertEqual([pending[long_vol.id]['name']], deferred.reap(
            self.driver._api, self.prefix, 2, now=deleted_at + 48 * 3600))

    def test_delete_missing(self):
        vol = self.volume()
        self.driver.delete_volume(vol)
        self.assertEqual(['VolumeSnapshot'], self.queries())
        self.assertEqual({}, self.snapshots())

    def test_failed_delete_rolls_back(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        self.attach_open(vol)
        self.assertRaises(exception.VolumeIsBusy, self.driver.delete_volume,
                          vol)
        state = self.state()
        self.assertEqual({}, self.snapshots())
        self.assertIn(self.vname(vol), state['volumes'])
        self.driver._api.volumes_reassign(
            [{'volume': self.vname(vol), 'detach': 'all'}])

    def _expired(self, count: int) -> list[str]:
        """`count` deferred deletions, due long ago; their names."""
        names = []
        for _ in range(count):
            vol = self.volume()
            self.driver.create_volume(vol)
            name = deferred.snapshot_name(vol.id, self.prefix, 1000)
            self.driver._api.snapshot_create(
                self.vname(vol), {'name': name,
                                  'tags': {deferred.TAG: '1000'}})
            self.driver._api.volume_delete(self.vname(vol))
            names.append(name)
        return names

    def test_stats_refresh_does_not_reap(self):
        self._expired(1)
        self.clear_calls()
        self.driver.get_volume_stats(refresh=True)
        self.assertEqual(['VolumeTemplatesStatus', 'DisksList'],
                         self.queries())
        self.assertEqual(1, len(self.snapshots()))

    def test_purge_task_deletes_a_batch_per_run(self):
        drv = self.make_driver(storpool_deferred_delete_hours=2,
                               storpool_deferred_delete_purge_interval=3600,
                               storpool_deferred_delete_purge_batch=2)
        names = sorted(self._expired(3))
        self.clear_calls()
        drv.check_for_setup_error()
        self.addCleanup(drv._reaper.stop)
        self.assertTrue(drv._reaper.running)
        # The looping call runs its first round at once (a green thread
        # under Cinder's test monkey-patching): wait for it, not longer.
        deadline = time.monotonic() + 10
        while len(self.snapshots()) > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(['VolumeTemplatesList', 'SnapshotsList',
                          'SnapshotDelete', 'SnapshotDelete'],
                         self.queries())
        [left] = self.snapshots()
        self.assertIn(left, names)
        # The next run (an hour later) takes the rest.
        self.assertEqual([left], drv._reaper.run_once())
        self.assertEqual({}, self.snapshots())
        # Starting twice keeps one task.
        timer = drv._reaper._timer
        drv.check_for_setup_error()
        self.assertIs(timer, drv._reaper._timer)

    def test_no_purge_task_without_deferred_deletion(self):
        drv = self.make_driver(storpool_deferred_delete_hours=0)
        drv.check_for_setup_error()
        self.assertIsNone(drv._reaper)


# Every StorPool failure reaches Cinder as a cinder.exception.

def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class UnreachableAPITestCase(base.DriverTestCase):

    def down(self):
        """The driver, with its API somewhere nothing listens."""
        return self.make_driver(storpool_api_port=_closed_port())

    def test_delete_volume_api_down(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.down().delete_volume, vol)
        self.assertIn(vol.id, str(exc))
        self.assertIn('cannot reach the API', str(exc))
        self.assertIsNotNone(self.sp_volume(vol))

    def test_delete_snapshot_api_down(self):
        vol = self.volume()
        self.driver.create_volume(vol)
        snap = self.snapshot(vol)
        self.driver.create_snapshot(snap)
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.down().delete_snapshot, snap)
        self.assertIn(snap.id, str(exc))
        self.assertIn(self.sname(snap), self.snapshots())


class DeferredDeleteTimeoutTestCase(base.DriverTestCase):
    """A delete whose outcome is unknown keeps its deferred copy."""

    def test_timed_out_delete_keeps_the_snapshot(self):
        drv = self.make_driver(storpool_deferred_delete_hours=1,
                               storpool_api_timeout=1)
        vol = self.volume()
        drv.create_volume(vol)
        # StorPool does the delete, but only after the client gave up.
        self.emu.control.add_latency(2, query='VolumeDelete')
        self.addCleanup(self.emu.control.clear_faults)
        self.assertRaises(exception.VolumeBackendAPIException,
                          drv.delete_volume, vol)
        deadline = time.monotonic() + 10
        while self.sp_volume(vol) is not None and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertIsNone(self.sp_volume(vol))
        kept = [name for name in self.snapshots()
                if name.endswith(f'--snapshot-{vol.id}')]
        self.assertEqual(1, len(kept), 'the volume is gone and so is its '
                                       'deferred-deletion snapshot')
        # Deleting it again (Cinder's error_deleting) is a success.
        drv.delete_volume(vol)


class DeferredDeleteNameTestCase(base.DriverTestCase):

    def test_migrated_volume_is_listed_by_its_cinder_id(self):
        # After a migration that kept the new name (_name_id), the
        # operator still knows the volume by its Cinder id.
        drv = self.make_driver(storpool_deferred_delete_hours=1)
        stored = self.volume()
        drv.create_volume(stored)
        vol = self.volume()
        vol._name_id = stored.id
        vol.save()
        drv.delete_volume(vol)
        self.assertIsNone(self.sp_volume(vol))
        pending = deferred.list_deferred(drv._api, self.prefix, 1)
        self.assertEqual([vol.id], [p['volume_id'] for p in pending])


# The end of a generic migration, as Cinder 29's volume manager runs it.
# migrate_volume_completion calls update_migrated_volume on the
# destination's manager, swaps the two database records
# (Volume.finish_volume_migration) and then deletes the record that now
# stands for the source. The driver's answer decides which StorPool volume
# each record names afterwards, so these tests run the real manager
# methods and the real record swap, then look at what is left in StorPool.

class MigrationCompletionTestCase(base.DriverTestCase):

    def setUp(self):
        super().setUp()
        # Imported here: the module needs the objects registered (base).
        from cinder.volume import manager
        self.manager = manager.VolumeManager(
            volume_driver=DRIVER, host=f'{base.HOST}@storpool',
            service_name='storpool')
        self.manager.driver.do_setup(self.ctxt)
        self.manager.driver.set_initialized()
        # What init_host starts with (it would also sync every volume).
        self.manager.stats['pools'] = {}

    def complete(self, volume, new_volume, *, delete_source: bool = True):
        """Cinder's migrate_volume_completion without the RPC hops."""
        self.manager.update_migrated_volume(self.ctxt, volume, new_volume,
                                            'available')
        volume.refresh()
        new_volume.refresh()
        source = volume.finish_volume_migration(new_volume)
        if delete_source:
            # What the source host's manager does with the swapped record
            # (here the same cluster: both backends use this emulator).
            source.status = 'deleting'
            source.save()
            self.manager.delete_volume(self.ctxt, source)
        volume.refresh()
        return volume

    def assert_only_the_migrated_data(self, vol) -> None:
        """StorPool holds one volume, the 2 GiB migrated one, as `vol`."""
        volumes = self.state()['volumes']
        self.assertEqual([self.vname(vol)], list(volumes))
        self.assertEqual(2 * GiB, volumes[self.vname(vol)]['size'])

    def test_same_cluster_keeps_the_migrated_data(self):
        # Two backends on one StorPool cluster: the source is still there
        # when the destination's driver is asked to finish.
        src = self.volume(size=1)
        self.driver.create_volume(src)
        new = self.volume(size=2)
        self.driver.create_volume(new)
        self.assert_only_the_migrated_data(self.complete(src, new))

    def test_same_cluster_source_with_name_id(self):
        # The source was itself migrated before and kept the new name.
        older = self.volume(size=1)
        self.driver.create_volume(older)
        src = self.volume(size=1)
        src._name_id = older.id
        src.save()
        new = self.volume(size=2)
        self.driver.create_volume(new)
        self.assert_only_the_migrated_data(self.complete(src, new))

    def test_other_cluster_source_with_name_id(self):
        # The source lives elsewhere under its _name_id; only the
        # destination is in this cluster.
        src = self.volume(size=1)
        src._name_id = self.volume().id
        src.save()
        new = self.volume(size=2)
        self.driver.create_volume(new)
        self.assert_only_the_migrated_data(
            self.complete(src, new, delete_source=False))


class InUseMigrationTestCase(base.DriverTestCase):
    """An attached volume keeps the name its attachment knows."""

    def test_detach_after_in_use_migration(self):
        state = self.useFixture(fixtures.TempDir()).path
        drv = self.make_driver(
            storpool_dev_root=self.emu.dev_dir,
            storpool_attach_state_file=os.path.join(state, 'attach.json'))
        connector = drv._storpool_connector()
        src = self.volume(size=1)   # on another backend: not here
        new = self.volume(size=2)
        drv.create_volume(new)
        # Nova's swap_volume attaches the new volume with its connection
        # info, which it keeps for the later detach.
        conn = drv.initialize_connection(
            new, {'host': 'compute-1',
                  'storpool_client_id': self.emu.client_id})
        device = connector.connect_volume(conn['data'])
        self.assertEqual(1, len(self.state()['attachments']))
        drv.update_migrated_volume(self.ctxt, src, new, 'in-use')
        connector.disconnect_volume(conn['data'], device)
        self.assertEqual([], self.state()['attachments'])
