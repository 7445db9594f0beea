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
"""`storpool-openstack demo`: the whole story on the bundled emulator.

The StorPool emulator runs in a subprocess in a temporary directory;
Cinder's real REST API, scheduler and volume service (with StorPoolDriver)
run in this process the way Cinder's own functional tests run them
(`cinder.tests.functional`, in-memory sqlite, the fake message bus).  The
story itself is in `demo_story`; this module runs it, prints one line per
step and the summary, and makes sure nothing is left behind.

Importing Cinder's test helpers monkey-patches the process with eventlet,
so the story is imported only when the demo runs.
"""

import collections
import contextlib
import dataclasses
import io
import os
import shutil
import subprocess
import tempfile
import time
import traceback
import unittest
import warnings

from storpool_openstack.ops import output

# Environment for Cinder's test base: capture the services' own stdout
# and stderr (their logs go to a file), and a generous overall timeout.
_ENV = {'OS_STDOUT_CAPTURE': '1', 'OS_STDERR_CAPTURE': '1',
        'OS_LOG_CAPTURE': '1', 'OS_TEST_TIMEOUT': '600'}
LOG_TAIL = 40

OK = 'ok'
FAILED = 'failed'
SKIPPED = 'skipped'


@dataclasses.dataclass
class StepResult:
    title: str
    status: str
    seconds: float
    calls: list[str]
    detail: str = ''


class StepSkipped(Exception):
    """The step cannot run; the message says why (shown to the user)."""


def count_calls(calls: list[str]) -> str:
    """`VolumeCreate, VolumesList x2` in order of first appearance."""
    if not calls:
        return 'no StorPool calls'
    counted = collections.Counter(calls)
    parts = []
    for name in dict.fromkeys(calls):
        parts.append(name if counted[name] == 1
                     else f'{name} x{counted[name]}')
    return ', '.join(parts)


class Demo:
    """Runs the story; `run()` returns True when every step passed."""

    def __init__(self, console: output.Console, *, keep: bool = False,
                 device_mode: str = 'auto'):
        self.console = console
        self.keep = keep
        self.device_mode = device_mode
        self.results: list[StepResult] = []
        self.tmp: str | None = None
        self.log_path: str | None = None
        self.started = time.monotonic()

    # Used by the story

    def report(self, result: StepResult) -> None:
        self.results.append(result)
        mark = self.console.mark({OK: True, FAILED: False}.get(
            result.status))
        number = len(self.results)
        if result.status == SKIPPED:
            self.console.print(f'{mark} {number:2d} {result.title}: '
                               f'skipped: {result.detail}')
            return
        line = (f'{mark} {number:2d} {result.title} '
                f'[{result.seconds:.2f} s; {count_calls(result.calls)}]')
        self.console.print(line)
        if result.detail:
            self.console.print(f'      {result.detail}')

    def note(self, text: str) -> None:
        self.console.print(f'   {text}')

    # Running

    def run(self) -> bool:
        self.tmp = tempfile.mkdtemp(prefix='storpool-openstack-demo-')
        self.log_path = os.path.join(self.tmp, 'cinder.log')
        self.console.print(f'storpool-openstack demo: StorPool emulator + '
                           f'Cinder services with StorPoolDriver in '
                           f'{self.tmp}')
        saved = {key: os.environ.get(key) for key in _ENV}
        os.environ.update(_ENV)
        # Every temporary file of the run (the emulator's too) goes here.
        saved_tempdir = tempfile.tempdir
        tempfile.tempdir = self.tmp
        problems: list[str] = []
        try:
            problems = self._run_story()
        except Exception:
            problems = [traceback.format_exc()]
        finally:
            tempfile.tempdir = saved_tempdir
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        leftovers = self._leftover_loops()
        ok = not problems and not leftovers and all(
            r.status != FAILED for r in self.results)
        if not ok:
            self._show_failure(problems, leftovers)
        self._finish(ok)
        return ok

    def _run_story(self) -> list[str]:
        with warnings.catch_warnings(), \
                contextlib.redirect_stderr(io.StringIO()):
            # Cinder imports eventlet, which warns that it is deprecated
            # and about modules imported before it patched them.
            warnings.simplefilter('ignore')
            from storpool_openstack.ops import demo_story

        case = demo_story.DemoStory('test_story')
        case.demo = self
        result = unittest.TestResult()
        case.run(result)
        problems = [text for _case, text in result.errors + result.failures]
        problems += [f'skipped: {why}' for _case, why in result.skipped]
        return problems

    def _leftover_loops(self) -> list[str]:
        """Loop devices still backed by files of the demo's directory."""
        try:
            out = subprocess.run(['losetup', '--list', '--noheadings',
                                  '--output', 'NAME,BACK-FILE'],
                                 capture_output=True, text=True,
                                 check=False).stdout
        except OSError:
            return []
        found = []
        for line in out.splitlines():
            parts = line.split(None, 1)
            if len(parts) == 2 and parts[1].startswith(self.tmp + os.sep):
                found.append(parts[0])
        return found

    def _show_failure(self, problems: list[str],
                      leftovers: list[str]) -> None:
        for text in problems:
            lines = text.rstrip().splitlines()
            self.console.print('demo: FAILED: ' + (lines[-1] if lines
                                                   else 'unknown error'),
                               err=True)
            # 30 lines: enough to keep the headline (e.g. "storpool-emulator
            # did not start") above a stderr that starts with eventlet's
            # 10-line deprecation warning (eventlet 0.41, OpenStack 2026.1).
            for line in lines[-30:-1]:
                self.console.print('    ' + line, err=True)
        if leftovers:
            self.console.print('demo: FAILED: loop devices left behind: '
                               + ', '.join(leftovers), err=True)
            for dev in leftovers:
                subprocess.run(['losetup', '-d', dev], check=False)
        if self.log_path and os.path.exists(self.log_path):
            with open(self.log_path, errors='replace') as fobj:
                tail = fobj.readlines()[-LOG_TAIL:]
            self.console.print(f'demo: the last {len(tail)} lines of the '
                               f'Cinder log:', err=True)
            for line in tail:
                self.console.print('  | ' + line.rstrip(), err=True)
            if not self.keep:
                saved = tempfile.NamedTemporaryFile(
                    prefix='storpool-openstack-demo-', suffix='.log',
                    delete=False)
                with saved, open(self.log_path, 'rb') as src:
                    shutil.copyfileobj(src, saved)
                self.console.print(f'demo: the whole log is in {saved.name}',
                                   err=True)

    def _finish(self, ok: bool) -> None:
        counts = collections.Counter(r.status for r in self.results)
        calls = sum(len(r.calls) for r in self.results)
        elapsed = time.monotonic() - self.started
        if self.keep:
            where = f'kept {self.tmp} (logs: {self.log_path})'
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
            where = ('temporary directory removed' if not
                     os.path.exists(self.tmp) else
                     f'could not remove {self.tmp}')
        verdict = 'demo passed' if ok else 'demo FAILED'
        self.console.print(
            f'{verdict}: {counts[OK]} step(s) passed, {counts[FAILED]} '
            f'failed, {counts[SKIPPED]} skipped; {calls} StorPool API '
            f'calls; {elapsed:.1f} s; {where}')
