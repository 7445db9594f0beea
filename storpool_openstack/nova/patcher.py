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
"""Register our libvirt volume driver in Nova's ``driver.py``.

Nova picks a libvirt volume driver only from a table in its own source:
the module-level dict ``VOLUME_DRIVERS`` (Nova >= 23) or the list
``libvirt_volume_drivers`` of ``'type=dotted.path'`` strings (Nova 17-22).
There is no config option and no entry point, so the ``storpool`` entry has
to be edited in place.  This module does that edit safely: it locates the
table with :mod:`ast`, rewrites only the source span of one entry (so every
other byte of the file stays as it was), keeps a one-time backup, writes
atomically and checks that the patched module still imports.
"""

import ast
import dataclasses
import difflib
import enum
import importlib.metadata
import importlib.util
import io
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import tokenize

DRIVER_TYPE = 'storpool'
OUR_CLASS = 'storpool_openstack.nova.volume.LibvirtStorPoolVolumeDriver'
INTREE_CLASS = 'nova.virt.libvirt.volume.storpool.LibvirtStorPoolVolumeDriver'
DICT_NAME = 'VOLUME_DRIVERS'
LIST_NAME = 'libvirt_volume_drivers'
BACKUP_SUFFIX = '.storpool-orig'
DRIVER_RELPATH = pathlib.Path('virt', 'libvirt', 'driver.py')
DRIVER_MODULE = 'nova.virt.libvirt.driver'
IMPORT_CHECK_TIMEOUT = 300

PathLike = str | os.PathLike


class PatchError(Exception):
    """A problem the tool reports in one line; exit_code is for the CLI.

    detail holds longer output (a subprocess's stderr) for --verbose.
    """

    exit_code = 3

    def __init__(self, message: str, detail: str = '') -> None:
        super().__init__(message)
        self.detail = detail


class LayoutError(PatchError):
    """The file is Python, but not a driver table this tool understands."""

    exit_code = 2


class FileProblem(PatchError):
    """The file cannot be found, read, parsed or written."""

    exit_code = 3


class VerifyError(PatchError):
    """The patched file did not compile or import; the original is back."""

    exit_code = 4


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


@dataclasses.dataclass
class Result:
    """What an operation did, for the CLI to print."""

    path: pathlib.Path
    changed: bool
    message: str
    diff: str = ''
    details: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


# Locating Nova's driver.py

def find_driver_file(nova_dir: PathLike | None = None) -> pathlib.Path:
    """Return the path of Nova's libvirt ``driver.py``.

    Without nova_dir the installed Nova is found with find_spec('nova'),
    which locates the package without running its __init__ (importing Nova
    monkey-patches and registers options we do not want here).
    """
    if nova_dir is not None:
        return _driver_in_dir(pathlib.Path(nova_dir))
    spec = importlib.util.find_spec('nova')
    if spec is None or not spec.submodule_search_locations:
        raise FileProblem(
            f'Nova is not installed for {sys.executable}; pass --nova-dir '
            'DIR or --file PATH')
    for location in spec.submodule_search_locations:
        candidate = pathlib.Path(location) / DRIVER_RELPATH
        if candidate.is_file():
            return candidate
    raise FileProblem(
        f'nova package at {spec.submodule_search_locations[0]} has no '
        f'{DRIVER_RELPATH}; is this a Nova without libvirt?')


def _driver_in_dir(nova_dir: pathlib.Path) -> pathlib.Path:
    """Accept both the dir holding the ``nova`` package and the package."""
    for candidate in (nova_dir / 'nova' / DRIVER_RELPATH,
                      nova_dir / DRIVER_RELPATH):
        if candidate.is_file():
            return candidate
    raise FileProblem(
        f'{nova_dir}: found neither nova/{DRIVER_RELPATH} nor '
        f'{DRIVER_RELPATH} there; pass the directory that contains the '
        'nova package (e.g. .../site-packages)')


def package_root(driver_file: PathLike) -> pathlib.Path | None:
    """The sys.path entry that makes driver_file nova.virt.libvirt.driver.

    None when the file does not sit in a nova/virt/libvirt/ tree.
    """
    path = pathlib.Path(os.path.abspath(driver_file))
    if path.parts[-4:] != ('nova', 'virt', 'libvirt', 'driver.py'):
        return None
    return path.parents[3]


def nova_version(driver_file: PathLike) -> str | None:
    """Nova's version from the package metadata next to the tree."""
    root = package_root(driver_file)
    if root is None:
        return None
    for dist in importlib.metadata.distributions(path=[str(root)]):
        if (dist.metadata['Name'] or '').lower() == 'nova':
            return dist.version
    return None


# Reading and understanding the file

def read_source(path: PathLike) -> Source:
    """Read and decode a Python file, with a one-line error on failure."""
    path = pathlib.Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileProblem(
            f'{path}: no such file; check the path or pass --nova-dir/--file')
    except IsADirectoryError:
        raise FileProblem(f'{path}: is a directory; pass the driver.py '
                          'file itself or use --nova-dir')
    except PermissionError:
        raise FileProblem(f'{path}: permission denied; run as root or as '
                          'the owner of the file')
    except OSError as exc:
        raise FileProblem(f'{path}: cannot read: {exc.strerror}')
    try:
        encoding = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        raise FileProblem(f'{path}: cannot decode as Python source '
                          f'({exc}); reinstall Nova to get a clean copy')
    return Source(path, data, text, encoding)


def parse(source: Source) -> ast.Module:
    """Parse the text; a syntax error becomes a one-line FileProblem."""
    try:
        return ast.parse(source.text, filename=str(source.path))
    except (SyntaxError, ValueError) as exc:
        where = getattr(exc, 'lineno', None)
        line = f', line {where}' if where else ''
        raise FileProblem(
            f'{source.path}: not valid Python ({getattr(exc, "msg", exc)}'
            f'{line}); reinstall the Nova package to get a clean copy')


class _Positions:
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
        raise LayoutError(
            f'{source.path}: looked for {wanted}, found neither name '
            'assigned at module level; is this Nova\'s '
            'nova/virt/libvirt/driver.py?')
    if len(found) > 1:
        raise LayoutError(
            f'{source.path}: looked for {wanted}, found {len(found)} '
            f'candidates ({_describe_candidates(found)}); refusing to guess '
            'which one Nova uses')
    name, value, lineno = found[0]
    expected = ast.Dict if name == DICT_NAME else ast.List
    if not isinstance(value, expected):
        raise LayoutError(
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
    pos = _Positions(source.text)
    items = _storpool_items(kind, table)
    if len(items) > 1:
        raise LayoutError(
            f'{source.path}: looked for one {DRIVER_TYPE!r} entry in '
            f'{name}, found {len(items)}; refusing to guess')
    value_start = value_end = current = None
    value_quote = "'"
    if items:
        node, current = items[0]
        if current is None:
            raise LayoutError(
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


def _last_entry(kind: str, table: ast.AST, pos: _Positions,
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


# Computing the new text

def entry_text(layout: Layout, target: str, quote: str) -> str:
    """The source of a new ``storpool`` entry in the table's format."""
    if layout.kind == 'dict':
        return (f'{quote}{DRIVER_TYPE}{quote}{layout.separator}'
                f'{quote}{target}{quote}')
    return f'{quote}{DRIVER_TYPE}={target}{quote}'


def _value_text(layout: Layout, target: str) -> str:
    quote = layout.value_quote
    if layout.kind == 'dict':
        return f'{quote}{target}{quote}'
    return f'{quote}{DRIVER_TYPE}={target}{quote}'


def _replace_value(text: str, layout: Layout, target: str) -> str:
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
            raise LayoutError(f'unexpected {char!r} after the last entry')
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


def _add_entry(text: str, layout: Layout, target: str) -> str:
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


def patched_text(source: Source, target: str = OUR_CLASS,
                 force: bool = False) -> tuple[Layout, str]:
    """Return (layout, new text) with the storpool entry set to target.

    The text is returned unchanged when it already points at target.
    A storpool entry pointing elsewhere than Nova's own class is refused
    unless force is set, since someone else put it there.
    """
    layout = analyse(source)
    state = layout.state(target)
    if state == State.PATCHED:
        return layout, source.text
    if state == State.FOREIGN and not force:
        raise LayoutError(
            f'{source.path}: looked for {DRIVER_TYPE!r} pointing to '
            f'{INTREE_CLASS} or {target}, found {layout.current}; refusing '
            'to replace it without --force')
    if state == State.ABSENT:
        try:
            return layout, _add_entry(source.text, layout, target)
        except LayoutError as exc:
            raise LayoutError(f'{source.path}: {exc} in {layout.describe()}')
    return layout, _replace_value(source.text, layout, target)


def unified_diff(path: PathLike, old: str, new: str,
                 labels: tuple[str, str] = ('original', 'patched')) -> str:
    """A unified diff of two texts, line endings kept as they are."""
    return ''.join(difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True),
        fromfile=f'{path} ({labels[0]})',
        tofile=f'{path} ({labels[1]})'))


# Verifying

def check_compiles(text: str, path: PathLike) -> None:
    """Raise VerifyError when the new text is not valid Python."""
    try:
        compile(text, str(path), 'exec', dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        raise VerifyError(f'{path}: the patched text does not compile '
                          f'({exc}); nothing was written')


_IMPORT_CHECK = '''
import importlib, json, os, sys
root, name, driver_type = sys.argv[1:4]
sys.path.insert(0, root)
from oslo_utils import importutils
module = importlib.import_module('nova.virt.libvirt.driver')
table = getattr(module, name)
if isinstance(table, dict):
    path = table[driver_type]
else:
    path = dict(item.split('=', 1) for item in table)[driver_type]
cls = importutils.import_class(path)
print(json.dumps({'file': os.path.realpath(module.__file__),
                  'path': path,
                  'class': f'{cls.__module__}.{cls.__qualname__}'}))
'''


def check_import(path: PathLike, layout: Layout, target: str,
                 python: str = sys.executable) -> dict[str, str]:
    """Import the patched module in a fresh interpreter and load our class.

    A subprocess, because importing Nova here would register its options
    and monkey-patch this process, and a broken file must not break us.
    The file's package root goes first on sys.path, so the nova package
    that holds this very file is the one imported; we then make sure it
    was.  Returns the subprocess's report.
    """
    root = package_root(path)
    if root is None:
        raise VerifyError(f'{path}: not inside a nova/virt/libvirt/ tree, '
                          f'so it cannot be imported as {DRIVER_MODULE}')
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1')
    try:
        proc = subprocess.run(
            [python, '-c', _IMPORT_CHECK, str(root), layout.name,
             DRIVER_TYPE], capture_output=True, text=True, env=env,
            timeout=IMPORT_CHECK_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VerifyError(f'{path}: import check with {python} failed: {exc}')
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or ['(no output)']
        raise VerifyError(f'{path}: import check failed: {lines[-1]}',
                          proc.stderr)
    try:
        report = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        report = None
    if not isinstance(report, dict) or \
            not {'file', 'path', 'class'} <= report.keys():
        raise VerifyError(f'{path}: import check with {python} printed '
                          'no report (is it a Python with Nova?)',
                          proc.stdout + proc.stderr)
    if report['file'] != os.path.realpath(path):
        raise VerifyError(f'{path}: import check loaded {report["file"]} '
                          'instead; another nova package shadows this one')
    if report['path'] != target:
        raise VerifyError(f'{path}: import check found {DRIVER_TYPE!r} -> '
                          f'{report["path"]}, not {target}')
    return report


# Writing

def backup_path(path: PathLike) -> pathlib.Path:
    path = pathlib.Path(path)
    return path.with_name(path.name + BACKUP_SUFFIX)


def check_writable(path: pathlib.Path) -> os.stat_result:
    """Refuse early, in one line, when the file cannot be replaced.

    A file without any write bit is refused even for root: someone made
    it read-only on purpose (or it is on a read-only mount).
    """
    try:
        st = path.stat()
    except OSError as exc:
        raise FileProblem(f'{path}: {exc.strerror}')
    if not st.st_mode & 0o222:
        raise FileProblem(
            f'{path}: file is read-only (mode {st.st_mode & 0o7777:04o}); '
            f'make it writable with "chmod u+w {path}" if you mean to patch '
            'it')
    if not os.access(path, os.W_OK) or not os.access(path.parent,
                                                     os.W_OK | os.X_OK):
        raise FileProblem(
            f'{path}: no permission to replace it (need write access to '
            f'the file and to {path.parent}); run as root')
    return st


def write_atomic(path: pathlib.Path, data: bytes,
                 like: os.stat_result | None = None) -> None:
    """Replace path with data: temp file in the same dir, fsync, rename.

    Readers (a starting nova-compute) see the old or the new file, never
    half of one.  The new file takes owner, group and mode from like.
    """
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp',
                               dir=str(path.parent))
    try:
        with os.fdopen(fd, 'wb') as stream:
            stream.write(data)
            stream.flush()
            if like is not None:
                os.fchmod(stream.fileno(), like.st_mode & 0o7777)
                _fchown(stream.fileno(), like)
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def _fchown(fd: int, like: os.stat_result) -> None:
    current = os.fstat(fd)
    if (current.st_uid, current.st_gid) != (like.st_uid, like.st_gid):
        os.fchown(fd, like.st_uid, like.st_gid)


def _fsync_dir(directory: pathlib.Path) -> None:
    fd = os.open(str(directory), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _io_error(path: PathLike, exc: OSError) -> FileProblem:
    return FileProblem(f'{path}: cannot write: {exc.strerror or exc}; '
                       'check permissions and free space in '
                       f'{pathlib.Path(path).parent}')


# Operations

def _version_note(path: PathLike) -> str:
    version = nova_version(path)
    return f'Nova {version}' if version else 'Nova version unknown'


def _ensure_backup(source: Source, st: os.stat_result,
                   force: bool) -> bool:
    """Write the one-time backup; True if this call created it.

    An existing backup is kept.  If it differs from the unpatched file we
    are about to patch, it is left over from an older Nova (a package
    upgrade replaces driver.py but not our backup): reverting to it would
    downgrade Nova's code, so we stop unless force says to replace it.
    """
    backup = backup_path(source.path)
    if backup.exists():
        if backup.read_bytes() == source.data:
            return False
        if not force:
            raise FileProblem(
                f'{source.path}: backup {backup} exists but differs from '
                'this unpatched file (left from an earlier Nova?); remove it '
                'or pass --force to replace it')
    write_atomic(backup, source.data, st)
    return True


def patch_file(path: PathLike, target: str = OUR_CLASS,
               dry_run: bool = False, force: bool = False,
               import_check: bool = True,
               python: str = sys.executable) -> Result:
    """Point the ``storpool`` entry of a Nova driver.py at target.

    A symlinked driver.py is patched where it really is, so the link (and
    whatever manages it) stays in place.
    """
    source = read_source(os.path.realpath(path))
    layout, new_text = patched_text(source, target, force)
    version = _version_note(source.path)
    if new_text == source.text:
        return Result(source.path, False,
                      f'{source.path} already maps {DRIVER_TYPE!r} to '
                      f'{target} ({version}); nothing changed')
    check_compiles(new_text, source.path)
    diff = unified_diff(source.path, source.text, new_text)
    verb = ('replace', 'replaced') if layout.current else ('add', 'added')
    what = f'{DRIVER_TYPE!r} -> {target} in {layout.describe()} ({version})'
    if dry_run:
        return Result(source.path, False, f'{source.path}: would '
                      f'{verb[0]} {what}; dry run, nothing written', diff)
    details = _write_patch(source, source.encode(new_text), force)
    result = Result(source.path, True, f'{source.path}: {verb[1]} {what}; '
                    f'original saved as {backup_path(source.path).name}',
                    diff, details)
    if import_check:
        _import_or_restore(source, layout, target, python, result)
    return result


def _write_patch(source: Source, data: bytes,
                 force: bool) -> list[str]:
    st = check_writable(source.path)
    try:
        created = _ensure_backup(source, st, force)
        write_atomic(source.path, data, st)
    except OSError as exc:
        raise _io_error(source.path, exc)
    return [f'backup {backup_path(source.path)} '
            f'{"created" if created else "kept"}']


def _import_or_restore(source: Source, layout: Layout, target: str,
                       python: str, result: Result) -> None:
    """Run the import check; on failure put the original bytes back."""
    if package_root(source.path) is None:
        result.notes.append(f'note: import check skipped: {source.path} '
                            'is not inside a nova/virt/libvirt/ tree')
        return
    try:
        report = check_import(source.path, layout, target, python)
    except VerifyError as exc:
        _restore(source)
        raise VerifyError(f'{exc}; the original file was restored',
                          exc.detail)
    result.details.append(f'import check: {DRIVER_MODULE} resolves '
                          f'{DRIVER_TYPE!r} to {report["class"]}')


def _restore(source: Source) -> None:
    """Put back the bytes we read and drop a backup equal to them."""
    st = source.path.stat()
    write_atomic(source.path, source.data, st)
    backup = backup_path(source.path)
    if backup.exists() and backup.read_bytes() == source.data:
        backup.unlink()


def check_file(path: PathLike, target: str = OUR_CLASS,
               force: bool = False) -> tuple[int, str]:
    """Return (exit code, message): 0 patched, 1 not patched, 2 unknown.

    A foreign ``storpool`` entry counts as unknown (2), since patching
    would be refused, unless force is set (then it is 1).
    """
    try:
        source = read_source(path)
        layout = analyse(source)
    except LayoutError as exc:
        return 2, str(exc)
    state = layout.state(target)
    where = (f'{source.path} ({layout.describe()}, '
             f'{_version_note(source.path)})')
    if state == State.PATCHED:
        return 0, f'{where}: patched, {DRIVER_TYPE!r} -> {target}'
    if state == State.FOREIGN and not force:
        return 2, (f'{where}: {DRIVER_TYPE!r} -> {layout.current} is '
                   'not ours nor Nova\'s')
    return 1, (f'{where}: not patched, {DRIVER_TYPE!r} -> '
               f'{layout.current or "(no entry)"}')


def revert_file(path: PathLike, dry_run: bool = False,
                force: bool = False, target: str = OUR_CLASS) -> Result:
    """Put the backup back, byte-identical, and remove it.

    Only when the current file is exactly our patch of that backup (or the
    backup itself): anything else means Nova was upgraded or the file was
    edited since, and restoring would lose that, unless force says so.
    """
    source = read_source(os.path.realpath(path))
    backup = backup_path(source.path)
    if not backup.exists():
        return _no_backup(source, target)
    original = read_source(backup)
    if not force:
        _check_backup_matches(source, original, target)
    diff = unified_diff(source.path, source.text, original.text,
                        ('patched', 'restored'))
    if dry_run:
        return Result(source.path, False, f'{source.path}: would restore '
                      f'it from {backup.name}; dry run, nothing written',
                      diff)
    st = check_writable(source.path)
    try:
        write_atomic(source.path, original.data, st)
        backup.unlink()
        _fsync_dir(source.path.parent)
    except OSError as exc:
        raise _io_error(source.path, exc)
    return Result(source.path, True, f'{source.path}: restored from '
                  f'{backup.name} and removed the backup', diff)


def _no_backup(source: Source, target: str) -> Result:
    layout = analyse(source)
    if layout.state(target) != State.PATCHED:
        return Result(source.path, False, f'{source.path}: not patched '
                      f'and no backup {backup_path(source.path).name}; '
                      'nothing to revert')
    raise FileProblem(f'{source.path}: patched but the backup '
                      f'{backup_path(source.path).name} is missing; '
                      'reinstall the Nova package to get the original back')


def _check_backup_matches(source: Source, original: Source,
                          target: str) -> None:
    if source.data == original.data:
        return
    try:
        expected = patched_text(original, target, force=True)[1]
    except PatchError:
        expected = None
    if expected is None or original.encode(expected) != source.data:
        raise FileProblem(
            f'{source.path}: the file is not our patch of '
            f'{backup_path(source.path).name} (Nova upgraded or file edited '
            'since?); not restoring; pass --force to restore the backup '
            'anyway')


def legacy_files(orig_dir: PathLike, out_dir: PathLike,
                 target: str = OUR_CLASS, force: bool = False) -> Result:
    """The 2015 workflow: patched copy of ORIG/driver.py into OUT/.

    ORIG_DIR is only read.  The copy is checked to compile; it cannot be
    import-checked since it is not inside a nova package.
    """
    orig = pathlib.Path(orig_dir) / 'driver.py'
    out_dir = pathlib.Path(out_dir)
    if os.path.realpath(out_dir) == os.path.realpath(orig.parent):
        raise FileProblem(f'{out_dir}: output directory is the original '
                          'directory; pass a different OUT_DIR')
    source = read_source(orig)
    layout, new_text = patched_text(source, target, force)
    check_compiles(new_text, orig)
    out = out_dir / 'driver.py'
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(out, source.encode(new_text))
        os.chmod(out, source.path.stat().st_mode & 0o7777)
    except OSError as exc:
        raise _io_error(out, exc)
    state = ('unchanged copy, already patched' if new_text == source.text
             else 'patched copy')
    return Result(out, True, f'{out}: wrote {state} of {orig} '
                  f'({layout.describe()})',
        unified_diff(orig, source.text, new_text))
