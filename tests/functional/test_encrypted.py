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
"""An encrypted volume from an image: the data goes through the encryptor.

Upstream bug 1939241: the in-tree driver's own image copy wrote the image
straight to the StorPool device, under the volume's LUKS layer, so the
guest found garbage.  Ours leaves encrypted volumes to Cinder's flow
(`copy_image_to_encrypted_volume`, which attaches the encryptor on top of
the device this package's connector returned) and never serves them from
its image cache.

What cannot run here: this kernel has no device-mapper, so dm-crypt and
os-brick's LUKS encryptor cannot.  The encryptor is a stand-in that does
to the device path what os-brick's does (it re-points the attach's device
symlink at ``mapper/crypt-<name>``) but whose "mapper device" is a plain
file: what the copy writes through the encryptor lands there, and the
StorPool volume itself must stay untouched.  Everything else is real: the
REST API, Cinder's ConfKeyManager making the key, the scheduler and the
volume flow, the driver, the connector and the emulator's device.
"""

import os
from unittest import mock

from cinder.keymgr import conf_key_mgr  # noqa: F401 (registers fixed_key)

from tests.functional import base
from tests.functional import test_images

ENCRYPTION = {'provider': 'luks', 'cipher': 'aes-xts-plain64',
              'key_size': 256, 'control_location': 'front-end'}
FIXED_KEY = '0' * 64
CONF_KEY_ID = '00000000-0000-0000-0000-000000000000'  # ConfKeyManager's one


class _StandInLuks:
    """Records the calls; does to the device path what os-brick's does."""

    def __init__(self, mapper_dir: str, calls: list,
                 connection_info: dict, **encryption):
        self.mapper_dir = mapper_dir
        self.calls = calls
        self.symlink = connection_info['data']['device_path']
        self.mapped = os.path.join(
            mapper_dir, 'crypt-' + os.path.basename(self.symlink))
        self.encryption = encryption

    def attach_volume(self, context, **encryption):
        self.calls.append(('attach', self.symlink,
                           os.path.realpath(self.symlink),
                           encryption.get('encryption_key_id')))
        size = os.stat(os.path.realpath(self.symlink)).st_size or base.GiB
        with open(self.mapped, 'wb') as fobj:
            fobj.truncate(size)
        tmp = self.symlink + '.crypt'
        os.symlink(self.mapped, tmp)
        os.replace(tmp, self.symlink)  # ln -sf, as os-brick runs it

    def detach_volume(self, **encryption):
        self.calls.append(('detach', self.symlink,
                           os.path.realpath(self.symlink), None))


class EncryptedImageTestCase(test_images._ImageTestBase):

    def _get_flags(self):
        flags = super()._get_flags()
        flags['backend'] = {'v': 'cinder.keymgr.conf_key_mgr.ConfKeyManager',
                            'g': 'key_manager'}
        flags['fixed_key'] = {'v': FIXED_KEY, 'g': 'key_manager'}
        return flags

    def setUp(self):
        super().setUp()
        self.mapper_dir = os.path.join(self.work, 'mapper')
        os.mkdir(self.mapper_dir)
        self.encryptor_calls = []
        patcher = mock.patch(
            'cinder.volume.volume_utils.brick_get_encryptor',
            lambda conn, **enc: _StandInLuks(
                self.mapper_dir, self.encryptor_calls, conn, **enc))
        patcher.start()
        self.addCleanup(patcher.stop)
        # os-brick gives an encrypted volume's encryptor a symlink of its
        # own, made as root through privsep: here in this process, and in
        # a temp dir rather than /dev/disk/by-id.
        import os_brick.privileged
        os_brick.privileged.default.set_client_mode(False)
        self.addCleanup(os_brick.privileged.default.set_client_mode, True)
        self.links_dir = os.path.join(self.work, 'by-id')
        os.mkdir(self.links_dir)
        links = mock.patch('os_brick.utils.CUSTOM_LINK_PREFIX',
                           os.path.join(self.links_dir, 'os-brick'))
        links.start()
        self.addCleanup(links.stop)
        vtype = self.create_type('secret')
        self.api.api_post(f'/types/{vtype["id"]}/encryption',
                          {'encryption': ENCRYPTION})

    def test_image_goes_through_the_encryptor_not_the_cache(self):
        meta, data = self.add_image('qcow2')
        # A plain volume first: the image is now in the cache.
        plain = self.create_volume(1, imageRef=meta['id'])
        self.assertEqual(data, self.volume_bytes(plain['id']))
        [entry] = test_images.image_cache.list_image_cache(self.sp_api)

        mark = self.emu_mark()
        secret = self.create_volume(1, imageRef=meta['id'],
                                    volume_type='secret')
        self.assertIs(True, secret['encrypted'])
        name = self.vol_name(secret['id'])

        # Not from the cache: a new empty volume, attached here and back.
        creates = [c['body'] for c in self.emu_calls()[mark:]
                   if c.get('query') == 'VolumeCreate']
        self.assertEqual([name], [c['name'] for c in creates])
        self.assertNotIn('parent', creates[0])
        self.assertEqual(['VolumeCreate', 'VolumesReassignWait',
                          'VolumesReassignWait'], self.op_calls(mark))
        self.assertEqual([entry], test_images.image_cache.list_image_cache(
            self.sp_api))

        # The encryptor sat on the connector's device, with a key: on
        # os-brick's own symlink to it, which is gone afterwards.
        device = os.path.join(self.emulator.dev_dir, 'storpool', name)
        link = os.path.join(self.links_dir,
                            'os-brick' + device.replace('/', '+'))
        [attach, detach] = self.encryptor_calls
        self.assertEqual(('attach', link), attach[:2])
        self.assertEqual(CONF_KEY_ID, attach[3])
        self.assertEqual(('detach', link), detach[:2])
        mapped = os.path.join(self.mapper_dir, 'crypt-' + os.path.basename(
            link))
        self.assertEqual(mapped, detach[2])
        self.assertEqual([], os.listdir(self.links_dir))

        # The image went through it; nothing reached the volume directly.
        with open(mapped, 'rb') as fobj:
            self.assertEqual(data, fobj.read(test_images.IMAGE_SIZE))
        self.assertEqual(bytes(test_images.IMAGE_SIZE),
                         self.volume_bytes(secret['id']))
        self.assert_no_attachments()

        # Upload (raw, as Cinder requires for an encrypted volume): the
        # volume's own bytes (the ciphertext on a real host), not
        # decrypted, and the image names its key.
        image = self.upload(secret['id'], 'raw')
        self.assertEqual('active', image['status'])
        self.assertEqual(CONF_KEY_ID, image['cinder_encryption_key_id'])
        with open(self.glance.data_path(image['id']), 'rb') as fobj:
            self.assertEqual(bytes(test_images.IMAGE_SIZE),
                             fobj.read(test_images.IMAGE_SIZE))
        self.assertEqual(2, len(self.encryptor_calls))
        self.assertEqual([], os.listdir(self.links_dir))
        self.assert_no_attachments()

        for vol in (plain, secret):
            self.delete_volume(vol['id'])
        test_images.image_cache.purge_image_cache(self.sp_api)
        self.assert_emulator_empty()
