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
"""`storpool-openstack demo`: runs the story, prints it, leaves nothing.

The StorPool emulator runs in a child process in a temporary directory;
Cinder's real REST API, scheduler and volume service (with StorPoolDriver)
run in this process (`cloud`).  The steps are in `story`; this module
runs them, prints one line per step and the summary, keeps the services'
log in a file, and makes sure nothing is left behind.

Importing the story monkey-patches the process with eventlet, so it is
imported only when the demo runs.
"""

import collections
import contextlib
import io
import logging
import os
import shutil
import subprocess
import tempfile
import time
import traceback
import warnings

from storpool_openstack.demo import results
from storpool_openstack.ops import output

LOG_TAIL = 40


class Demo:
    """Runs the story; `run()` returns True when every step passed."""

    def __init__(self, console: output.Console, *, keep: bool = False,
                 device_mode: str = 'auto'):
        self.console = console
        self.keep = keep
        self.device_mode = device_mode
        self.results: list[results.StepResult] = []
        self.tmp: str | None = None
        self.log_path: str | None = None
        self.started = time.monotonic()

    def report(self, result: results.StepResult) -> None:
        self.results.append(result)
        mark = self.console.mark({results.OK: True,
                                  results.FAILED: False}.get(result.status))
        number = len(self.results)
        if result.status == results.SKIPPED:
            self.console.print(f'{mark} {number:2d} {result.title}: '
                               f'skipped: {result.detail}')
            return
        line = (f'{mark} {number:2d} {result.title} '
                f'[{result.seconds:.2f} s; '
                f'{results.count_calls(result.calls)}]')
        self.console.print(line)
        if result.detail:
            self.console.print(f'      {result.detail}')

    def run(self) -> bool:
        self.tmp = tempfile.mkdtemp(prefix='storpool-openstack-demo-')
        self.log_path = os.path.join(self.tmp, 'cinder.log')
        self.console.print(f'storpool-openstack demo: StorPool emulator + '
                           f'Cinder services with StorPoolDriver in '
                           f'{self.tmp}')
        # Every temporary file of the run (Cinder's too) goes here.
        saved_tempdir = tempfile.tempdir
        tempfile.tempdir = self.tmp
        problems: list[str] = []
        try:
            with self._log_to_file():
                self._run_story()
        except Exception:
            problems = [traceback.format_exc()]
        finally:
            tempfile.tempdir = saved_tempdir
        leftovers = self._leftover_loops()
        ok = not problems and not leftovers and all(
            r.status != results.FAILED for r in self.results)
        if not ok:
            self._show_failure(problems, leftovers)
        self._finish(ok)
        return ok

    @contextlib.contextmanager
    def _log_to_file(self):
        """Every log record (DEBUG too) and warning into the log file."""
        root = logging.getLogger()
        handler = logging.FileHandler(self.log_path)
        handler.setFormatter(logging.Formatter(
            '%(asctime)s %(levelname)s [%(name)s] %(message)s'))
        saved_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        logging.captureWarnings(True)
        try:
            yield
        finally:
            logging.captureWarnings(False)
            root.setLevel(saved_level)
            root.removeHandler(handler)
            handler.close()

    def _run_story(self) -> None:
        with warnings.catch_warnings(), \
                contextlib.redirect_stderr(io.StringIO()):
            # Cinder imports eventlet, which warns that it is deprecated
            # and about modules imported before it patched them.
            warnings.simplefilter('ignore')
            from storpool_openstack.demo import story

        story.Story(self.tmp, device_mode=self.device_mode,
                    report=self.report,
                    add_secret=self.console.add_secret).run()

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
            f'{verdict}: {counts[results.OK]} step(s) passed, '
            f'{counts[results.FAILED]} failed, {counts[results.SKIPPED]} '
            f'skipped; {calls} StorPool API calls; {elapsed:.1f} s; {where}')
