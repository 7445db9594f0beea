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
"""The new text of Nova's ``driver.py``, with the ``storpool`` entry set.

Only the characters of one entry change: an existing entry's value is
replaced in place, a missing entry is added after the last one in its
neighbours' style (quotes, separator, indentation, trailing comma).
"""

import difflib
import re

from storpool_openstack.nova import driver_table
from storpool_openstack.nova import errors


def entry_text(layout: driver_table.Layout, target: str, quote: str) -> str:
    """The source of a new ``storpool`` entry in the table's format."""
    if layout.kind == 'dict':
        return (f'{quote}{driver_table.DRIVER_TYPE}{quote}{layout.separator}'
                f'{quote}{target}{quote}')
    return f'{quote}{driver_table.DRIVER_TYPE}={target}{quote}'


def _value_text(layout: driver_table.Layout, target: str) -> str:
    quote = layout.value_quote
    if layout.kind == 'dict':
        return f'{quote}{target}{quote}'
    return f'{quote}{driver_table.DRIVER_TYPE}={target}{quote}'


def _replace_value(text: str, layout: driver_table.Layout, target: str) -> str:
    return (text[:layout.value_start] + _value_text(layout, target) +
            text[layout.value_end:])


def _after_last(text: str, start: int,
                stop: int) -> tuple[int, int | None, bool]:
    """Scan from the last entry's end to the closing bracket.

    Returns (end of the entry including closing parens, offset just past
    a trailing comma or None, True if a line break comes before stop).
    Only parens, a comma, blanks, comments and line continuations can sit
    there; anything else means we misread the layout.
    """
    entry_end, comma, newline = start, None, False
    pos = start
    while pos < stop:
        char = text[pos]
        if char == '#':
            while pos < stop and text[pos] not in '\r\n':
                pos += 1
            continue
        if char in '\r\n':
            newline = True
        elif char == ')' and comma is None:
            entry_end = pos + 1
        elif char == ',' and comma is None:
            comma = pos + 1
        elif char not in ' \t\f\\':
            raise errors.LayoutError(
                f'unexpected {char!r} after the last entry')
        pos += 1
    return entry_end, comma, newline


def _line_end(text: str, pos: int) -> tuple[int, str]:
    """(offset past the line break at or after pos, the break itself)."""
    match = re.compile(r'\r\n|\r|\n').search(text, pos)
    if match is None:
        return len(text), '\n'
    return match.end(), match.group()


def _indent_of(text: str, start: int) -> str:
    """Indentation for a new line that lines up with the entry at start."""
    line_start = max(text.rfind('\n', 0, start), text.rfind('\r', 0, start))
    before = text[line_start + 1:start]
    indent = before[:len(before) - len(before.lstrip(' \t'))]
    if before[len(indent):].strip('('):
        return ' ' * len(before)
    return indent


def _add_entry(text: str, layout: driver_table.Layout, target: str) -> str:
    """Add the entry as the table's last, in its neighbours' style.

    One entry per line (Nova's style): a new line after the last entry,
    with its indentation, and a trailing comma only if it had one.  A
    table closed on its last entry's line gets the entry inline.
    """
    new = entry_text(layout, target, layout.last_quote)
    if layout.last_start is None:
        return text[:layout.close] + new + text[layout.close:]
    entry_end, comma, newline = _after_last(text, layout.last_end,
                                            layout.close)
    insert_at, eol = _line_end(text, comma or entry_end)
    if not newline or insert_at > layout.close:
        if comma is not None:
            return f'{text[:comma]} {new},{text[comma:]}'
        return f'{text[:entry_end]}, {new}{text[entry_end:]}'
    indent = _indent_of(text, layout.last_start)
    if comma is not None:
        return f'{text[:insert_at]}{indent}{new},{eol}{text[insert_at:]}'
    return (f'{text[:entry_end]},{text[entry_end:insert_at]}'
            f'{indent}{new}{eol}{text[insert_at:]}')


def patched_text(source: driver_table.Source,
                 target: str = driver_table.OUR_CLASS,
                 force: bool = False) -> tuple[driver_table.Layout, str]:
    """Return (layout, new text) with the storpool entry set to target.

    The text is returned unchanged when it already points at target.
    A storpool entry pointing elsewhere than Nova's own class is refused
    unless force is set, since someone else put it there.
    """
    layout = driver_table.analyse(source)
    state = layout.state(target)
    if state == driver_table.State.PATCHED:
        return layout, source.text
    if state == driver_table.State.FOREIGN and not force:
        raise errors.LayoutError(
            f'{source.path}: looked for {driver_table.DRIVER_TYPE!r} '
            f'pointing to {driver_table.INTREE_CLASS} or {target}, found '
            f'{layout.current}; refusing to replace it without --force')
    if state == driver_table.State.ABSENT:
        try:
            return layout, _add_entry(source.text, layout, target)
        except errors.LayoutError as exc:
            raise errors.LayoutError(
                f'{source.path}: {exc} in {layout.describe()}')
    return layout, _replace_value(source.text, layout, target)


def unified_diff(path: errors.PathLike, old: str, new: str,
                 labels: tuple[str, str] = ('original', 'patched')) -> str:
    """A unified diff of two texts, line endings kept as they are."""
    return ''.join(difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True),
        fromfile=f'{path} ({labels[0]})',
        tofile=f'{path} ({labels[1]})'))
