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

The parts: ``nova_tree`` finds the file, ``driver_table`` reads it and
locates the table, ``table_edit`` computes the new text, ``verify``
checks it and ``safe_write`` writes it. This module runs the operations
(patch, check, revert, the legacy copy) and keeps the names its callers
(``add-storpool-nova-driver``, ``storpool-openstack os-brick``, the
tests) import from it.
"""

import dataclasses
import os
import pathlib
import sys

from storpool_openstack.nova import driver_table
from storpool_openstack.nova import errors
from storpool_openstack.nova import nova_tree
from storpool_openstack.nova import safe_write
from storpool_openstack.nova import table_edit
from storpool_openstack.nova import verify

# The tool's names at the import path its callers use.
PathLike = errors.PathLike
PatchError = errors.PatchError
LayoutError = errors.LayoutError
FileProblem = errors.FileProblem
VerifyError = errors.VerifyError
DRIVER_MODULE = nova_tree.DRIVER_MODULE
find_driver_file = nova_tree.find_driver_file
nova_version = nova_tree.nova_version
DRIVER_TYPE = driver_table.DRIVER_TYPE
OUR_CLASS = driver_table.OUR_CLASS
INTREE_CLASS = driver_table.INTREE_CLASS
State = driver_table.State
Layout = driver_table.Layout
Source = driver_table.Source
read_source = driver_table.read_source
parse = driver_table.parse
Positions = driver_table.Positions
analyse = driver_table.analyse
patched_text = table_edit.patched_text
unified_diff = table_edit.unified_diff
check_compiles = verify.check_compiles
check_import = verify.check_import
BACKUP_SUFFIX = safe_write.BACKUP_SUFFIX
backup_path = safe_write.backup_path
check_writable = safe_write.check_writable
write_atomic = safe_write.write_atomic
io_error = safe_write.io_error


@dataclasses.dataclass
class Result:
    """What an operation did, for the CLI to print."""

    path: pathlib.Path
    changed: bool
    message: str
    diff: str = ''
    details: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


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
        raise io_error(source.path, exc)
    return [f'backup {backup_path(source.path)} '
            f'{"created" if created else "kept"}']


def _import_or_restore(source: Source, layout: Layout, target: str,
                       python: str, result: Result) -> None:
    """Run the import check; on failure put the original bytes back."""
    if nova_tree.package_root(source.path) is None:
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
        safe_write.fsync_dir(source.path.parent)
    except OSError as exc:
        raise io_error(source.path, exc)
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
        raise io_error(out, exc)
    state = ('unchanged copy, already patched' if new_text == source.text
             else 'patched copy')
    return Result(out, True, f'{out}: wrote {state} of {orig} '
                  f'({layout.describe()})',
                  unified_diff(orig, source.text, new_text))
