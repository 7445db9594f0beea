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
"""Many processes, some through AttachDB 3.2.0, on one attach-state file."""

import json
import multiprocessing
import os
import queue as queue_mod
import time

import fixtures
from oslotest import base

from storpool_openstack import attach_state
from tests.unit.attach_state.base import side_pending
from tests.unit.attach_state import worker

PROCESSES = 8
OPS = 250


def run_load(path: str, modes: list[str], ops: int, *, seed: int = 0,
             with_reader: bool = True,
             verify_every: int = worker.VERIFY_EVERY) -> dict:
    """Run one worker per mode (and a reader); return their reports."""
    ctx = multiprocessing.get_context('fork')
    results = ctx.Queue()
    stop = ctx.Event()
    procs = [ctx.Process(target=worker.load_worker,
                         args=(path, i, mode, ops, seed * 1000 + i, results,
                               verify_every))
             for i, mode in enumerate(modes)]
    reader = (ctx.Process(target=worker.reader, args=(path, stop, results))
              if with_reader else None)
    if reader is not None:
        reader.start()
    start = time.monotonic()
    for proc in procs:
        proc.start()
    reports = []
    read_report = None
    try:
        for _ in procs:
            reports.append(results.get(timeout=120))
        seconds = time.monotonic() - start
        stop.set()
        if reader is not None:
            read_report = results.get(timeout=30)
    except queue_mod.Empty:
        raise AssertionError('attach-state load workers did not finish')
    finally:
        stop.set()
        for proc in procs + ([reader] if reader else []):
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()
    return {'workers': sorted(reports, key=lambda r: r['proc']),
            'reader': read_report, 'seconds': seconds}


class ConcurrencyTestCase(base.BaseTestCase):
    def test_mixed_with_attachdb(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'openstack-attach.json')
        with open(path, 'w') as f:
            f.write('{}\n')
        modes = ([worker.OURS] * (PROCESSES // 2) +
                 [worker.ATTACHDB] * (PROCESSES - PROCESSES // 2))
        report = run_load(path, modes, OPS)
        expected = {}
        for rep in report['workers']:
            self.assertEqual([], rep['errors'], rep['mode'])
            expected.update(rep['expected'])
        # Each worker changed only its own keys: the final file is the
        # union of what each one believes; any lost update shows here.
        self.assertEqual(len(modes), len(report['workers']))
        final = attach_state.AttachState(path).entries()
        self.assertEqual(sorted(expected), sorted(final))
        self.assertEqual(expected, final)
        with open(path, 'rb') as f:
            self.assertEqual(json.dumps(final).encode(), f.read())
        self.assertEqual([], report['reader']['bad'])
        self.assertGreater(report['reader']['reads'], 10)
        self.assertFalse(side_pending(path + '.next'))
