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
"""StorPool names and device paths for OpenStack objects."""

import ddt
from os_brick.initiator import storpool_utils
import testtools

from storpool_openstack.common import names

UUID = '3f1c6e2a-0000-4000-8000-000000000001'


@ddt.ddt
class NamesTestCase(testtools.TestCase):

    @ddt.data('os', 'cloud-2')
    def test_same_formats_as_os_brick(self, prefix):
        """Names must match upstream's so existing clusters keep working."""
        self.assertEqual(storpool_utils.os_to_sp_volume_name(prefix, UUID),
                         names.volume_name(UUID, prefix))
        self.assertEqual(
            storpool_utils.os_to_sp_snapshot_name(prefix, 'snap', UUID),
            names.snapshot_name(UUID, prefix))
        self.assertEqual(
            storpool_utils.os_to_sp_snapshot_name(prefix, 'clone', UUID,
                                                  'x1'),
            names.snapshot_name(UUID, prefix, kind='clone', more='x1'))

    def test_round_trip(self):
        self.assertEqual(UUID, names.parse_volume_name(
            names.volume_name(UUID, 'pfx'), 'pfx'))
        self.assertEqual(('snap', None, UUID), names.parse_snapshot_name(
            names.snapshot_name(UUID, 'pfx'), 'pfx'))
        self.assertEqual(('image', 'abc', UUID), names.parse_snapshot_name(
            names.snapshot_name(UUID, 'pfx', kind='image', more='abc'),
            'pfx'))

    @ddt.data('other--volume-x', 'os--volume-', 'os--snap--none--snapshot-x',
              'volume-x')
    def test_not_our_volume(self, name):
        self.assertIsNone(names.parse_volume_name(name, 'os'))

    @ddt.data('os--volume-x', 'xx--snap--none--snapshot-y', 'os--snap')
    def test_not_our_snapshot(self, name):
        self.assertIsNone(names.parse_snapshot_name(name, 'os'))

    def test_device_paths(self):
        paths = names.DevicePaths('/tmp/dev')
        self.assertEqual('/tmp/dev/storpool/os--volume-1',
                         paths.by_name('os--volume-1'))
        self.assertEqual('/tmp/dev/storpool-byid/d.n.buy',
                         paths.by_global_id('d.n.buy'))
        self.assertEqual('~d.n.buy',
                         paths.to_reference('/tmp/dev/storpool-byid/d.n.buy'))
        self.assertEqual('os--volume-1',
                         paths.to_reference('/tmp/dev/storpool/os--volume-1'))
        self.assertEqual('/dev/storpool', names.DevicePaths().by_name_dir)

    @ddt.data('/dev/sda', '/tmp/dev/storpool-byid/not-a-gid',
              '/tmp/dev/storpool/', '/tmp/dev/storpool/a/b')
    def test_foreign_paths_refused(self, path):
        exc = self.assertRaises(ValueError,
                                names.DevicePaths('/tmp/dev').to_reference,
                                path)
        self.assertIn('not a StorPool device path', str(exc))
