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
"""`storpool-openstack volumes`: one view of a volume from both sides.

For Cinder volume and snapshot ids (or every StorPool object of this
volume prefix): the StorPool name, template, size, allocated space,
parent, attachments (client ids and rights), tags, and the users of the
attach-state file of this host, in aligned columns or as JSON.  Instead
of ``storpool volume list | fgrep <cinder id>``.

Five read-only API calls, whatever the number of ids.
"""

import dataclasses

from oslo_log import log as logging

from storpool_openstack import attach_state
from storpool_openstack.common import names
from storpool_openstack.ops import attachments
from storpool_openstack.ops import client
from storpool_openstack.ops import image_cache
from storpool_openstack.ops import output

LOG = logging.getLogger(__name__)

# Reading the attach-state file must not wait long on a busy host.
STATE_LOCK_TIMEOUT = 5.0


@dataclasses.dataclass
class Row:
    """One StorPool volume or snapshot of OpenStack."""

    name: str
    kind: str  # volume, or snapshot:<kind> (snap, clone, cache...)
    cinder_id: str | None
    template: str | None
    size: int | None
    allocated: int | None
    parent: str | None
    attached: list[tuple[int, str]]
    tags: dict[str, str]
    users: list[str] | None  # None: the attach-state file is unreadable
    global_id: str | None = None

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data['attached'] = [{'client': c, 'rights': r}
                            for c, r in self.attached]
        return data


@dataclasses.dataclass
class Result:
    rows: list[Row]
    not_found: list[str]
    state_note: str | None = None


def _cinder_id(name: str, prefix: str) -> tuple[str, str | None]:
    """(kind, Cinder id) of a StorPool name of this prefix."""
    vol_id = names.parse_volume_name(name, prefix)
    if vol_id is not None:
        return 'volume', vol_id
    parsed = names.parse_snapshot_name(name, prefix)
    if parsed is not None:
        return f'snapshot:{parsed[0]}', parsed[2]
    return 'snapshot', None


class VolumesView:
    """The `volumes` subcommand's data: config, API, attach-state file."""

    def __init__(self, *, attach_state_file: str | None = None,
                 **storpool):
        """`storpool`: the arguments of `client.connect`."""
        self.cfg, self.api = client.connect(**storpool)
        self.prefix = self.cfg.volume_prefix
        self.path = attach_state_file or names.ATTACH_STATE_FILE

    def describe(self) -> str:
        return (f'StorPool objects of volume prefix "{self.prefix}", API '
                f'{self.cfg.endpoint}, attach-state {self.path}')

    def _users(self) -> tuple[dict[str, list[str]] | None, str | None]:
        try:
            entries = attachments.read_entries(
                self.path, lock_timeout=STATE_LOCK_TIMEOUT)
        except (attach_state.AttachStateError, OSError) as exc:
            return None, (f'attach-state users not shown: {exc}')
        users: dict[str, list[str]] = {}
        for req_id, entry in sorted(entries.items()):
            if isinstance(entry, dict) and isinstance(entry.get('volume'),
                                                      str):
                users.setdefault(entry['volume'], []).append(
                    attachments._user(req_id, entry))
        return users, None

    def rows(self, ids: list[str]) -> Result:
        """The rows of `ids` (Cinder ids or StorPool names), or all."""
        objects = {v['name']: v for v in self.api.volumes_list()}
        snaps = {s['name']: s for s in self.api.snapshots_list()}
        space = {v['name']: v for v in self.api.volumes_space()}
        space.update({s['name']: s for s in self.api.snapshots_space()})
        attached: dict[str, list[tuple[int, str]]] = {}
        for att in self.api.attachments_list():
            attached.setdefault(att['volume'], []).append(
                (att['client'], att['rights']))
        objects.update(snaps)
        ours = {name for name in objects
                if name.startswith(self.prefix + '-')}
        by_id: dict[str, list[str]] = {}
        for name in ours:
            cinder_id = _cinder_id(name, self.prefix)[1]
            if cinder_id:
                by_id.setdefault(cinder_id, []).append(name)
        wanted: list[str] = []
        not_found: list[str] = []
        for ident in ids:
            found = sorted(by_id.get(ident, [])) or (
                [ident] if ident in objects else [])
            if not found:
                not_found.append(ident)
            wanted += [name for name in found if name not in wanted]
        if not ids:
            wanted = sorted(ours)
        users, note = self._users()
        rows = []
        for name in wanted:
            obj = objects[name]
            kind, cinder_id = _cinder_id(name, self.prefix)
            if name not in snaps:
                kind = 'volume'
            stored = space.get(name, {}).get('storedSize')
            rows.append(Row(
                name=name, kind=kind, cinder_id=cinder_id,
                template=obj.get('templateName') or None,
                size=obj.get('size'), allocated=stored,
                parent=obj.get('parentName') or None,
                attached=sorted(attached.get(name, [])),
                tags=dict(obj.get('tags') or {}),
                users=None if users is None else users.get(name, []),
                global_id=obj.get('globalId')))
        return Result(rows, not_found, note)


def format_table(result: Result, heading: str) -> list[str]:
    lines = [heading]
    if result.rows:
        lines += output.table(
            ('NAME', 'KIND', 'TEMPLATE', 'SIZE', 'ALLOCATED', 'PARENT',
             'ATTACHED', 'TAGS', 'USERS ON THIS HOST'),
            [(row.name, row.kind, row.template or '-',
              image_cache.human_size(row.size),
              image_cache.human_size(row.allocated), row.parent or '-',
              ', '.join(f'client {c} {r}' for c, r in row.attached) or '-',
              ', '.join(f'{k}={v}' for k, v in sorted(row.tags.items()))
              or '-',
              '?' if row.users is None else ', '.join(row.users) or '-')
             for row in result.rows], right=(3, 4))
    elif not result.not_found:
        lines.append('no StorPool volumes or snapshots of this prefix')
    for ident in result.not_found:
        lines.append(f'not in StorPool: {ident} (no volume or snapshot of '
                     f'that Cinder id or name)')
    if result.state_note:
        lines.append(result.state_note)
    lines.append(f'{len(result.rows)} object(s)' +
                 (f', {len(result.not_found)} not found'
                  if result.not_found else ''))
    return lines
