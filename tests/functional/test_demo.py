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
"""`storpool-openstack demo`, end to end, in a process of its own.

The demo starts its own emulator and its own Cinder services, so this test
runs the command in a child process (its Cinder configuration and services
are then its own, not this test process's) and checks what it printed,
that it cleaned up, and that the emulator's token never reached the
output.  The child refuses to import any test library or Cinder's and
Nova's test code, as if they were not installed: the demo ships in the
package and must not need them (``tox -e demo`` runs it where they really
are absent).
"""

import os
import re
import subprocess
import sys

import testtools

STEPS = 14
TIMEOUT = 600

# Run in the child: refuse test code, then run the given Python code.
NO_TEST_CODE = """
import importlib.abc, sys

BLOCKED = ('testtools', 'fixtures', 'oslotest', 'stestr', 'tests')


class RefuseTestCode(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in BLOCKED or \\
                name.startswith(('cinder.tests', 'nova.tests')):
            raise ModuleNotFoundError(f'No module named {name!r} (test '
                                      f'code: refused by test_demo)')
        return None


sys.meta_path.insert(0, RefuseTestCode())
"""
RUN_CLI = """
from storpool_openstack.cmd import storpool_openstack
sys.exit(storpool_openstack.main(sys.argv[1:]))
"""
RUN_BOGUS = """
from storpool_openstack.demo import runner
from storpool_openstack.ops import output
sys.exit(0 if runner.Demo(output.Console(), device_mode='bogus').run()
         else 1)
"""


class DemoTestCase(testtools.TestCase):

    def run_child(self, code: str, *argv: str):
        env = dict(os.environ)
        env.pop('STORPOOL_EMULATOR_TOKEN', None)
        proc = subprocess.run(
            [sys.executable, '-c', NO_TEST_CODE + code, *argv],
            capture_output=True, text=True, timeout=TIMEOUT, env=env,
            stdin=subprocess.DEVNULL, cwd='/')
        return proc.returncode, proc.stdout, proc.stderr

    def temp_dir_of(self, text: str) -> str:
        match = re.search(r'with StorPoolDriver in (\S+)', text)
        self.assertIsNotNone(match, text)
        return match.group(1)

    def assert_cleaned_up(self, tmp: str) -> None:
        self.assertFalse(os.path.exists(tmp), f'{tmp} left behind')
        loops = subprocess.run(['losetup', '--list', '--noheadings',
                                '--output', 'BACK-FILE'],
                               capture_output=True, text=True).stdout
        self.assertNotIn(tmp, loops)

    def test_blocker_refuses_test_code(self):
        # The guard of the test below works: test code cannot be imported.
        code, out, err = self.run_child('import fixtures')
        self.assertNotEqual(0, code)
        self.assertIn("No module named 'fixtures' (test code", err)

    def test_demo(self):
        code, out, err = self.run_child(RUN_CLI, 'demo')
        self.assertEqual(0, code, out + err)
        lines = out.splitlines()
        steps = [line for line in lines if re.match(r'^\S \s?\d+ ', line)]
        self.assertEqual(STEPS, len(steps), out)
        self.assertEqual([], [s for s in steps if not s.startswith('\u2713')],
                         out)
        for title, calls in (
                ('create a 1 GiB volume', 'VolumeCreate]'),
                ('extend it to 2 GiB', 'VolumeUpdate]'),
                ('snapshot it', 'VolumeSnapshot]'),
                ('revert it to the snapshot', 'VolumeRevert]'),
                ('group snapshot', 'VolumesGroupSnapshot')):
            line = next(s for s in steps if title in s)
            self.assertIn(calls, line)
        self.assertRegex(lines[-1], r'^demo passed: 14 step\(s\) passed, 0 '
                                    r'failed, 0 skipped; \d+ StorPool API '
                                    r'calls; [\d.]+ s; temporary directory '
                                    r'removed$')
        self.assertEqual('', err)
        # The emulator's token (a random 19-digit number, as StorPool's)
        # never reaches the output.
        self.assertNotRegex(out, r'(?<!\d)\d{19}(?!\d)|SP_AUTH_TOKEN')
        self.assert_cleaned_up(self.temp_dir_of(out))

    def test_failure_is_reported(self):
        # A real failure: the emulator refuses an unknown device mode, so
        # the services never start.
        code, out, err = self.run_child(RUN_BOGUS)
        self.assertEqual(1, code, out + err)
        self.assertIn('demo: FAILED: ', err)
        self.assertIn('storpool-emulator did not start', err)
        self.assertIn('demo FAILED: 0 step(s) passed', out)
        self.assert_cleaned_up(self.temp_dir_of(out))
        saved = re.search(r'the whole log is in (\S+)', err)
        if saved:
            os.unlink(saved.group(1))

    def test_missing_extra_is_named(self):
        # Without the [demo] extra the command says what to install.
        code = """
from storpool_openstack.demo import cli
cli.NEEDS = dict(cli.NEEDS, no_such_module_here='python-nosuch')
""" + RUN_CLI
        code, out, err = self.run_child(code, 'demo')
        self.assertEqual(1, code, out + err)
        self.assertIn('the demo needs python-nosuch', err)
        self.assertIn('pip install "storpool-openstack[demo]"', err)
