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
"""How every benchmark reports a figure: median, spread, ratio, verdict.

A figure is the median of several repeats; its spread is the range of
the middle half (25th-75th percentile).  A ratio is taken against a
baseline measured in the same run, interleaved with it, so that a slow
moment of this shared machine hits both alike; its spread is that of the
per-repeat ratios.  Verdict lines start with ``verdict`` and say MET or
NOT MET; ``python -m tests.bench`` gathers them into its summary.
"""

import statistics


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method='inclusive')
    return q[0], q[2]


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], fmt: str = '.2f') -> str:
    low, high = quartiles(values)
    return f'{low:{fmt}}-{high:{fmt}}'


def ratio(values: list[float], base: list[float]) -> tuple[float, str]:
    """(median ratio, 'low-high' of the per-repeat ratios)."""
    pairs = [v / b for v, b in zip(values, base) if b]
    return median(values) / median(base), spread(pairs)


def verdict(name: str, met: bool, detail: str) -> str:
    return f'verdict {name}: {"MET" if met else "NOT MET"} ({detail})'


def table(rows: list[tuple], header: tuple) -> list[str]:
    widths = [max(len(str(r[i])) for r in rows + [header])
              for i in range(len(header))]
    lines = ['  '.join(str(c).ljust(w) for c, w in zip(header, widths))]
    lines.append('  '.join('-' * w for w in widths))
    for row in rows:
        lines.append('  '.join(str(c).ljust(w)
                               for c, w in zip(row, widths)).rstrip())
    return lines
