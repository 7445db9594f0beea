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

"""``tox -e cloud -- up|down`` (tests/cloud/__main__.py) without a cloud.

Only the paths that start no daemon: the whole cloud is tests/cloud.
"""

import contextlib
import io
import json
import os
import sys
import tempfile

import testtools

from tests.cloud import __main__ as cloud_cli


class CloudCliTest(testtools.TestCase):

    def setUp(self) -> None:
        super().setUp()
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name

    def run_cli(self, *argv: str) -> tuple:
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = cloud_cli.main(list(argv))
        return rc, err.getvalue()

    def test_up_on_a_running_cloud_leaves_it_alone(self) -> None:
        # A second `up` on the same directory must refuse and keep the
        # running cloud's state.json: renamed, `down` no longer finds the
        # cloud and the next `up` removes the directory under its daemons.
        state = {'procs': [], 'ports': {}, 'emulator_url': '',
                 'driver': 'ours'}
        with open(os.path.join(self.dir, 'state.json'), 'w') as fobj:
            json.dump(state, fobj)
        rc, err = self.run_cli('up', '--dir', self.dir)
        self.assertEqual(1, rc)
        self.assertIn('holds a cloud already', err)
        self.assertIn('tox -e cloud -- down --dir %s' % self.dir, err)
        self.assertNotIn('left behind', err)
        self.assertEqual(['state.json'], os.listdir(self.dir))

    def test_up_on_a_directory_with_other_files(self) -> None:
        with open(os.path.join(self.dir, 'mine.txt'), 'w') as fobj:
            fobj.write('keep me')
        rc, err = self.run_cli('up', '--dir', self.dir)
        self.assertEqual(1, rc)
        self.assertIn('is not empty', err)
        self.assertEqual(['mine.txt'], os.listdir(self.dir))

    def test_usage_hints_work_as_printed(self) -> None:
        # `openstack` is not on PATH outside the tox env, and
        # `python -m tests.cloud` needs that env's python: the hints name
        # the env's client and the tox command, as the README does.
        hints = cloud_cli.usage_hints('/d/clouds.yaml', 'storpool-cloud',
                                      '/d')
        client = os.path.join(os.path.dirname(sys.executable), 'openstack')
        self.assertEqual(
            ['use it with:',
             '  export OS_CLIENT_CONFIG_FILE=/d/clouds.yaml '
             'OS_CLOUD=storpool-cloud',
             '  %s volume service list' % client,
             'stop it with:',
             '  tox -e cloud -- down --dir /d'], hints.splitlines())
        self.assertTrue(os.path.isabs(client))
