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
"""`storpool-openstack demo`, end to end, in this process.

The demo starts its own emulator and its own Cinder services (on Cinder's
functional test base), so this test only runs it and checks what it
printed, that it cleaned up, and that the emulator's token never reached
the output.
"""

import io
import os
import re
import subprocess
import warnings

import testtools

from storpool_openstack.cmd import storpool_openstack as cli
from storpool_openstack.demo import runner as demo
from storpool_openstack.ops import output

STEPS = 14


class _RecordingConsole(output.Console):
    """Remembers the secrets it is given, so the test can look for them."""

    def __init__(self, *args):
        super().__init__(*args)
        self.seen_secrets: list[str] = []

    def add_secret(self, secret):
        self.seen_secrets.append(secret)
        super().add_secret(secret)


class TestDemo(testtools.TestCase):

    def run_demo(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        console = _RecordingConsole(out, err)
        code = cli.main(['demo', *argv], console=console)
        return code, out.getvalue(), err.getvalue(), console

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

    def test_demo(self):
        code, out, err, console = self.run_demo()
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
        self.assertTrue(console.seen_secrets)
        for secret in console.seen_secrets:
            self.assertNotIn(secret, out + err)
        self.assert_cleaned_up(self.temp_dir_of(out))

    def test_failure_is_reported(self):
        # A real failure: the emulator refuses an unknown device mode, so
        # the services never start.
        out, err = io.StringIO(), io.StringIO()
        ok = demo.Demo(output.Console(out, err),
                       device_mode='bogus').run()
        self.assertFalse(ok)
        self.assertIn('demo: FAILED: ', err.getvalue())
        self.assertIn('storpool-emulator did not start', err.getvalue())
        self.assertIn('demo FAILED: 0 step(s) passed', out.getvalue())
        self.assert_cleaned_up(self.temp_dir_of(out.getvalue()))
        saved = re.search(r'the whole log is in (\S+)', err.getvalue())
        if saved:
            os.unlink(saved.group(1))

    def test_features_not_built_are_named(self):
        # A step is skipped "not built" when StorPoolDriver itself (not
        # Cinder's base classes) lacks the method.
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            from storpool_openstack.demo import story as demo_story
        self.assertIsNone(demo_story.missing_feature(
            'create_volume', 'revert_to_snapshot', 'create_group_snapshot'))
        self.assertEqual('backup_use_temp_snapshot',
                         demo_story.missing_feature(
                             'create_volume', 'backup_use_temp_snapshot'))
