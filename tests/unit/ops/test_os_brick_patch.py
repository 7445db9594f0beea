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
"""The os-brick patch, on a copy of the installed os-brick's connector.py."""

import difflib
import importlib.util
import os
import shutil
import tempfile

import testtools

from storpool_openstack.cmd import storpool_openstack as cli
from storpool_openstack.nova import patcher
from storpool_openstack.ops import os_brick_patch
from storpool_openstack.ops import output


class OsBrickPatchTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.path = os.path.join(self.dir, 'connector.py')
        shutil.copy(os_brick_patch.find_connector_file(), self.path)
        with open(self.path, 'rb') as src:
            self.original = src.read()

    def read(self) -> bytes:
        with open(self.path, 'rb') as src:
            return src.read()

    def load(self):
        spec = importlib.util.spec_from_file_location('patched_factory',
                                                      self.path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def test_patch_check_revert(self):
        self.assertEqual(1, os_brick_patch.check(self.path)[0])
        result = os_brick_patch.patch(self.path)
        self.assertTrue(result.changed)
        self.assertEqual(0, os_brick_patch.check(self.path)[0])
        # Only the two StorPool lines changed.
        changed = [line for line in difflib.ndiff(
            self.original.decode().splitlines(),
            self.read().decode().splitlines())
            if line.startswith(('+ ', '- '))]
        self.assertEqual(4, len(changed), changed)
        module = self.load()
        self.assertEqual(os_brick_patch.OURS,
                         module.get_connector_mapping('x86_64')['STORPOOL'])
        self.assertIn(os_brick_patch.OURS, module.unix_connector_list)
        self.assertNotIn(os_brick_patch.INTREE, module.unix_connector_list)
        # A second run changes nothing.
        self.assertFalse(os_brick_patch.patch(self.path).changed)
        backup = self.path + os_brick_patch.BACKUP_SUFFIX
        with open(backup, 'rb') as src:
            self.assertEqual(self.original, src.read())

        self.assertTrue(os_brick_patch.revert(self.path).changed)
        self.assertEqual(self.original, self.read())
        self.assertFalse(os.path.exists(backup))
        self.assertFalse(os_brick_patch.revert(self.path).changed)

    def test_dry_run_writes_nothing(self):
        result = os_brick_patch.patch(self.path, dry_run=True)
        self.assertIn(os_brick_patch.OURS, result.diff)
        self.assertEqual(self.original, self.read())
        self.assertEqual(['connector.py'], os.listdir(self.dir))

    def test_unknown_layout_is_refused(self):
        with open(self.path, 'w') as out:
            out.write('unix_connector_list = []\n')
        self.assertRaises(patcher.LayoutError, os_brick_patch.patch,
                          self.path)
        self.assertEqual(2, os_brick_patch.check(self.path)[0])
        self.assertEqual(['connector.py'], os.listdir(self.dir))

    def test_factory_builds_our_connector_with_cinders_arguments(self):
        os_brick_patch.patch(self.path)
        module = self.load()
        # What cinder.volume.volume_utils.brick_get_connector passes.
        conn = module.InitiatorConnector.factory(
            'storpool', None, use_multipath=False, device_scan_attempts=3,
            conn={'driver_volume_type': 'storpool'}, expect_raw_disk=True,
            storpool_config=_config(), dev_root=self.dir,
            attach_state_file=os.path.join(self.dir, 'state.json'))
        from storpool_openstack.brick import connector
        self.assertIsInstance(conn, connector.StorPoolConnector)

    def test_cli(self):
        out = output.Console(out=_Buffer(), err=_Buffer())
        self.assertEqual(1, cli.main(['os-brick', '--check', '--file',
                                      self.path], out))
        self.assertEqual(0, cli.main(['os-brick', '--file', self.path], out))
        self.assertEqual(0, cli.main(['os-brick', '--check', '--file',
                                      self.path], out))
        self.assertEqual(0, cli.main(['os-brick', '--revert', '--file',
                                      self.path], out))
        self.assertEqual(self.original, self.read())


class _Buffer(list):
    def write(self, text):
        self.append(text)

    def flush(self):
        pass


def _config():
    from storpool_openstack.common import config as sp_config
    return sp_config.load(override_config={
        'SP_OURID': '1', 'SP_AUTH_TOKEN': 'x', 'SP_API_HTTP_HOST':
        '127.0.0.1', 'SP_API_HTTP_PORT': '1'})
