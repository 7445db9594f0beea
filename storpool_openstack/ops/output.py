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
"""Output helpers shared by the `storpool-openstack` subcommands.

Every line goes through one `Console`, which scrubs secrets (the StorPool
API token) from everything it prints, so no code path can leak them.
"""

import sys
import time
from typing import Sequence, TextIO

MASK = '***'


class Console:
    """Prints lines, with the secrets it was told about masked."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._secrets: set[str] = set()

    def add_secret(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def scrub(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def print(self, text: str = '', *, err: bool = False) -> None:
        stream = self.err if err else self.out
        print(self.scrub(text), file=stream, flush=True)

    def error(self, text: str) -> None:
        self.print(f'storpool-openstack: error: {text}', err=True)

    def mark(self, ok: bool | None) -> str:
        """✓ / ✗ / - where the terminal takes them, else OK / FAIL / SKIP."""
        fancy = {True: '\u2713', False: '\u2717', None: '-'}[ok]
        plain = {True: 'OK', False: 'FAIL', None: 'SKIP'}[ok]
        encoding = getattr(self.out, 'encoding', None)
        if encoding is None:  # an in-memory text stream takes anything
            return fancy
        try:
            '\u2713\u2717'.encode(encoding)
        except (UnicodeEncodeError, LookupError):
            return plain
        return fancy


class Progress:
    """"[i/n] what" lines for long operations, at most one per interval."""

    def __init__(self, console: Console, total: int, what: str,
                 interval: float = 1.0, always_every: int = 0,
                 err: bool = False):
        self.console = console
        self.err = err
        self.total = total
        self.what = what
        self.interval = interval
        self.always_every = always_every
        self.done = 0
        self._last = float('-inf')  # the first step always shows
        self._start = time.monotonic()

    def step(self, detail: str = '') -> None:
        self.done += 1
        now = time.monotonic()
        if (now - self._last >= self.interval or self.done == self.total or
                (self.always_every and self.done % self.always_every == 0)):
            self._last = now
            suffix = f': {detail}' if detail else ''
            self.console.print(f'[{self.done}/{self.total}] {self.what}'
                               f'{suffix} ({now - self._start:.1f} s)',
                               err=self.err)


def table(header: Sequence[str], rows: Sequence[Sequence[str]],
          right: Sequence[int] = ()) -> list[str]:
    """Aligned columns, two spaces apart; columns in `right` right-aligned.

    Every subcommand's table goes through here, so they all look alike.
    """
    cells = [list(header)] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        lines.append('  '.join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)).rstrip())
    return lines
