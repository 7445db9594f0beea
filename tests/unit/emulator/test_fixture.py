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

"""The fixture other tests build on: both modes start, serve and clean up."""

import os

import ddt
from storpool import spapi
from storpool import spconfig

from tests.unit.emulator import base


@ddt.ddt
class FixtureTestCase(base.TestCase):
    in_process = False
    device_mode = 'auto'

    def setUp(self) -> None:
        # Each test below starts its own fixture.
        super(base.TestCase, self).setUp()

    @ddt.data(True, False)
    def test_start_crud_stop(self, in_process: bool) -> None:
        fix = base.fixture.EmulatorFixture(in_process=in_process)
        fix.setUp()
        try:
            self.assertIn(fix.device_mode, ('loop', 'file'))
            self.assertEqual('http://127.0.0.1:%d' % fix.port, fix.url)
            cfg = spconfig.SPConfig(override_config=fix.config)
            api = spapi.Api.fromConfig(cfg, transientRetries=0)
            api.volumeCreate({'name': 'os--volume-1', 'size': base.GiB,
                              'template': 'hybrid'})
            vols = api.volumesList()
            self.assertEqual(['os--volume-1'], [v.name for v in vols])
            self.assertEqual('hybrid', vols[0].templateName)
            self.assertEqual(3, vols[0].replication)
            api.volumeUpdate('os--volume-1', {'size': 2 * base.GiB})
            self.assertEqual(2 * base.GiB,
                             api.volumeList('os--volume-1')[0].size)
            api.volumeDelete('os--volume-1')
            self.assertEqual([], api.volumesList())
            self.assertEqual(
                ['VolumeCreate', 'VolumesList', 'VolumeUpdate', 'Volume',
                 'VolumeDelete', 'VolumesList'], fix.control.queries())
            with open(fix.conf_path) as fobj:
                text = fobj.read()
            self.assertIn('SP_API_HTTP_PORT=%d\n' % fix.port, text)
            self.assertIn('SP_AUTH_TOKEN=%s\n' % fix.token, text)
            self.assertEqual(0o600, os.stat(fix.conf_path).st_mode & 0o777)
            if in_process:
                self.assertIsNotNone(fix.cluster)
            else:
                self.assertIsNone(fix.cluster)
                self.assertIsNone(fix.process.poll())
        finally:
            fix.cleanUp()
        self.assertEqual([], fix.leftovers())
        self.assertFalse(os.path.exists(fix.base_dir))
        if not in_process:
            self.assertEqual(0, fix.process.returncode)
