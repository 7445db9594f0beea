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
"""Image <-> volume through the real Cinder flows, qemu-img and the cache.

The images are real files made by qemu-img; the bytes that land in the
volume are read back from the emulator and compared with what
`qemu-img convert -O raw` makes of the image.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import ddt

from storpool_openstack.cinder import image_cache
from tests.functional import base

MiB = 1024 * 1024
IMAGE_SIZE = 16 * MiB
# (offset, seed) of the 1 MiB blocks with data; the rest is zeros.
DATA_BLOCKS = ((0, 1), (5 * MiB, 2), (IMAGE_SIZE - MiB, 3))
HAVE_QEMU_IMG = shutil.which('qemu-img') is not None
BACKGROUND = ('VolumeTemplatesStatus', 'VolumeTemplatesList', 'DisksList',
              'VolumesSpace', 'SnapshotsList', 'VolumesList')


def _block(seed: int) -> bytes:
    return bytes((seed * 31 + i * 7) % 251 + 1 for i in range(256)) * 4096


def make_raw(path: str, seed_shift: int = 0) -> bytes:
    data = bytearray(IMAGE_SIZE)
    for off, seed in DATA_BLOCKS:
        data[off:off + MiB] = _block(seed + seed_shift)
    with open(path, 'wb') as out:
        out.write(data)
    return bytes(data)


def convert(src: str, dst: str, out_fmt: str, in_fmt: str = 'raw'):
    subprocess.run(['qemu-img', 'convert', '-f', in_fmt, '-O', out_fmt,
                    src, dst], check=True, capture_output=True)


@unittest.skipUnless(HAVE_QEMU_IMG, 'qemu-img is not installed')
class _ImageTestBase(base.StorPoolFunctionalTestBase):

    def setUp(self):
        super().setUp()
        self.work = tempfile.mkdtemp(prefix='sp-images-')
        self.addCleanup(shutil.rmtree, self.work, ignore_errors=True)

    def op_calls(self, mark: int) -> list[str]:
        return [c for c in self.emu_call_names(mark) if c not in BACKGROUND]

    def add_image(self, fmt: str, seed_shift: int = 0,
                  image_id: str | None = None) -> tuple[dict, bytes]:
        raw = os.path.join(self.work, f'src-{seed_shift}.raw')
        data = make_raw(raw, seed_shift)
        path = raw
        if fmt != 'raw':
            path = os.path.join(self.work, f'src-{seed_shift}.{fmt}')
            convert(raw, path, fmt)
        meta = self.glance.add_image(path, disk_format=fmt,
                                     image_id=image_id)
        return meta, data

    def volume_bytes(self, volume_id: str, length: int = IMAGE_SIZE):
        name = self.vol_name(volume_id)
        out = bytearray()
        while len(out) < length:
            piece = min(4 * MiB, length - len(out))
            out += self.control.read(name, offset=len(out), length=piece)
        return bytes(out)

    def upload(self, volume_id: str, disk_format: str) -> dict:
        resp = self.action(volume_id, {'os-volume_upload_image': {
            'image_name': f'up-{disk_format}', 'disk_format': disk_format,
            'container_format': 'bare', 'force': False}}, status=(202,))
        image_id = resp.json()['os-volume_upload_image']['image_id']
        # A 1 GiB qemu-img copy into the image store: on a loaded 2-core
        # CI machine it has taken more than the default 60 s.
        self.wait_volume(volume_id, timeout=300)
        return self.glance.show(None, image_id)

    def uploaded_raw(self, image: dict) -> bytes:
        raw = os.path.join(self.work, f'up-{image["id"]}.raw')
        convert(self.glance.data_path(image['id']), raw, 'raw',
                image['disk_format'])
        with open(raw, 'rb') as src:
            return src.read()

    def volume_from_disguised_image(self) -> dict:
        """A volume from a 'raw' image that is really qcow2: it fails."""
        raw = os.path.join(self.work, 'x.raw')
        make_raw(raw)
        qcow = os.path.join(self.work, 'x.qcow2')
        convert(raw, qcow, 'qcow2')
        meta = self.glance.add_image(qcow, disk_format='raw')
        vol = self.api.post_volume({'volume': {'size': 1,
                                               'imageRef': meta['id']}})
        self.assertRaises(AssertionError, self.wait_volume, vol['id'])
        return vol

    def assert_no_attachments(self):
        """Nothing attached in StorPool, no user left in the state file."""
        self.assertEqual([], self.emu_attachments())
        state = os.path.join(self.state_dir, 'attach-state.json')
        if os.path.exists(state) and os.path.getsize(state):
            with open(state) as fobj:
                self.assertEqual({}, json.load(fobj))


@ddt.ddt
class ImageCopyTestCase(_ImageTestBase):

    @ddt.data('raw', 'qcow2', 'vmdk', 'vhdx')
    def test_image_to_volume_to_image(self, fmt):
        meta, data = self.add_image(fmt)
        vol = self.create_volume(1, imageRef=meta['id'])
        self.assertEqual('true', vol['bootable'])
        self.assertEqual(data, self.volume_bytes(vol['id']))
        # The rest of the volume stays zero.
        self.assertEqual(bytes(MiB), self.control.read(
            self.vol_name(vol['id']), offset=IMAGE_SIZE, length=MiB))
        self.assert_no_attachments()

        image = self.upload(vol['id'], fmt)
        self.assertEqual('active', image['status'])
        back = self.uploaded_raw(image)
        self.assertEqual(data, back[:IMAGE_SIZE])
        self.assertEqual(base.GiB, len(back))
        self.assertEqual(b'', back[IMAGE_SIZE:].strip(b'\0'))
        self.assert_no_attachments()

        self.delete_volume(vol['id'])
        entries = image_cache.list_image_cache(self.sp_api)
        self.assertEqual([meta['id']], [e['image_id'] for e in entries])
        image_cache.purge_image_cache(self.sp_api)
        self.assert_emulator_empty()

    def test_disguised_raw_image_is_refused(self):
        """A 'raw' image that is really qcow2 never reaches a volume."""
        vol = self.volume_from_disguised_image()
        self.assertTrue(any("appears to be 'qcow2'" in line
                            for line in self.log_handler.lines))
        self.delete_volume(vol['id'])
        self.assert_emulator_empty()
        self.assertEqual([], image_cache.list_image_cache(self.sp_api))


class ImageCacheTestCase(_ImageTestBase):

    def test_second_volume_is_one_call_from_the_cache(self):
        self.create_type('fast', {'storpool_template': 'ssd'})
        meta, data = self.add_image('qcow2')
        first = self.create_volume(3, imageRef=meta['id'])
        entries = image_cache.list_image_cache(self.sp_api)
        self.assertEqual(1, len(entries))
        snap = entries[0]['name']
        # The entry has the image's size; the volume the one asked for.
        self.assertEqual(base.GiB, entries[0]['size'])
        self.assertEqual(3 * base.GiB, self.emu_volumes()[
            self.vol_name(first['id'])]['size'])
        self.assertEqual(data, self.volume_bytes(first['id']))
        self.assertEqual(1, len(self.glance.downloads))

        mark = self.emu_mark()
        second = self.create_volume(2, imageRef=meta['id'])
        self.assertEqual(['VolumeCreate'], self.op_calls(mark))
        create = [c for c in self.emu_calls()[mark:]
                  if c.get('query') == 'VolumeCreate'][0]['body']
        self.assertEqual(snap, create['parent'])
        self.assertEqual(1, len(self.glance.downloads))
        self.assertEqual(data, self.volume_bytes(second['id']))
        self.assertEqual(2 * base.GiB, self.emu_volumes()[
            self.vol_name(second['id'])]['size'])

        # Another template: still one copy-on-write call.
        mark = self.emu_mark()
        third = self.create_volume(1, imageRef=meta['id'],
                                   volume_type='fast')
        self.assertEqual(['VolumeCreate'], self.op_calls(mark))
        self.assertEqual('ssd', self.emu_volumes()[
            self.vol_name(third['id'])]['templateName'])
        self.assertEqual(data, self.volume_bytes(third['id']))

        # The cache entry blocks no delete, and may go while in use.
        self.delete_volume(first['id'])
        self.assertEqual([snap], image_cache.purge_image_cache(self.sp_api))
        self.assertEqual(data, self.volume_bytes(second['id']))
        for vol in (second, third):
            self.delete_volume(vol['id'])
        self.assert_emulator_empty()

    def test_changed_image_data_invalidates_the_entry(self):
        meta, _data = self.add_image('raw')
        vol1 = self.create_volume(1, imageRef=meta['id'])
        old = image_cache.list_image_cache(self.sp_api)
        self.assertEqual(1, len(old))

        # Same image id, new bytes (and so a new checksum).
        _meta, new_data = self.add_image('raw', seed_shift=7,
                                         image_id=meta['id'] + '-x')
        self.glance.replace_data(meta['id'],
                                 self.glance.data_path(_meta['id']))
        vol2 = self.create_volume(1, imageRef=meta['id'])
        self.assertEqual(new_data, self.volume_bytes(vol2['id']))
        new = image_cache.list_image_cache(self.sp_api)
        self.assertEqual(1, len([e for e in new
                                 if e['image_id'] == meta['id']]))
        self.assertNotEqual(old[0]['name'], [
            e for e in new if e['image_id'] == meta['id']][0]['name'])
        for vol in (vol1, vol2):
            self.delete_volume(vol['id'])
        image_cache.purge_image_cache(self.sp_api)
        self.assert_emulator_empty()

    def test_cinder_stored_image_is_cloned(self):
        src = self.create_volume(1)
        meta, _data = self.add_image('raw')
        self.glance.update(None, meta['id'], {'locations': [
            {'url': f'cinder://{src["id"]}', 'metadata': {}}]})
        mark = self.emu_mark()
        vol = self.create_volume(1, imageRef=meta['id'])
        self.assertEqual(['VolumeCreate'], self.op_calls(mark))
        create = [c for c in self.emu_calls()[mark:]
                  if c.get('query') == 'VolumeCreate'][0]['body']
        self.assertEqual(self.vol_name(src['id']), create['baseOn'])
        self.assertEqual([], self.glance.downloads)
        self.assertEqual([], image_cache.list_image_cache(self.sp_api))
        for v in (vol, src):
            self.delete_volume(v['id'])
        self.assert_emulator_empty()


class CinderFlowImageTestCase(_ImageTestBase):
    """With the cache off, Cinder's own copy path does the work."""

    driver_options = {'storpool_image_cache': False}

    def test_qcow2_round_trip_through_cinder_copy(self):
        meta, data = self.add_image('qcow2')
        vol = self.create_volume(1, imageRef=meta['id'])
        self.assertEqual(data, self.volume_bytes(vol['id']))
        self.assertEqual([], image_cache.list_image_cache(self.sp_api))
        # The driver's own attach went through the attach-state file.
        self.assertTrue(any('cinder-image' in line or 'Connected StorPool'
                            in line for line in self.log_handler.lines))
        self.assert_no_attachments()
        image = self.upload(vol['id'], 'qcow2')
        self.assertEqual(data, self.uploaded_raw(image)[:IMAGE_SIZE])
        self.delete_volume(vol['id'])
        self.assert_emulator_empty()


class ImageCacheLimitTestCase(_ImageTestBase):
    """storpool_image_cache_max_entries bounds the cache, LRU first."""

    driver_options = {'storpool_image_cache_max_entries': 2}

    def test_least_recently_used_entry_goes(self):
        metas = [self.add_image('raw', seed_shift=i)[0] for i in range(3)]
        vols = [self.create_volume(1, imageRef=metas[0]['id']),
                self.create_volume(1, imageRef=metas[1]['id'])]
        # Use image 0 again, long after its entry was written.
        first = image_cache.list_image_cache(self.sp_api)
        self.assertEqual(2, len(first))
        self.driver._image_cache_touched.clear()
        entry0 = [e for e in first if e['image_id'] == metas[0]['id']][0]
        self.sp_api.snapshot_update(entry0['name'], {'tags': {
            image_cache.TAG_IMAGE: metas[0]['id'], image_cache.TAG_USED: '1'}})
        self.sp_api.snapshot_update(
            [e for e in first if e['image_id'] == metas[1]['id']][0]['name'],
            {'tags': {image_cache.TAG_USED: '2'}})
        vols.append(self.create_volume(1, imageRef=metas[0]['id']))
        # Image 2 is new: the cache is full, image 1 is the LRU one.
        vols.append(self.create_volume(1, imageRef=metas[2]['id']))
        cached = {e['image_id'] for e in
                  image_cache.list_image_cache(self.sp_api)}
        self.assertEqual({metas[0]['id'], metas[2]['id']}, cached)
        for vol in vols:
            self.delete_volume(vol['id'])
        self.assertEqual(2, len(image_cache.purge_image_cache(self.sp_api)))
        self.assert_emulator_empty()


class DeferredDeleteImageTestCase(_ImageTestBase):
    """A failed image copy is undone at once, never kept as a deletion."""

    driver_options = {'storpool_deferred_delete_hours': 1}

    def test_failed_copy_leaves_no_deferred_snapshot(self):
        vol = self.volume_from_disguised_image()
        # Nothing of the half-written volume: no volume, no snapshot kept
        # for a "deletion" nobody asked for, no attachment.
        self.assertEqual({}, self.emu_volumes())
        self.assertEqual({}, self.emu_snapshots())
        self.assert_no_attachments()
        self.delete_volume(vol['id'])
        self.assert_emulator_empty()
