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

"""Sparse data files for volumes and snapshots, shared copy-on-write.

StorPool clones and snapshots are cheap because they share data; the
emulator does the same: a snapshot takes over its volume's file (or a
sparse copy when the file is in use by a device), and a child created from
an immutable object only gets its own file when it must be written.
"""

import errno
import os
import threading
import typing

from oslo_utils import units

_COPY_CHUNK = 16 * units.Mi


def _copy_range(src: int, dst: int, offset: int, length: int) -> None:
    """Copy [offset, offset + length) keeping offsets, in kernel if we can."""
    end = offset + length
    pos = offset
    while pos < end:
        want = min(_COPY_CHUNK, end - pos)
        try:
            done = os.copy_file_range(src, dst, want, pos, pos)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL,
                                 errno.EOPNOTSUPP):
                raise
            chunk = os.pread(src, want, pos)
            done = os.pwrite(dst, chunk, pos) if chunk else 0
        if done == 0:
            break
        pos += done


def sparse_copy(src_path: str, dst_path: str, length: int) -> None:
    """Copy the first ``length`` bytes of a file, holes stay holes."""
    src = os.open(src_path, os.O_RDONLY)
    try:
        dst = os.open(dst_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            length = min(length, os.fstat(src).st_size)
            pos = 0
            while pos < length:
                try:
                    data = os.lseek(src, pos, os.SEEK_DATA)
                except OSError as exc:
                    if exc.errno == errno.ENXIO:
                        break
                    raise
                if data >= length:
                    break
                hole = min(os.lseek(src, data, os.SEEK_HOLE), length)
                _copy_range(src, dst, data, hole - data)
                pos = hole
            os.ftruncate(dst, length)
        finally:
            os.close(dst)
    finally:
        os.close(src)


class _Obj:
    __slots__ = ('oid', 'path', 'base', 'size', 'children', 'frozen',
                 'released')

    def __init__(self, oid: str, path: str | None,
                 base: str | None, size: int) -> None:
        self.oid = oid
        self.path = path
        self.base = base
        self.size = size
        self.children = 0
        self.frozen = False
        self.released = False


class DataStore:
    """Data objects identified by opaque ids, backed by sparse files.

    An object either has its own file (``path``) or is a lazy child of an
    immutable (frozen) object whose content it shows, cut or zero-extended
    to its own size.  Objects are freed when released and no lazy child
    still needs them.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(root, exist_ok=True)
        self._lock = threading.RLock()
        self._objs: dict[str, _Obj] = {}
        self._seq = 0
        # Allocated bytes per object, kept up to date by every change made
        # here (and by refresh() for files a device writes), so that the
        # space figures need no stat of every file.  on_alloc(oid, old,
        # new) hears of each change.
        self._alloc: dict[str, int] = {}
        self.on_alloc: typing.Callable[[str, int, int], None] | None = None

    def _restat(self, oid: str) -> None:
        obj = self._objs.get(oid)
        new = 0
        if obj is not None and obj.path is not None:
            try:
                new = os.stat(obj.path).st_blocks * 512
            except FileNotFoundError:
                new = 0
        old = self._alloc.get(oid, 0)
        if obj is None:
            self._alloc.pop(oid, None)
        else:
            self._alloc[oid] = new
        if new != old and self.on_alloc is not None:
            self.on_alloc(oid, old, new)

    def refresh(self, oid: str) -> None:
        """Re-read an object's allocation (its file was written to)."""
        with self._lock:
            if oid in self._objs:
                self._restat(oid)

    def _new_id(self) -> str:
        self._seq += 1
        return f'd{self._seq:06d}'

    def _file(self, oid: str) -> str:
        return os.path.join(self.root, oid + '.raw')

    def create(self, size: int) -> str:
        """A new zero-filled object of ``size`` bytes (a sparse file)."""
        with self._lock:
            oid = self._new_id()
            path = self._file(oid)
            with open(path, 'wb') as fobj:
                fobj.truncate(size)
            self._objs[oid] = _Obj(oid, path, None, size)
            self._restat(oid)
            return oid

    def clone(self, base: str, size: int | None = None) -> str:
        """A lazy child of ``base``, which becomes (and stays) immutable."""
        with self._lock:
            bobj = self._objs[base]
            bobj.frozen = True
            bobj.children += 1
            oid = self._new_id()
            self._objs[oid] = _Obj(oid, None, base,
                                   bobj.size if size is None else size)
            self._alloc[oid] = 0
            return oid

    def freeze(self, oid: str, copy: bool) -> str:
        """Return a new immutable object with ``oid``'s current content.

        Without ``copy`` the file moves to the new object and ``oid``
        becomes its lazy child (cheap); with ``copy`` (the file is in use
        by a device) the new object gets a sparse copy.
        """
        with self._lock:
            obj = self._objs[oid]
            nid = self._new_id()
            if obj.path is None:
                new = _Obj(nid, None, obj.base, obj.size)
                # The new object takes over the reference to the base.
                obj.base = nid
                new.children = 1
            elif copy:
                path = self._file(nid)
                sparse_copy(obj.path, path, obj.size)
                new = _Obj(nid, path, None, obj.size)
            else:
                path = self._file(nid)
                os.rename(obj.path, path)
                new = _Obj(nid, path, None, obj.size)
                obj.path = None
                obj.base = nid
                new.children = 1
            new.frozen = True
            self._objs[nid] = new
            self._restat(nid)
            self._restat(oid)
            return nid

    def _chain_source(self, oid: str) -> tuple[
            str | None, int]:
        """The file holding ``oid``'s data and how many bytes of it count."""
        obj = self._objs[oid]
        limit = obj.size
        while obj.path is None and obj.base is not None:
            obj = self._objs[obj.base]
            limit = min(limit, obj.size)
        return obj.path, limit

    def materialize(self, oid: str) -> str:
        """Give ``oid`` its own file (before it is written) and return it."""
        with self._lock:
            obj = self._objs[oid]
            if obj.path is not None:
                return obj.path
            src, limit = self._chain_source(oid)
            path = self._file(oid)
            if src is not None and limit > 0:
                sparse_copy(src, path, limit)
            with open(path, 'ab') as fobj:
                fobj.truncate(obj.size)
            obj.path = path
            base, obj.base = obj.base, None
            self._restat(oid)
            if base is not None:
                self._drop_child(base)
            return path

    def path(self, oid: str) -> str | None:
        with self._lock:
            return self._objs[oid].path

    def size(self, oid: str) -> int:
        with self._lock:
            return self._objs[oid].size

    def resize(self, oid: str, size: int) -> None:
        with self._lock:
            obj = self._objs[oid]
            if obj.frozen:
                raise ValueError(f'data object {oid} is immutable')
            if obj.path is None and size < obj.size:
                # A lazy child shows its base up to its own size: cut
                # only that, and a later grow would bring the cut bytes
                # back instead of zeros.  Give it its own file first.
                self.materialize(oid)
            if obj.path is not None:
                with open(obj.path, 'r+b') as fobj:
                    fobj.truncate(size)
                self._restat(oid)
            obj.size = size

    def release(self, oid: str) -> None:
        """The owner is gone; free the object once no child needs it."""
        with self._lock:
            obj = self._objs.get(oid)
            if obj is None or obj.released:
                return
            obj.released = True
            self._maybe_free(obj)

    def _drop_child(self, oid: str) -> None:
        obj = self._objs[oid]
        obj.children -= 1
        self._maybe_free(obj)

    def _maybe_free(self, obj: _Obj) -> None:
        if not obj.released or obj.children > 0:
            return
        del self._objs[obj.oid]
        if obj.path is not None:
            try:
                os.unlink(obj.path)
            except FileNotFoundError:
                pass
        self._restat(obj.oid)
        if obj.base is not None:
            self._drop_child(obj.base)

    def allocated(self, oid: str) -> int:
        """Bytes this object's own file occupies on the host's disk.

        As of the last change made here or refresh() of it.
        """
        with self._lock:
            return self._alloc.get(oid, 0)

    def usage(self) -> dict[str, int]:
        """Allocated bytes of every object still held, by id."""
        with self._lock:
            return {oid: self._alloc.get(oid, 0) for oid in self._objs}

    def read(self, oid: str, offset: int, length: int) -> bytes:
        """Read an object's content (for tests and state checks)."""
        with self._lock:
            obj = self._objs[oid]
            length = max(0, min(length, obj.size - offset))
            src, limit = self._chain_source(oid)
            data = b''
            if src is not None and offset < limit:
                with open(src, 'rb') as fobj:
                    fobj.seek(offset)
                    data = fobj.read(min(length, limit - offset))
            return data + b'\0' * (length - len(data))

    def ids(self) -> list[str]:
        with self._lock:
            return sorted(self._objs)

    def describe(self, oid: str) -> dict:
        with self._lock:
            obj = self._objs[oid]
            return {'id': oid, 'path': obj.path, 'base': obj.base,
                    'size': obj.size, 'frozen': obj.frozen,
                    'children': obj.children, 'released': obj.released}
