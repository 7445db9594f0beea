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
"""The Cinder driver's image cache, for the operator.

The cache itself (naming, tags, the LRU order, what a purge deletes) is
the driver's, in `storpool_openstack.cinder.image_cache`; this module only
shows it and adds what an operator wants to know before a purge: how many
volumes still hang off each entry (their data stays until the last of
them is gone, so a purge frees space only for entries with none).
"""

import dataclasses
import time

from oslo_log import log as logging

from storpool_openstack.cinder import image_cache
from storpool_openstack.common import api as sp_api
from storpool_openstack.ops import client
from storpool_openstack.ops import output

LOG = logging.getLogger(__name__)

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30


def human_size(size: int | None) -> str:
    """1 GiB, 1.5 GiB, 512 MiB..., or '-' if unknown."""
    if not isinstance(size, int):
        return '-'
    for unit, div in (('GiB', GIB), ('MiB', MIB), ('KiB', KIB)):
        if size >= div:
            value = size / div
            if value == int(value):
                return f'{int(value)} {unit}'
            return f'{value:.1f} {unit}'
    return f'{size} B'


def utc(epoch: int | float | None) -> str:
    """Seconds since the epoch as 'YYYY-MM-DD HH:MM UTC'."""
    if not epoch:
        return 'never'
    return time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(epoch))


@dataclasses.dataclass
class Entry:
    """One cached image: a StorPool snapshot the driver clones from."""

    image_id: str
    name: str
    size: int | None
    last_used: int
    hash: str
    volumes: int | None  # volumes whose data chain runs through it

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data['last_used_utc'] = utc(self.last_used) if self.last_used \
            else None
        return data


@dataclasses.dataclass
class PurgeResult:
    removed: list[Entry]
    remaining: int
    dry_run: bool
    # (snapshot name, StorPool error) of the entries that could not go.
    failed: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict:
        return {'dry_run': self.dry_run, 'remaining': self.remaining,
                'removed': [entry.to_json() for entry in self.removed],
                'failed': [{'name': name, 'error': error}
                           for name, error in self.failed]}


def dependents(volumes: list[dict], snapshots: list[dict]) -> dict[str, int]:
    """How many volumes have each snapshot in their parent chain.

    A volume made from a cache entry and later snapshotted has that
    snapshot as its parent, and the entry above it: both count.
    """
    parent = {s['name']: s.get('parentName') or '' for s in snapshots}
    count: dict[str, int] = {}
    for vol in volumes:
        seen: set[str] = set()
        name = vol.get('parentName') or ''
        while name and name not in seen:
            seen.add(name)
            count[name] = count.get(name, 0) + 1
            name = parent.get(name, '')
    return count


class _OneSnapshotsList:
    """The API, but SnapshotsList asked once (it can be large)."""

    def __init__(self, api: sp_api.StorPoolAPI):
        self._api = api
        self._snapshots: list[dict] | None = None

    def snapshots_list(self) -> list[dict]:
        if self._snapshots is None:
            self._snapshots = self._api.snapshots_list()
        return self._snapshots


class ImageCacheView:
    """The `image-cache` subcommand's data: config, API, the cache."""

    def __init__(self, **storpool):
        """`storpool`: the arguments of `client.connect`."""
        self.cfg, self.api = client.connect(**storpool)
        self.prefix = self.cfg.volume_prefix

    def describe(self) -> str:
        return (f'image cache of volume prefix "{self.prefix}", StorPool '
                f'API {self.cfg.endpoint}')

    def entries(self, with_volumes: bool = True,
                once: _OneSnapshotsList | None = None) -> list[Entry]:
        """The cache, least recently used first (two API calls)."""
        once = once or _OneSnapshotsList(self.api)
        raw = image_cache.list_image_cache(once, self.prefix)
        counts: dict[str, int] | None = None
        if with_volumes and raw:
            counts = dependents(self.api.volumes_list(),
                                once.snapshots_list())
        return [Entry(image_id=e['image_id'], name=e['name'],
                      size=e.get('size'), last_used=e['last_used'],
                      hash=e['hash'],
                      volumes=None if counts is None
                      else counts.get(e['name'], 0))
                for e in raw]

    def purge(self, *, image_id: str | None = None, keep: int = 0,
              dry_run: bool = False) -> PurgeResult:
        """Purge through the driver's own function, or say what it would."""
        once = _OneSnapshotsList(self.api)
        entries = self.entries(once=once)
        # The dry run decides on the listing just shown; the real purge
        # lists afresh.
        failed: list[tuple[str, str]] = []
        deleted = set(image_cache.purge_image_cache(
            once if dry_run else self.api, self.prefix, image_id=image_id,
            keep=keep, dry_run=dry_run, failed=failed))
        if dry_run:
            chosen = [entry for entry in entries if entry.name in deleted]
            return PurgeResult(chosen, len(entries) - len(chosen), True)
        removed = [entry for entry in entries if entry.name in deleted]
        # An entry added since our listing and deleted by the purge.
        known = {entry.name for entry in entries}
        removed += [Entry(image_id='?', name=name, size=None, last_used=0,
                          hash='?', volumes=None)
                    for name in sorted(deleted - known)]
        remaining = len(entries) - len(deleted & known)
        return PurgeResult(removed, remaining, False, failed)


def format_table(entries: list[Entry], heading: str) -> list[str]:
    """A fixed-width table for the terminal, least recently used first."""
    lines = [heading]
    if not entries:
        lines.append('the image cache is empty')
        return lines
    header = ('IMAGE', 'SNAPSHOT', 'SIZE', 'LAST USED', 'HASH', 'VOLUMES')
    lines += output.table(header, [
        (e.image_id, e.name, human_size(e.size), utc(e.last_used), e.hash,
         '-' if e.volumes is None else str(e.volumes))
        for e in entries])
    total = sum(e.size for e in entries if isinstance(e.size, int))
    used = sum(1 for e in entries if e.volumes)
    lines.append(f'{len(entries)} cache entr'
                 f'{"y" if len(entries) == 1 else "ies"}, '
                 f'{human_size(total)}; {used} with volumes made from them '
                 f'(a purge frees their data only when those are gone)')
    return lines


def describe_purge(result: PurgeResult, *, image_id: str | None = None,
                   keep: int = 0) -> list[str]:
    """What a purge did (or would do), as lines for the operator."""
    verb = 'would remove' if result.dry_run else 'removed'
    lines = []
    for entry in result.removed:
        note = ''
        if entry.volumes:
            note = (f' ({entry.volumes} volume(s) made from it keep '
                    f'working; its data stays until they are gone)')
        lines.append(f'{verb}: {entry.name} (image {entry.image_id}, '
                     f'{human_size(entry.size)}){note}')
    if not result.removed and not result.failed:
        what = f'no cache entry of image {image_id}' if image_id else \
            'the image cache is empty'
        if keep and image_id:
            what = (f'image {image_id} has at most {keep} cache '
                    f'entr{"y" if keep == 1 else "ies"}')
        elif keep:
            what = (f'the image cache holds at most {keep} '
                    f'entr{"y" if keep == 1 else "ies"}')
        lines.append(f'nothing to purge: {what}')
    count = len(result.removed)
    entries = f'{count} entr{"y" if count == 1 else "ies"}'
    for name, error in result.failed:
        lines.append(f'could not remove: {name}: {error}')
    if result.dry_run:
        lines.append(f'{entries} would be removed, {result.remaining} '
                     f'would remain')
    else:
        lines.append(f'{entries} removed, {result.remaining} remain'
                     + (f', {len(result.failed)} could not be removed '
                        f'(see above; run the purge again once StorPool '
                        f'allows it)' if result.failed else ''))
    return lines
