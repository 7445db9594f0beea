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
"""Attach-state throughput: this manager vs storpool.spopenstack.AttachDB.

8 processes x 250 random add/remove operations on one file, the same
load through each implementation (and mixed), measured in one run.  Our
updates pay for crash safety (three fsyncs each); AttachDB does none.
"""

import json
import os
import shutil
import tempfile

from tests.unit.attach_state import test_concurrency
from tests.unit.attach_state import worker

PROCESSES = 8
OPS = 250
ROUNDS = 2


def _round(modes: list[str], seed: int) -> tuple[float, int, int]:
    """(seconds, lost keys, worker errors) for one 8-process run."""
    tmp = tempfile.mkdtemp(prefix='bench-attach-state-')
    try:
        path = os.path.join(tmp, 'openstack-attach.json')
        with open(path, 'w') as f:
            f.write('{}\n')
        rep = test_concurrency.run_load(path, modes, OPS, seed=seed,
                                        with_reader=False, verify_every=0)
        expected = {}
        errors = 0
        for wrk in rep['workers']:
            expected.update(wrk['expected'])
            errors += len(wrk['errors'])
        with open(path, 'rb') as f:
            final = json.loads(f.read())
        lost = len(set(expected) ^ set(final)) + sum(
            1 for k in expected if k in final and final[k] != expected[k])
        return rep['seconds'], lost, errors
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run() -> list[str]:
    loads = {
        'AttachState': [worker.OURS] * PROCESSES,
        'AttachDB 3.2.0': [worker.ATTACHDB] * PROCESSES,
        'mixed 4+4': ([worker.OURS] * (PROCESSES // 2) +
                      [worker.ATTACHDB] * (PROCESSES // 2)),
    }
    totals = {name: [0.0, 0, 0] for name in loads}
    for rnd in range(ROUNDS):  # interleaved, so drift hits all alike
        for name, modes in loads.items():
            seconds, lost, errors = _round(modes, seed=rnd)
            totals[name][0] += seconds
            totals[name][1] += lost
            totals[name][2] += errors
    ops = PROCESSES * OPS * ROUNDS
    rate = {name: ops / t[0] for name, t in totals.items()}
    lines = [f'attach-state: {PROCESSES} processes x {OPS} add/remove, '
             f'{ROUNDS} rounds each']
    for name, (seconds, lost, errors) in totals.items():
        lines.append(f'  {name:15s} {rate[name]:8.0f} ops/s '
                     f'({seconds:.2f} s, lost updates {lost}, '
                     f'worker errors {errors})')
    lines.append(f'  ratio AttachState / AttachDB: '
                 f'{rate["AttachState"] / rate["AttachDB 3.2.0"]:.2f}')
    return lines


if __name__ == '__main__':
    print('\n'.join(run()))
