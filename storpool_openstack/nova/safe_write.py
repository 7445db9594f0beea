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
"""Replace a file so that readers see the old or the new one, never half.

Also the name of the one-time backup and the checks made before writing.
"""

import os
import pathlib
import tempfile

from storpool_openstack.nova import errors

BACKUP_SUFFIX = '.storpool-orig'


def backup_path(path: errors.PathLike) -> pathlib.Path:
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
        raise errors.FileProblem(f'{path}: {exc.strerror}')
    if not st.st_mode & 0o222:
        raise errors.FileProblem(
            f'{path}: file is read-only (mode {st.st_mode & 0o7777:04o}); '
            f'make it writable with "chmod u+w {path}" if you mean to patch '
            'it')
    if not os.access(path, os.W_OK) or not os.access(path.parent,
                                                     os.W_OK | os.X_OK):
        raise errors.FileProblem(
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
    fsync_dir(path.parent)


def _fchown(fd: int, like: os.stat_result) -> None:
    current = os.fstat(fd)
    if (current.st_uid, current.st_gid) != (like.st_uid, like.st_gid):
        os.fchown(fd, like.st_uid, like.st_gid)


def fsync_dir(directory: pathlib.Path) -> None:
    fd = os.open(str(directory), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def io_error(path: errors.PathLike, exc: OSError) -> errors.FileProblem:
    return errors.FileProblem(
        f'{path}: cannot write: {exc.strerror or exc}; check permissions '
        f'and free space in {pathlib.Path(path).parent}')
