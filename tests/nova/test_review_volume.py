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
"""Regression tests from the review of the Nova attach path."""

import logging

from storpool.spopenstack import AttachDB

from tests.nova import test_volume

VOL = test_volume.VOL


class UpgradeFromAttachDBTestCase(test_volume.StorPoolNovaTestCase):
    """Instances attached by os-brick <= 6.8 (through AttachDB 3.2.0)."""

    def legacy_attach(self, mode='rw'):
        """What os-brick <= 6.8's connect_volume left on the host.

        The record is written by AttachDB 3.2.0 itself, under os-brick's
        request id brick-<client_id>-<volume id>; the attach is the one
        its AttachDB.sync() made.
        """
        req = f'brick-1-{VOL}'
        with open(self.sp.state_file, 'w') as fobj:
            fobj.write('{}\n')  # as StorPool's installer provisions it
        AttachDB(logging.getLogger('attachdb'),
                 fname=self.sp.state_file).add(req, {
                     'volume': self.name, 'type': 'brick', 'id': req,
                     'rights': 2 if mode == 'rw' else 1, 'volsnap': False})
        self.sp.api.volumes_reassign([{'volume': self.name, mode: [1]}])
        return req

    def test_detach_after_upgrade_detaches(self):
        self.legacy_attach()
        info = test_volume._connection_info()
        info['data']['device_path'] = self.path

        self.driver.disconnect_volume(info, self.inst_a)

        self.assertEqual({}, self.sp.attachments())
        self.assertEqual({}, self.sp.state())

    def test_detach_after_upgrade_and_hard_reboot_detaches(self):
        # A hard reboot after the upgrade connects the instance again,
        # recording it under the new request id as well.
        self.legacy_attach()
        info = test_volume._connection_info()
        self.driver.connect_volume(info, self.inst_a)
        self.assertEqual(2, len(self.sp.state()))

        self.driver.disconnect_volume(info, self.inst_a)

        self.assertEqual({}, self.sp.attachments())
        self.assertEqual({}, self.sp.state())

    def test_busy_detach_after_upgrade_keeps_the_legacy_record(self):
        req = self.legacy_attach()
        info = test_volume._connection_info()
        info['data']['device_path'] = self.path
        fd = test_volume.os.open(self.path, test_volume.os.O_RDONLY)
        self.addCleanup(test_volume.os.close, fd)

        self.assertRaises(test_volume.brick_exception.BrickException,
                          self.driver.disconnect_volume, info, self.inst_a)

        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertEqual([req], list(self.sp.state()))


class UpgradeFromInTreeTestCase(test_volume.StorPoolNovaTestCase):
    """Instances attached by os-brick's in-tree connector (no record)."""

    def setUp(self):
        super().setUp()
        self.sp.api.volumes_reassign([{'volume': self.name, 'rw': [1]}])
        gid = self.sp.api.volume(self.name)['globalId']
        self.info = test_volume._connection_info()
        self.info['data']['device_path'] = self.sp.byid_path(gid)

    def test_hard_reboot_then_detach_detaches(self):
        # A hard reboot after the upgrade connects the instance again.
        self.driver.connect_volume(self.info, self.inst_a)
        self.assertEqual(self.path, self.info['data']['device_path'])

        self.driver.disconnect_volume(self.info, self.inst_a)

        self.assertEqual({}, self.sp.attachments())
        self.assertEqual({}, self.sp.state())
