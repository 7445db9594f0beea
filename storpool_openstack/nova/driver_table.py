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
"""Find Nova's volume driver table and its ``storpool`` entry in the text.

Nova's ``driver.py`` is read and decoded as Python source, parsed with
:mod:`ast`, and the one module-level ``VOLUME_DRIVERS`` dict (Nova >= 23)
or ``libvirt_volume_drivers`` list (Nova 17-22) is located, down to the
character offsets of its ``storpool`` entry and of its last entry, so that
an edit can touch exactly those characters.
"""

import ast
import dataclasses
import enum
import io
import pathlib
import re
import tokenize

from storpool_openstack.nova import errors

DRIVER_TYPE = 'storpool'
OUR_CLASS = 'storpool_openstack.nova.volume.LibvirtStorPoolVolumeDriver'
INTREE_CLASS = 'nova.virt.libvirt.volume.storpool.LibvirtStorPoolVolumeDriver'
DICT_NAME = 'VOLUME_DRIVERS'
LIST_NAME = 'libvirt_volume_drivers'


class State(enum.Enum):
    """What the ``storpool`` entry currently points to."""

    PATCHED = 'patched'
    INTREE = 'in-tree'
    ABSENT = 'absent'
    FOREIGN = 'foreign'


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where the driver table and its ``storpool`` entry are in the text.

    Offsets are absolute character offsets into the decoded text.
    """

    kind: str
    name: str
    lineno: int
    close: int
    last_start: int | None
    last_end: int | None
    last_quote: str
    separator: str
    value_start: int | None
    value_end: int | None
    value_quote: str
    current: str | None

    def state(self, target: str) -> State:
        if self.current is None:
            return State.ABSENT
        if self.current == target:
            return State.PATCHED
        if self.current == INTREE_CLASS:
            return State.INTREE
        return State.FOREIGN

    def describe(self) -> str:
        shape = '{...} dict' if self.kind == 'dict' else '[...] list'
        return f'{self.name} {shape} at line {self.lineno}'


@dataclasses.dataclass(frozen=True)
class Source:
    """A driver file's bytes and their decoded text."""

    path: pathlib.Path
    data: bytes
    text: str
    encoding: str

    def encode(self, text: str) -> bytes:
        return text.encode(self.encoding)


def read_source(path: errors.PathLike) -> Source:
    """Read and decode a Python file, with a one-line error on failure."""
    path = pathlib.Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise errors.FileProblem(
            f'{path}: no such file; check the path or pass --nova-dir/--file')
    except IsADirectoryError:
        raise errors.FileProblem(f'{path}: is a directory; pass the '
                                 'driver.py file itself or use --nova-dir')
    except PermissionError:
        raise errors.FileProblem(f'{path}: permission denied; run as root '
                                 'or as the owner of the file')
    except OSError as exc:
        raise errors.FileProblem(f'{path}: cannot read: {exc.strerror}')
    try:
        encoding = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        raise errors.FileProblem(
            f'{path}: cannot decode as Python source ({exc}); reinstall '
            'Nova to get a clean copy')
    return Source(path, data, text, encoding)


def parse(source: Source) -> ast.Module:
    """Parse the text; a syntax error becomes a one-line FileProblem."""
    try:
        return ast.parse(source.text, filename=str(source.path))
    except (SyntaxError, ValueError) as exc:
        where = getattr(exc, 'lineno', None)
        line = f', line {where}' if where else ''
        raise errors.FileProblem(
            f'{source.path}: not valid Python ({getattr(exc, "msg", exc)}'
            f'{line}); reinstall the Nova package to get a clean copy')


class Positions:
    """Convert ast (line, UTF-8 byte column) pairs to text offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        for match in re.finditer(r'\r\n|\r|\n', text):
            self.starts.append(match.end())

    def offset(self, lineno: int, col: int) -> int:
        start = self.starts[lineno - 1]
        end = (self.starts[lineno] if lineno < len(self.starts)
               else len(self.text))
        line = self.text[start:end].encode('utf-8')
        return start + len(line[:col].decode('utf-8'))

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset),
                self.offset(node.end_lineno, node.end_col_offset))


def _candidates(tree: ast.Module) -> list[tuple[str, ast.expr, int]]:
    """Module-level assignments to either table name, in file order."""
    found = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        else:
            continue
        for target in targets:
            if (isinstance(target, ast.Name) and
                    target.id in (DICT_NAME, LIST_NAME)):
                found.append((target.id, value, stmt.lineno))
    return found


def _describe_candidates(found: list[tuple[str, ast.expr, int]]) -> str:
    return ', '.join(f'{name} = {type(value).__name__} at line {lineno}'
                     for name, value, lineno in found)


def _the_table(source: Source,
               tree: ast.Module) -> tuple[str, ast.expr, int]:
    """The one driver table node, or a LayoutError saying what is there."""
    wanted = (f'a module-level {DICT_NAME} = {{...}} dict or '
              f'{LIST_NAME} = [...] list')
    found = _candidates(tree)
    if not found:
        raise errors.LayoutError(
            f'{source.path}: looked for {wanted}, found neither name '
            'assigned at module level; is this Nova\'s '
            'nova/virt/libvirt/driver.py?')
    if len(found) > 1:
        raise errors.LayoutError(
            f'{source.path}: looked for {wanted}, found {len(found)} '
            f'candidates ({_describe_candidates(found)}); refusing to guess '
            'which one Nova uses')
    name, value, lineno = found[0]
    expected = ast.Dict if name == DICT_NAME else ast.List
    if not isinstance(value, expected):
        raise errors.LayoutError(
            f'{source.path}: looked for {wanted}, found '
            f'{_describe_candidates(found)}; this Nova layout is unknown')
    return name, value, lineno


def _str_value(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _quote(source_text: str) -> str:
    """The quote character a string literal's source uses."""
    for char in source_text:
        if char in '\'"':
            return char
    return "'"


def _storpool_items(kind: str,
                    table: ast.AST) -> list[tuple[ast.expr, str | None]]:
    """(value node, class path) for every storpool entry in the table."""
    items = []
    if kind == 'dict':
        for key, value in zip(table.keys, table.values):
            if key is not None and _str_value(key) == DRIVER_TYPE:
                items.append((value, _str_value(value)))
    else:
        prefix = f'{DRIVER_TYPE}='
        for elt in table.elts:
            text = _str_value(elt)
            if text is not None and text.split('=', 1)[0] == DRIVER_TYPE:
                items.append((elt, text[len(prefix):]))
    return items


def analyse(source: Source) -> Layout:
    """Locate the driver table and its ``storpool`` entry.

    Raises LayoutError naming what was looked for and what was found when
    the file does not have exactly one table this tool understands.
    """
    tree = parse(source)
    name, table, lineno = _the_table(source, tree)
    kind = 'dict' if name == DICT_NAME else 'list'
    pos = Positions(source.text)
    items = _storpool_items(kind, table)
    if len(items) > 1:
        raise errors.LayoutError(
            f'{source.path}: looked for one {DRIVER_TYPE!r} entry in '
            f'{name}, found {len(items)}; refusing to guess')
    value_start = value_end = current = None
    value_quote = "'"
    if items:
        node, current = items[0]
        if current is None:
            raise errors.LayoutError(
                f'{source.path}: looked for a string {DRIVER_TYPE!r} '
                f'entry in {name}, found a {type(node).__name__} at '
                f'line {node.lineno}')
        value_start, value_end = pos.span(node)
        value_quote = _quote(source.text[value_start:value_end])
    last = _last_entry(kind, table, pos, source.text)
    return Layout(kind=kind, name=name, lineno=lineno,
                  close=pos.span(table)[1] - 1,
                  value_start=value_start, value_end=value_end,
                  value_quote=value_quote, current=current, **last)


def _last_entry(kind: str, table: ast.AST, pos: Positions,
                text: str) -> dict[str, object]:
    """Where the last entry is and how it is written, to copy its style."""
    if kind == 'dict':
        if not table.values:
            return dict(last_start=None, last_end=None, last_quote="'",
                        separator=': ')
        key, value = table.keys[-1], table.values[-1]
        value_start, value_end = pos.span(value)
        if key is None:
            return dict(last_start=value_start, last_end=value_end,
                        last_quote=_quote(text[value_start:value_end]),
                        separator=': ')
        start, key_end = pos.span(key)
        sep = text[key_end:value_start]
        if not re.fullmatch(r'[ \t]*:[ \t]*', sep):
            sep = ': '
        return dict(last_start=start, last_end=value_end,
                    last_quote=_quote(text[start:key_end]), separator=sep)
    if not table.elts:
        return dict(last_start=None, last_end=None, last_quote="'",
                    separator='=')
    start, end = pos.span(table.elts[-1])
    return dict(last_start=start, last_end=end,
                last_quote=_quote(text[start:end]), separator='=')
