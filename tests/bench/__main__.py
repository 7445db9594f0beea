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
"""`tox -e bench`: run every benchmark of the package and print reports.

Each module's `run()` returns its report lines (or prints them itself and
returns None). Targets are reported, never asserted: each as a line
``verdict <target>: MET|NOT MET (<figures>)`` (tests/bench/figures.py),
gathered into a summary at the end, with the same targets as a
reStructuredText table (median, IQR, verdict) that the README shows. The
load average of this shared machine is printed at the start and the end:
a figure that misses only under load shows it there. The exit code is 0
unless a benchmark could not run at all.
"""

import argparse
import importlib
import logging
import sys
import time
import traceback

from tests.bench import figures

MODULES = (
    'tests.bench.bench_driver',
    'tests.bench.bench_connector',
    'tests.bench.bench_attach_state',
    'tests.bench.bench_scale',
)


def _lines(result) -> list[str]:
    if result is None:
        return []
    if isinstance(result, str):
        return result.splitlines()
    return [str(line) for line in result]


def _loadavg() -> str:
    try:
        with open('/proc/loadavg', encoding='ascii') as f:
            return ' '.join(f.read().split()[:3])
    except OSError:
        return 'unknown'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python -m tests.bench')
    parser.add_argument('only', nargs='*',
                        help='run only these modules (e.g. bench_driver)')
    parser.add_argument('-v', '--verbose', action='store_true',
                        help="keep the package's INFO log lines")
    args = parser.parse_args(argv)
    if not args.verbose:
        # One log line per attach (and Cinder's own) would bury the results.
        logging.disable(logging.INFO)
    failed = []
    verdicts = []
    started = time.perf_counter()
    print(f'load average at the start: {_loadavg()}')
    for name in MODULES:
        short = name.rsplit('.', 1)[-1]
        if args.only and short not in args.only:
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                print(f'{short}: not present, skipped')
                continue
            raise
        print(f'### {short}')
        sys.stdout.flush()
        try:
            for line in _lines(module.run()):
                print(line)
                if line.lstrip().startswith('verdict '):
                    verdicts.append(f'{short}: {line.strip()[8:]}')
        except Exception:
            failed.append(short)
            print(f'{short}: FAILED to run:')
            traceback.print_exc(file=sys.stdout)
        print()
        sys.stdout.flush()
    met = sum(1 for v in verdicts if ': MET' in v)
    print(f'summary: {met} of {len(verdicts)} targets met')
    for line in verdicts:
        print(f'  {line}')
    print()
    print('targets as a table (median and IQR of the same samples):')
    for line in figures.rst_table(figures.ROWS):
        print(line)
    print(f'load average at the end: {_loadavg()}')
    print(f'benchmarks took {time.perf_counter() - started:.1f} s'
          + (f'; could not run: {", ".join(failed)}' if failed else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
