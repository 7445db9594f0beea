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
"""Reconcile the attach-state file with StorPool's attachments.

`sync` makes StorPool match the file for this host: it attaches what the
file says should be attached, forgets entries whose volume or snapshot is
gone, and never detaches anything (another container or tool on the same
host may use a volume the file does not know).
"""

import dataclasses
from typing import Callable

from oslo_log import log as logging

from storpool_openstack.attach_state import entries as sp_entries
from storpool_openstack.attach_state import store
from storpool_openstack.common import exception

LOG = logging.getLogger(__name__)

REBUILT_KIND = 'rebuilt'
DEFAULT_ATTACH_TIMEOUT = 10

Progress = Callable[[int, int, str, str], None]


def _rights(attachment: dict) -> int:
    return (sp_entries.RIGHTS_RW if attachment.get('rights') == 'rw'
            else sp_entries.RIGHTS_RO)


def _ours(api, our_id: int) -> dict[str, dict]:
    return {att['volume']: att for att in api.attachments_list()
            if att.get('client') == our_id}


def entries_from_attachments(api, our_id: int, prefix: str) -> dict:
    """Entries for what StorPool has attached to client `our_id`.

    For `AttachState(rebuild=...)`: when the file is lost, every
    OpenStack volume (`<prefix>--...`) attached here gets one entry of kind
    'rebuilt' (request id `rebuilt-<name>`), so that no user's detach
    takes it away while its real users are unknown.  Such an entry is
    removed by hand or by the caller once the real users are known again.
    """
    head = f'{prefix}--'
    result = {}
    for name, att in sorted(_ours(api, our_id).items()):
        if not name.startswith(head):
            continue
        req_id = f'{REBUILT_KIND}-{name}'
        result[req_id] = sp_entries.make_entry(
            req_id, name, kind=REBUILT_KIND, rights=_rights(att),
            volsnap=bool(att.get('snapshot', False)))
    return result


@dataclasses.dataclass
class SyncResult:
    """What `sync` did, volume by volume."""

    attached: list[str] = dataclasses.field(default_factory=list)
    already_fine: list[str] = dataclasses.field(default_factory=list)
    dropped: list[str] = dataclasses.field(default_factory=list)
    dropped_volumes: list[str] = dataclasses.field(default_factory=list)
    unknown: list[str] = dataclasses.field(default_factory=list)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _reassign_item(name: str, rights: int, snapshot: bool,
                   our_id: int) -> dict:
    if snapshot:
        return {'snapshot': name, 'ro': [our_id]}
    mode = 'rw' if rights == sp_entries.RIGHTS_RW else 'ro'
    return {'volume': name, mode: [our_id]}


def sync(state: store.AttachState, api, our_id: int, prefix: str, *,
         progress: Progress | None = None,
         attach_timeout: int | None = DEFAULT_ATTACH_TIMEOUT) -> SyncResult:
    """Reconcile the file with StorPool's attachments of client `our_id`.

    The lock is held for the short reads and for each single attach, not
    for the whole run, so that connects and disconnects on the host can
    go on during a long sync; each step re-reads the file under the lock.
    `progress(done, total, volume, action)` is called after each volume.
    """
    result = SyncResult()
    with state.locked() as entries:
        wanted = sp_entries.volumes(entries)
        snap = {name: sp_entries.is_snapshot(entries, name)
                for name in wanted}
    attached = _ours(api, our_id)
    existing_volumes = {v['name'] for v in api.volumes_list()}
    existing_snapshots = {s['name'] for s in api.snapshots_list()}

    result.unknown = sorted(
        name for name in attached
        if name not in wanted and name.startswith(f'{prefix}--'))
    for name in result.unknown:
        LOG.info('Volume %s is attached to client %s but not in %s; '
                 'leaving it alone', name, our_id, state.path)

    total = len(wanted)
    for done, name in enumerate(sorted(wanted), 1):
        action = _sync_one(state, api, our_id, name, snap[name],
                           attached.get(name),
                           existing_snapshots if snap[name]
                           else existing_volumes,
                           attach_timeout, result)
        if progress is not None:
            progress(done, total, name, action)
    LOG.info('Attach-state sync of %s: %d attached, %d already fine, %d '
             'entries dropped, %d unknown left alone, %d failed',
             state.path, len(result.attached), len(result.already_fine),
             len(result.dropped), len(result.unknown), len(result.failed))
    return result


def _sync_one(state, api, our_id, name, snapshot, attachment, existing,
              attach_timeout, result: SyncResult) -> str:
    with state.locked() as entries:
        users = sp_entries.users_of(entries, name)
        if not users:
            return 'gone'  # its users left while we were working
        if name not in existing:
            for key, value in list(entries.items()):
                if value in users:
                    del entries[key]
                    result.dropped.append(key)
            result.dropped_volumes.append(name)
            LOG.warning('%s %s no longer exists in StorPool; dropped its '
                        'attach-state entries %s',
                        'Snapshot' if snapshot else 'Volume', name,
                        ', '.join(e.get('id', '?') for e in users))
            return 'dropped'
        rights = sp_entries.wanted_rights(entries, name)
        if snapshot and rights != sp_entries.RIGHTS_RO:
            LOG.warning('Snapshot %s is recorded with read-write users; '
                        'snapshots attach read-only', name)
            rights = sp_entries.RIGHTS_RO
        if attachment is not None and _rights(attachment) >= rights:
            result.already_fine.append(name)
            return 'already-fine'
        item = _reassign_item(name, rights, snapshot, our_id)
        try:
            api.volumes_reassign_wait([item], attach_timeout=attach_timeout)
        except exception.StorPoolError as err:
            result.failed[name] = str(err)
            LOG.error('Attach-state sync could not attach %s to client '
                      '%s: %s', name, our_id, err)
            return 'failed'
        result.attached.append(name)
        LOG.info('Attached %s to client %s (%s) for its recorded users',
                 name, our_id, 'rw' if 'rw' in item else 'ro')
        return 'attached'
