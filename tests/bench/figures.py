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
the middle half (25th-75th percentile) of the same samples.  A ratio is
taken against a baseline measured in the same run, in pairs: each repeat
runs the measured path and its baseline back to back (the order
alternating), and the ratio reported is the median of the per-pair
ratios, with the IQR of those same ratios.  A slow drift of this shared
machine's load then hits both sides of a pair alike and cancels out.
Verdict lines start with ``verdict`` and say MET or NOT MET; each also
records a row (target, median, IQR, verdict) that ``python -m
tests.bench`` prints as a table at the end (`rst_table`).
"""

import statistics

# (target, median, IQR, MET) of every verdict of this process, in order.
ROWS: list[tuple[str, str, str, bool]] = []


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


def pair_ratios(values: list[float], base: list[float]) -> list[float]:
    return [v / b for v, b in zip(values, base, strict=True) if b]


def ratio(values: list[float], base: list[float]) -> tuple[float, str]:
    """(median, 'low-high' IQR) of the per-pair ratios values[i]/base[i].

    Both from the same samples, so the median is always inside its IQR.
    """
    pairs = pair_ratios(values, base)
    return median(pairs), spread(pairs)


def verdict(name: str, met: bool, detail: str, *, figure: str = '',
            iqr: str = '') -> str:
    """The verdict line; `figure` and `iqr` also go to the end table."""
    ROWS.append((name, figure, iqr, met))
    return f'verdict {name}: {"MET" if met else "NOT MET"} ({detail})'


def rst_table(rows: list[tuple[str, str, str, bool]]) -> list[str]:
    """The verdict rows as a reStructuredText simple table (README)."""
    cells = [(name, figure or '-', iqr or '-', 'MET' if met else 'NOT MET')
             for name, figure, iqr, met in rows]
    header = ('Target', 'Median', 'IQR', 'Verdict')
    widths = [max(len(r[i]) for r in cells + [header]) for i in range(4)]
    rule = '  '.join('=' * w for w in widths)
    out = [rule, '  '.join(h.ljust(w) for h, w in zip(header, widths)),
           rule]
    out += ['  '.join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
            for row in cells]
    out.append(rule)
    return out


def table(rows: list[tuple], header: tuple) -> list[str]:
    widths = [max(len(str(r[i])) for r in rows + [header])
              for i in range(len(header))]
    lines = ['  '.join(str(c).ljust(w) for c, w in zip(header, widths))]
    lines.append('  '.join('-' * w for w in widths))
    for row in rows:
        lines.append('  '.join(str(c).ljust(w)
                               for c, w in zip(row, widths)).rstrip())
    return lines
