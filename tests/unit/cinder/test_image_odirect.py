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
"""The O_DIRECT probe that replaced Cinder's `dd` check before a convert."""

import os
import tempfile
from unittest import mock

import testtools

from storpool_openstack.cinder import image_io


class ODirectProbeTestCase(testtools.TestCase):
    def setUp(self):
        super().setUp()
        # Next to the package, on a disk file system (not tmpfs).
        self.tmp = tempfile.mkdtemp(dir=os.path.dirname(__file__))
        self.addCleanup(os.rmdir, self.tmp)

    def test_file_on_disk_takes_odirect(self):
        path = os.path.join(self.tmp, 'dest')
        with open(path, 'wb') as f:
            f.write(b'\0' * 4096)
        self.addCleanup(os.unlink, path)
        self.assertTrue(image_io.odirect_ok('/dev/zero', path))
        with open(path, 'rb') as f:
            self.assertEqual(b'\0' * 4096, f.read(), 'the probe wrote')

    def test_missing_destination_is_no(self):
        self.assertFalse(image_io.odirect_ok(
            '/dev/zero', os.path.join(self.tmp, 'missing')))

    def test_not_allowed_to_open_falls_back_to_cinders_check(self):
        # The tests run as root, whom no file refuses: the refusal is
        # simulated, and Cinder's dd check (which needs rootwrap outside
        # the tests) replaced, to see that it is the one asked.
        path = os.path.join(self.tmp, 'dest')
        open(path, 'wb').close()
        self.addCleanup(os.unlink, path)
        real_open = os.open

        def refuse(name, flags, *args):
            if name == path and flags & os.O_DIRECT:
                raise PermissionError(13, 'Permission denied', name)
            return real_open(name, flags, *args)
        with mock.patch.object(image_io.volume_utils,
                               'check_for_odirect_support',
                               return_value=False) as cinders, \
                mock.patch.object(image_io.os, 'open', side_effect=refuse):
            self.assertFalse(image_io.odirect_ok('/dev/zero', path))
        cinders.assert_called_once_with('/dev/zero', path, 'oflag=direct')
