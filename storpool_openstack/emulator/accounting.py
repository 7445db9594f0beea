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
"""Kept counters for the emulator's status calls, as StorPool keeps them.

A real StorPool answers VolumeTemplatesStatus and DisksList from counters;
the emulator used to walk (and stat) every volume and snapshot for each
template, so its answer time, not the driver's, grew with the cluster.

`Index` is the cluster's volume-id -> record map.  A record in it counts
towards its template's counters; a change of a counted attribute of a
record in it (`TRACKED`) is taken out and put back in; the data store
reports every change of a data object's allocation (`alloc_changed`).
So each figure is kept up to date in O(1) per change.
"""

import collections
import dataclasses
import typing

# The record attributes the counters depend on.
TRACKED = frozenset(('kind', 'template', 'size', 'deleted', 'replication',
                     'data'))
UNOWNED_REPLICATION = 3


@dataclasses.dataclass
class TemplateCounters:
    volumes: int = 0
    volumes_size: int = 0
    snapshots: int = 0
    removing: int = 0
    stored: int = 0


class Index(dict):
    """vid -> record, with per-template counters and the raw disk usage.

    `allocated(oid)` gives a data object's current allocation (the data
    store's kept figure).
    """

    def __init__(self, allocated: typing.Callable[[str], int],
                 unowned: typing.Iterable[str] = ()) -> None:
        super().__init__()
        self._allocated = allocated
        self.templates: collections.defaultdict[str, TemplateCounters] = \
            collections.defaultdict(TemplateCounters)
        self._owner: dict[str, typing.Any] = {}
        # Sum of allocation x replication over all data objects (objects
        # no record owns count with UNOWNED_REPLICATION).
        self.raw = sum(allocated(oid) for oid in unowned) * \
            UNOWNED_REPLICATION

    # dict interface: membership is what counts
    def __setitem__(self, vid: int, rec: typing.Any) -> None:
        old = self.get(vid)
        if old is rec:
            return
        if old is not None:
            self.__delitem__(vid)
        super().__setitem__(vid, rec)
        rec.__dict__['_index'] = self
        self.count(rec, +1)

    def __delitem__(self, vid: int) -> None:
        rec = self[vid]
        super().__delitem__(vid)
        self.count(rec, -1)
        rec.__dict__.pop('_index', None)

    def pop(self, *args: typing.Any) -> typing.Any:
        raise NotImplementedError('use del')

    def clear(self) -> None:
        for vid in list(self):
            del self[vid]

    # counting
    def count(self, rec: typing.Any, sign: int) -> None:
        """Add (+1) or take out (-1) one record's share of every figure."""
        tmpl = self.templates[rec.template]
        alloc = self._allocated(rec.data)
        if rec.kind == 'snapshot':
            tmpl.snapshots += sign
            tmpl.removing += sign * bool(rec.deleted)
        else:
            tmpl.volumes += sign
            tmpl.volumes_size += sign * rec.size
        tmpl.stored += sign * alloc
        self.raw += sign * alloc * (rec.replication - UNOWNED_REPLICATION)
        if sign > 0:
            self._owner[rec.data] = rec
        elif self._owner.get(rec.data) is rec:
            del self._owner[rec.data]

    def alloc_changed(self, oid: str, old: int, new: int) -> None:
        """The data store's hook: one object's allocation changed."""
        rec = self._owner.get(oid)
        repl = UNOWNED_REPLICATION if rec is None else rec.replication
        self.raw += (new - old) * repl
        if rec is not None:
            self.templates[rec.template].stored += new - old


class Counted:
    """Mixin for the records: a change of a TRACKED attribute recounts."""

    def __setattr__(self, name: str, value: typing.Any) -> None:
        index = self.__dict__.get('_index')
        if index is None or name not in TRACKED:
            object.__setattr__(self, name, value)
            return
        index.count(self, -1)
        object.__setattr__(self, name, value)
        index.count(self, +1)
