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
"""Point os-brick's ``STORPOOL`` connector at this package's connector.

cinder-backup (and every other user of os-brick's connector factory)
attaches a ``storpool`` connection through the class named in os-brick's
``os_brick/initiator/connector.py``: the ``initiator.STORPOOL`` entry of
``_connector_mapping_linux``, and the ``unix_connector_list`` entry that
``get_connector_properties`` asks for the host's properties. There is no
option or entry point for it. That in-tree connector records nothing in
the attach-state file and detaches on every disconnect, and it cannot
attach a snapshot. This module rewrites those two string literals (found
with :mod:`ast`; every other byte stays), keeps a one-time backup, writes
atomically and can put the original back byte for byte. It is the same
kind of edit as ``add-storpool-nova-driver``'s, whose file helpers it uses.
"""

import ast
import importlib.util
import os
import pathlib

from storpool_openstack.nova import patcher

INTREE = 'os_brick.initiator.connectors.storpool.StorPoolConnector'
OURS = 'storpool_openstack.brick.connector.StorPoolConnector'
MAPPING = '_connector_mapping_linux'
LIST = 'unix_connector_list'
BACKUP_SUFFIX = patcher.BACKUP_SUFFIX
MODULE = 'os_brick.initiator.connector'

PATCHED = 'patched'
ORIGINAL = 'original'
MIXED = 'mixed'


def find_connector_file() -> pathlib.Path:
    """os-brick's initiator/connector.py for this Python."""
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.origin:
        raise patcher.FileProblem('os-brick is not installed for this '
                                  'Python; run with the Python of '
                                  'cinder-backup / cinder-volume')
    return pathlib.Path(spec.origin)


def _is_storpool_key(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == 'STORPOOL') or \
        (isinstance(node, ast.Constant) and node.value == 'STORPOOL')


def entries(source: patcher.Source) -> list[tuple[int, int, str]]:
    """(start, end, value) of the two literals, in file order."""
    tree = patcher.parse(source)
    pos = patcher.Positions(source.text)
    found = []
    for stmt in tree.body:
        if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1 or \
                not isinstance(stmt.targets[0], ast.Name):
            continue
        name, value = stmt.targets[0].id, stmt.value
        if name == LIST and isinstance(value, ast.List):
            items = value.elts
        elif name == MAPPING and isinstance(value, ast.Dict):
            items = [v for k, v in zip(value.keys, value.values)
                     if _is_storpool_key(k)]
        else:
            continue
        for item in items:
            if isinstance(item, ast.Constant) and item.value in (INTREE,
                                                                 OURS):
                start, end = pos.span(item)
                found.append((start, end, item.value))
    if len(found) != 2:
        raise patcher.LayoutError(
            f'{source.path}: expected the StorPool entries of {LIST} and '
            f'{MAPPING}, found {len(found)}; this os-brick is not one this '
            f'tool knows (nothing changed)')
    return found


def state(source: patcher.Source) -> str:
    values = {value for _s, _e, value in entries(source)}
    if values == {OURS}:
        return PATCHED
    if values == {INTREE}:
        return ORIGINAL
    return MIXED


def rewritten(source: patcher.Source, target: str) -> str:
    """The text with both literals naming `target`."""
    text = source.text
    for start, end, _value in reversed(entries(source)):
        quote = text[start]
        text = f'{text[:start]}{quote}{target}{quote}{text[end:]}'
    return text


def _write(source: patcher.Source, text: str) -> None:
    st = patcher.check_writable(source.path)
    patcher.check_compiles(text, source.path)
    try:
        patcher.write_atomic(source.path, source.encode(text), st)
    except OSError as exc:
        raise patcher.io_error(source.path, exc)


def patch(path: os.PathLike | str | None = None, *,
          dry_run: bool = False) -> patcher.Result:
    """Point both entries at our connector; a no-op when they are."""
    source = patcher.read_source(os.path.realpath(
        path or find_connector_file()))
    if state(source) == PATCHED:
        return patcher.Result(source.path, False,
                              f'{source.path}: already patched')
    text = rewritten(source, OURS)
    diff = patcher.unified_diff(source.path, source.text, text,
                                ('original', 'patched'))
    if dry_run:
        return patcher.Result(source.path, False, f'{source.path}: would '
                              f'patch it; dry run, nothing written', diff)
    backup = patcher.backup_path(source.path)
    if not backup.exists():
        st = patcher.check_writable(source.path)
        patcher.write_atomic(backup, source.data, st)
    _write(source, text)
    return patcher.Result(source.path, True, f'{source.path}: patched '
                          f'(backup {backup.name}); restart cinder-backup '
                          f'and cinder-volume', diff)


def revert(path: os.PathLike | str | None = None, *,
           dry_run: bool = False) -> patcher.Result:
    """Point both entries back at os-brick's own connector.

    Only the two literals change back, so the file is byte for byte the
    original; the backup goes when it equals the result.
    """
    source = patcher.read_source(os.path.realpath(
        path or find_connector_file()))
    backup = patcher.backup_path(source.path)
    if state(source) == ORIGINAL:
        if backup.exists() and backup.read_bytes() == source.data:
            if not dry_run:
                backup.unlink()
        return patcher.Result(source.path, False,
                              f'{source.path}: not patched; nothing to do')
    text = rewritten(source, INTREE)
    diff = patcher.unified_diff(source.path, source.text, text,
                                ('patched', 'restored'))
    if dry_run:
        return patcher.Result(source.path, False, f'{source.path}: would '
                              f'restore it; dry run, nothing written', diff)
    _write(source, text)
    note = ''
    if backup.exists():
        if backup.read_bytes() == source.encode(text):
            backup.unlink()
        else:
            note = (f'; {backup.name} differs (an older os-brick?) and '
                    f'was kept')
    return patcher.Result(source.path, True, f'{source.path}: restored '
                          f'os-brick\'s own connector{note}', diff)


def check(path: os.PathLike | str | None = None) -> tuple[int, str]:
    """(0 patched, 1 not patched, 2 unknown layout; message)."""
    try:
        source = patcher.read_source(os.path.realpath(
            path or find_connector_file()))
        current = state(source)
    except patcher.PatchError as exc:
        return 2, str(exc)
    if current == PATCHED:
        return 0, f'{source.path}: STORPOOL -> {OURS}'
    return 1, f'{source.path}: {current}, STORPOOL -> {INTREE}'
