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
"""The `storpool-openstack` command line itself: help and usage errors."""

import subprocess
import sys

import testtools


class CommandLineTestCase(testtools.TestCase):

    def run_script(self, *argv):
        return subprocess.run(
            [sys.executable, '-m', 'storpool_openstack.cmd.storpool_openstack',
             *argv], capture_output=True, text=True, timeout=120)

    def test_help_lists_subcommands(self):
        res = self.run_script('--help')
        self.assertEqual(0, res.returncode, res.stderr)
        for name in ('setup-host', 'doctor', 'attachments', 'demo'):
            self.assertIn(name, res.stdout)

    def test_bad_usage(self):
        res = self.run_script('doctor', '--no-such-option')
        self.assertEqual(2, res.returncode)
        self.assertIn('unrecognized arguments: --no-such-option', res.stderr)
        res = self.run_script()
        self.assertEqual(2, res.returncode)
        self.assertIn('the following arguments are required: COMMAND',
                      res.stderr)
