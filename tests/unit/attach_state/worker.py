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
"""Code that runs in child processes of the attach-state tests.

`load_worker` is a multiprocessing target (random adds and removes through
AttachState or through storpool.spopenstack.AttachDB); `python -m
tests.unit.attach_state.worker STAGE PATH [KEY]` does one update and
stops at STAGE so that the parent can SIGKILL it there.
"""

import fcntl
import json
import logging
import os
import random
import sys
import time

from storpool.spopenstack import AttachDB

from storpool_openstack import attach_state

OURS = 'ours'
ATTACHDB = 'attachdb'
VERIFY_EVERY = 25


def _entry(proc: int, rnd: random.Random, key: str) -> dict:
    # Names of varying length so that sizes vary as in real files.
    volume = 'os--volume-%d-%s' % (proc, 'x' * rnd.randrange(1, 40))
    return attach_state.make_entry(
        key, volume, kind=rnd.choice(['brick', 'nova-attach', 'backup']),
        rights=rnd.choice([1, 2]))


def load_worker(path: str, proc: int, mode: str, ops: int, seed: int,
                queue, verify_every: int = VERIFY_EVERY) -> None:
    """Random adds/removes of this process's own keys; report to queue."""
    rnd = random.Random(seed)
    expected: dict = {}
    errors: list = []
    state = attach_state.AttachState(path, lock_timeout=60)
    db = AttachDB(logging.getLogger('attachdb'), fname=path)
    keys = ['p%d-k%02d' % (proc, i) for i in range(24)]
    start = time.monotonic()
    try:
        for i in range(ops):
            key = rnd.choice(keys)
            if rnd.random() < 0.55:
                entry = _entry(proc, rnd, key)
                expected[key] = entry
                if mode == OURS:
                    state.add(key, entry['volume'], kind=entry['type'],
                              rights=entry['rights'])
                else:
                    db.add(key, entry)
            else:
                expected.pop(key, None)
                if mode == OURS:
                    state.remove(key)
                else:
                    db.remove(key)
            if verify_every and i % verify_every == verify_every - 1:
                seen = (state.entries() if mode == OURS
                        else json.loads(json.dumps(db.get())))
                mine = {k: v for k, v in seen.items()
                        if k.startswith('p%d-' % proc)}
                if mine != expected:
                    errors.append('op %d: own keys differ: missing %s, '
                                  'extra %s' % (
                                      i, sorted(set(expected) - set(mine)),
                                      sorted(set(mine) - set(expected))))
    except Exception as err:  # reported to the parent, which fails
        errors.append('%s: %s' % (type(err).__name__, err))
    queue.put({'proc': proc, 'mode': mode, 'expected': expected,
               'errors': errors, 'ops': ops,
               'seconds': time.monotonic() - start})


def reader(path: str, stop, queue) -> None:
    """Read the file under a shared flock until told to stop."""
    reads = 0
    bad = []
    while not stop.is_set():
        with open(path, 'rb') as f:
            fcntl.flock(f, fcntl.LOCK_SH)
            raw = f.read()
            fcntl.flock(f, fcntl.LOCK_UN)
        reads += 1
        try:
            if not isinstance(json.loads(raw), dict):
                bad.append(raw[:200])
        except ValueError:
            bad.append(raw[:200])
        time.sleep(0.0005)
    queue.put({'reads': reads, 'bad': bad})


def stop_at(stage_wanted: str, marker: str):
    """A stage hook: at `stage_wanted`, say so and wait to be killed."""
    def hook(stage: str) -> None:
        if stage == stage_wanted:
            with open(marker, 'w') as f:
                f.write(stage)
            while True:
                time.sleep(60)
    return hook


def main(argv: list[str]) -> None:
    stage, path, marker, action = argv[:4]
    attach_state.AttachState._stage_hook = stop_at(stage, marker)
    state = attach_state.AttachState(path)
    if action == 'add':
        state.add('new-req', 'os--volume-new', kind='brick', rights=2)
    elif action == 'remove':
        state.remove(argv[4])
    elif action == 'attachdb-add':
        # AttachDB's own in-place rewrite, stopped between its truncate
        # and its write (the window it has no protection for).
        real_write = os.write

        def write(fd, data):
            open(marker, 'w').write('attachdb-truncated')
            while True:
                time.sleep(60)
            return real_write(fd, data)
        db = AttachDB(logging.getLogger('attachdb'), fname=path)
        db.get()
        os.write = write
        db.add('new-req', {'volume': 'os--volume-new', 'type': 'brick',
                           'id': 'new-req', 'rights': 2, 'volsnap': False})
    time.sleep(60)


if __name__ == '__main__':
    main(sys.argv[1:])
