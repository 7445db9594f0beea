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
"""`storpool-openstack image-cache [list|purge]` against a real emulator.

The cache entries are made as the driver makes them: its name function,
its tags, a snapshot of the volume the image was written into, volumes
cloned from the entry.
"""

import json

import ddt

from storpool_openstack.cinder import deferred
from storpool_openstack.cinder import image_cache
from storpool_openstack.common import names
from tests.unit.ops import base

GIB = 1 << 30
IMG_A = '11111111-aaaa-4aaa-8aaa-000000000001'
IMG_B = '22222222-bbbb-4bbb-8bbb-000000000002'
IMG_C = '33333333-cccc-4ccc-8ccc-000000000003'
# 2023-11-14 22:13:20 UTC, then a day later each.
T0 = 1700000000
DAY = 86400


@ddt.ddt
class ImageCacheTestCase(base.CLITestCase):

    def setUp(self):
        super().setUp()
        self.start_cluster()
        self.serial = 0

    def volume(self, size: int = GIB, **extra) -> str:
        self.serial += 1
        name = names.volume_name(f'vol-{self.serial:02d}', self.prefix)
        self.api.volume_create(dict({'name': name, 'size': size}, **extra))
        return name

    def cache(self, image_id: str, data_hash: str, last_used: int | None,
              size: int = GIB, clones: int = 0) -> str:
        """An entry as _image_cache_add makes it, and volumes from it."""
        digest = image_cache.image_hash({'os_hash_value': data_hash})
        snap = image_cache.cache_snapshot_name(image_id, digest, self.prefix)
        tags = {image_cache.TAG_IMAGE: image_id, image_cache.TAG_HASH: digest}
        if last_used is not None:
            tags[image_cache.TAG_USED] = str(last_used)
        self.api.snapshot_create(self.volume(size),
                                 {'name': snap, 'tags': tags})
        for _ in range(clones):
            self.volume(size, parent=snap)
        return snap

    def noise(self) -> None:
        """Snapshots that are not cache entries."""
        vol = self.volume()
        self.api.snapshot_create(vol, {'name': names.snapshot_name(
            'snap-1', self.prefix)})
        deferred.defer(self.api, vol, 'vol-x', self.prefix, now=T0)
        self.api.snapshot_create(vol, {'name': image_cache.cache_snapshot_name(
            IMG_A, 'abc', 'other')})

    def snapshots(self) -> list[str]:
        return sorted(s['name'] for s in self.api.snapshots_list())

    def image_cache(self, *extra: str) -> base.Result:
        return self.run_cli('image-cache', *extra, '--storpool-conf',
                            self.emu.conf_path)

    def three(self) -> tuple[str, str, str]:
        """C never used (tag missing), then A, then B most recent."""
        snap_b = self.cache(IMG_B, 'BBBB' * 20, T0 + DAY, 2 * GIB)
        snap_a = self.cache(IMG_A, 'a1' * 40, T0, GIB, clones=2)
        snap_c = self.cache(IMG_C, 'c3' * 40, None, GIB // 2)
        return snap_a, snap_b, snap_c

    def test_list(self):
        snap_a, snap_b, snap_c = self.three()
        # A clone of B, snapshotted: its parent is now that snapshot, and
        # B still holds its data.
        clone = self.volume(2 * GIB, parent=snap_b)
        self.api.snapshot_create(clone, {'name': names.snapshot_name(
            'snap-2', self.prefix)})
        self.noise()
        self.emu.control.clear_calls()
        res = self.image_cache()
        self.assertEqual(0, res.code, res)
        self.assertEqual('', res.err)
        self.assertEqual([
            f'image cache of volume prefix "os", StorPool API '
            f'http://{self.emu.host}:{self.emu.port}',
            'IMAGE' + ' ' * 33 + 'SNAPSHOT' + ' ' * 68 + 'SIZE     '
            'LAST USED             HASH              VOLUMES',
            f'{IMG_C}  {snap_c}  512 MiB  never                 '
            f'c3c3c3c3c3c3c3c3  1',
            f'{IMG_A}  {snap_a}  1 GiB    2023-11-14 22:13 UTC  '
            f'a1a1a1a1a1a1a1a1  3',
            f'{IMG_B}  {snap_b}  2 GiB    2023-11-15 22:13 UTC  '
            f'bbbbbbbbbbbbbbbb  2',
            '3 cache entries, 3.5 GiB; 3 with volumes made from them (a '
            'purge frees their data only when those are gone)',
        ], res.out.splitlines())
        # Reads only: one SnapshotsList for both the cache and the chains.
        self.assertEqual(['SnapshotsList', 'VolumesList'],
                         self.emu.control.queries())

    def test_list_json(self):
        snap_a = self.cache(IMG_A, 'a1' * 40, T0, clones=1)
        self.noise()
        res = self.image_cache('list', '--json')
        self.assertEqual(0, res.code, res)
        self.assertEqual({'entries': [{
            'image_id': IMG_A, 'name': snap_a, 'size': GIB,
            'last_used': T0, 'last_used_utc': '2023-11-14 22:13 UTC',
            'hash': 'a1a1a1a1a1a1a1a1', 'volumes': 2}]}, json.loads(res.out))

    def test_list_empty(self):
        self.noise()
        self.emu.control.clear_calls()
        res = self.image_cache('--json')
        self.assertEqual({'entries': []}, json.loads(res.out))
        res = self.image_cache()
        self.assertEqual(0, res.code, res)
        self.assertEqual('the image cache is empty', res.out.splitlines()[-1])
        # Nothing cached: the volumes are not even listed.
        self.assertEqual(['SnapshotsList'] * 2, self.emu.control.queries())

    def test_purge_image(self):
        snap_a, snap_b, snap_c = self.three()
        old_a = self.cache(IMG_A, 'a0' * 40, T0 - DAY)  # stale image data
        self.noise()
        before = self.snapshots()
        self.emu.control.clear_calls()
        res = self.image_cache('purge', '--image', IMG_A)
        self.assertEqual(0, res.code, res)
        self.assertEqual([
            f'removed: {old_a} (image {IMG_A}, 1 GiB) (1 volume(s) made '
            f'from it keep working; its data stays until they are gone)',
            f'removed: {snap_a} (image {IMG_A}, 1 GiB) (3 volume(s) made '
            f'from it keep working; its data stays until they are gone)',
            '2 entries removed, 2 remain'], res.out.splitlines())
        self.assertEqual(sorted(set(before) - {old_a, snap_a}),
                         self.snapshots())
        self.assertEqual([old_a, snap_a], [
            c['args'][0] for c in self.emu.control.calls('SnapshotDelete')])
        # The volumes made from the entries are all still there.
        self.assertEqual(7, len(self.api.volumes_list()))

    def test_purge_keep(self):
        snap_a, snap_b, snap_c = self.three()
        res = self.image_cache('purge', '--keep', '1')
        self.assertEqual(0, res.code, res)
        self.assertEqual([f'removed: {snap_c} (image {IMG_C}, 512 MiB) (1 '
                          f'volume(s) made from it keep working; its data '
                          f'stays until they are gone)',
                          f'removed: {snap_a} (image {IMG_A}, 1 GiB) (3 '
                          f'volume(s) made from it keep working; its data '
                          f'stays until they are gone)',
                          '2 entries removed, 1 remain'],
                         res.out.splitlines())
        self.assertEqual([snap_b], self.snapshots())

    def test_purge_all_json(self):
        snap_a, snap_b, snap_c = self.three()
        self.noise()
        res = self.image_cache('purge', '--json')
        self.assertEqual(0, res.code, res)
        data = json.loads(res.out)
        self.assertEqual((False, 0), (data['dry_run'], data['remaining']))
        self.assertEqual([snap_c, snap_a, snap_b],
                         [e['name'] for e in data['removed']])
        self.assertEqual([],
                         image_cache.list_image_cache(self.api, self.prefix))
        self.assertEqual(3, len(self.snapshots()))  # the noise

    def test_purge_goes_on_past_an_entry_storpool_refuses(self):
        snap_a, snap_b, snap_c = self.three()
        # The second delete (snap_a, by LRU order) is refused for good.
        self.emu.control.add_fault('SnapshotDelete', name='invalidParam',
                                   descr='snapshot is attached',
                                   transient=False, nth=2)
        res = self.image_cache('purge')
        self.assertEqual(1, res.code, res)
        lines = res.out.splitlines()
        self.assertIn(f'could not remove: {snap_a}: ', lines[-2])
        self.assertIn('snapshot is attached', lines[-2])
        self.assertEqual('2 entries removed, 1 remain, 1 could not be '
                         'removed (see above; run the purge again once '
                         'StorPool allows it)', lines[-1])
        self.assertEqual([snap_a], self.snapshots())
        res = self.image_cache('purge', '--json')
        self.assertEqual(0, res.code, res)
        data = json.loads(res.out)
        self.assertEqual(([snap_a], []), (
            [e['name'] for e in data['removed']], data['failed']))

    @ddt.data((), ('--keep', '2'), ('--image', IMG_A),
              ('--image', IMG_A, '--keep', '1'), ('--keep', '5'),
              ('--image', 'no-such-image'))
    def test_dry_run_matches_purge(self, args):
        """The dry run names exactly what the real purge then deletes."""
        self.three()
        self.cache(IMG_A, 'a0' * 40, T0 - DAY)
        before = self.snapshots()
        self.emu.control.clear_calls()
        dry = self.image_cache('purge', '--dry-run', '--json', *args)
        self.assertEqual(0, dry.code, dry)
        self.assertEqual(['SnapshotsList', 'VolumesList'],
                         self.emu.control.queries())
        self.assertEqual(before, self.snapshots())
        real = self.image_cache('purge', '--json', *args)
        self.assertEqual(0, real.code, real)
        dry_data, real_data = json.loads(dry.out), json.loads(real.out)
        self.assertTrue(dry_data['dry_run'])
        self.assertEqual(real_data['removed'], dry_data['removed'])
        self.assertEqual(real_data['remaining'], dry_data['remaining'])
        removed = {e['name'] for e in real_data['removed']}
        self.assertEqual(sorted(set(before) - removed), self.snapshots())

    def test_dry_run_text(self):
        snap_a, snap_b, snap_c = self.three()
        res = self.image_cache('purge', '-n', '--keep', '2')
        self.assertEqual(0, res.code, res)
        self.assertEqual([f'would remove: {snap_c} (image {IMG_C}, 512 '
                          f'MiB) (1 volume(s) made from it keep working; '
                          f'its data stays until they are gone)',
                          '1 entry would be removed, 2 would remain'],
                         res.out.splitlines())
        self.assertEqual(3, len(self.snapshots()))

    def test_purge_nothing(self):
        self.cache(IMG_A, 'a1' * 40, T0)
        res = self.image_cache('purge', '--image', IMG_B)
        self.assertEqual(0, res.code, res)
        self.assertEqual([f'nothing to purge: no cache entry of image '
                          f'{IMG_B}', '0 entries removed, 1 remain'],
                         res.out.splitlines())
        res = self.image_cache('purge', '--keep', '3')
        self.assertEqual('nothing to purge: the image cache holds at most '
                         '3 entries', res.out.splitlines()[0])
        self.assertEqual([], self.emu.control.calls('SnapshotDelete'))

    def test_debug_log_has_no_token(self):
        self.cache(IMG_A, 'a1' * 40, T0)
        res = self.run_cli('--debug', 'image-cache', 'purge',
                           '--storpool-conf', self.emu.conf_path)
        self.assertEqual(0, res.code, res)
        self.assertIn('1 entry removed, 0 remain', res.out)
        # The base class checks every output for the token.

    @ddt.data((('--keep', '2'), '--image, --keep and --dry-run go with '
                                '"image-cache purge"'),
              (('list', '--dry-run'), '--image, --keep and --dry-run go '
                                      'with "image-cache purge"'),
              (('purge', '--keep', '-1'), "argument --keep: '-1' is not a "
                                          "whole number >= 0"),
              (('drop',), "argument action: invalid choice: 'drop'"))
    @ddt.unpack
    def test_bad_usage(self, args, message):
        stderr = self.useFixture(base.fixtures.StringStream('stderr'))
        self.useFixture(base.fixtures.MonkeyPatch('sys.stderr',
                                                  stderr.stream))
        exc = self.assertRaises(SystemExit, self.image_cache, *args)
        self.assertEqual(2, exc.code)
        stderr.stream.flush()
        self.assertIn(message, stderr.getDetails()['stderr'].as_text())
        self.assertEqual([], self.emu.control.queries())

    def test_api_error_is_one_line(self):
        self.cache(IMG_A, 'a1' * 40, T0)
        self.emu.control.add_fault('SnapshotsList', 'busy', times=None)
        res = self.image_cache('purge')
        self.assertEqual(1, res.code)
        self.assertEqual('', res.out)
        self.assertEqual(1, len(res.err.splitlines()), res.err)
        self.assertTrue(res.err.startswith('storpool-openstack: error: '),
                        res.err)
        self.emu.control.clear_faults()
        self.assertEqual(1, len(self.snapshots()))

    def test_missing_config(self):
        res = self.run_cli('image-cache', '--storpool-conf',
                           self.tmp + '/nope.conf')
        self.assertEqual(1, res.code)
        self.assertEqual('', res.out)
        self.assertEqual(1, len(res.err.splitlines()), res.err)
        self.assertIn('nope.conf', res.err)
