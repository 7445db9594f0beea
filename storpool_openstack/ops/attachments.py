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
"""This host's attach-state entries beside StorPool's attachments.

The attach-state file says which users on this host need which StorPool
volume attached; StorPool's AttachmentsList says what is attached to this
host's client.  The two should agree: every recorded volume attached with
at least the rights its users want, and nothing of ours attached that no
user needs.  `compare` works on plain data so that both `attachments` and
`doctor` use the same rules.
"""

import dataclasses
import os
from typing import Iterable

from oslo_log import log as logging

from storpool_openstack import attach_state
from storpool_openstack.common import names
from storpool_openstack.ops import client
from storpool_openstack.ops import output

LOG = logging.getLogger(__name__)

RIGHTS = {1: 'ro', 2: 'rw'}
RANK = {'ro': 1, 'rw': 2}

OK = 'ok'
NOT_ATTACHED = 'not attached'
READ_ONLY = 'attached read-only, read-write wanted'
GONE = 'gone from StorPool'
UNRECORDED = 'attached, no user recorded'


@dataclasses.dataclass
class Row:
    """One volume (or snapshot) of this host, as both sides see it."""

    volume: str
    users: list[str]
    wanted: str | None
    attached: str | None
    snapshot: bool
    state: str

    @property
    def consistent(self) -> bool:
        return self.state == OK

    def to_json(self) -> dict:
        return dict(dataclasses.asdict(self), consistent=self.consistent)


def _user(req_id: str, entry: dict) -> str:
    kind = entry.get('type') or '?'
    return f'{kind}:{entry.get("id", req_id)}'


def compare(entries: dict, attachments: Iterable[dict], our_id: int,
            prefix: str, existing: set[str] | None = None) -> list[Row]:
    """The rows of the table, recorded volumes first, sorted by name.

    `existing` (names of every volume and snapshot in StorPool) lets a
    recorded volume that is gone be told apart from one not attached.
    """
    wanted: dict[str, int] = {}
    users: dict[str, list[str]] = {}
    snaps: set[str] = set()
    for req_id, entry in sorted(entries.items()):
        if not isinstance(entry, dict) or \
                not isinstance(entry.get('volume'), str) or \
                entry.get('rights') not in RIGHTS:
            continue
        name = entry['volume']
        wanted[name] = max(wanted.get(name, 0), entry['rights'])
        users.setdefault(name, []).append(_user(req_id, entry))
        if entry.get('volsnap'):
            snaps.add(name)
    ours = {}
    for att in attachments:
        if att.get('client') == our_id and \
                str(att.get('volume', '')).startswith(prefix + '-'):
            ours[att['volume']] = att
    rows = []
    for name in sorted(wanted):
        att = ours.get(name)
        got = att.get('rights') if att else None
        want = RIGHTS[wanted[name]]
        if att is None:
            gone = existing is not None and name not in existing
            state = GONE if gone else NOT_ATTACHED
        elif RANK.get(got, 0) < RANK[want]:
            state = READ_ONLY
        else:
            state = OK
        rows.append(Row(name, users[name], want, got,
                        name in snaps or bool(att and att.get('snapshot')),
                        state))
    for name in sorted(set(ours) - set(wanted)):
        att = ours[name]
        rows.append(Row(name, [], None, att.get('rights'),
                        bool(att.get('snapshot')), UNRECORDED))
    return rows


def _require_file(path: str) -> None:
    if not os.path.exists(path):
        raise attach_state.AttachStateError(
            f'the attach-state file {path} does not exist; run '
            f'"storpool-openstack setup-host" as root', path=path)


# A connector holds the lock while StorPool attaches a volume (up to its
# device_timeout plus api_timeout); wait out such an attach, not fail.
LOCK_TIMEOUT = 60.0


def read_entries(path: str, lock_timeout: float = LOCK_TIMEOUT) -> dict:
    """The entries of the attach-state file, read under its lock."""
    _require_file(path)
    return attach_state.AttachState(path, lock_timeout=lock_timeout).entries()


# What is left to do by hand for a row that a sync could not fix.
_BY_HAND = {
    UNRECORDED: 'attached here with no user recorded; sync leaves it '
                'alone: detach it by hand if nothing on this host uses it',
    NOT_ATTACHED: 'StorPool did not attach it; see the FAILED line above '
                  'and the StorPool cluster\'s state',
    READ_ONLY: 'StorPool kept it read-only; see the FAILED line above',
    GONE: 'deleted from StorPool while the sync ran; sync again',
}


def format_table(rows: list[Row], heading: str,
                 after_sync: bool = False) -> list[str]:
    """A fixed-width table for the terminal, and the verdict.

    After a sync the verdict is final: consistent, or what is left and
    why a sync did not fix it (never "run --sync" again).
    """
    lines = [heading]
    bad = [row for row in rows if not row.consistent]
    if not rows:
        lines.append('no StorPool volumes recorded or attached on this host')
    else:
        lines += output.table(
            ('VOLUME', 'USERS', 'WANTED', 'IN STORPOOL', 'STATE'),
            [(row.volume + (' (snapshot)' if row.snapshot else ''),
              ', '.join(row.users) or '-', row.wanted or '-',
              f'attached {row.attached}' if row.attached else 'no',
              row.state) for row in rows])
        lines.append(f'{len(rows)} volume(s), {len(bad)} inconsistent' +
                     ('; run "storpool-openstack attachments --sync"'
                      if bad and not after_sync else ''))
    if after_sync:
        if not bad:
            lines.append('verdict: consistent: this host\'s attach-state '
                         'file and StorPool agree')
        else:
            lines.append(f'verdict: NOT consistent: {len(bad)} volume(s) '
                         f'left after the sync:')
            for row in bad:
                lines.append(f'  {row.volume}: {_BY_HAND[row.state]}')
    return lines


class AttachmentsView:
    """The `attachments` subcommand's data: config, API, state file."""

    def __init__(self, *, attach_state_file: str | None = None,
                 **storpool):
        """`storpool`: the arguments of `client.connect`."""
        self.cfg, self.api = client.connect(**storpool)
        self.our_id = self.cfg.our_id
        self.path = attach_state_file or names.ATTACH_STATE_FILE

    def describe(self) -> str:
        return (f'attach-state {self.path}, StorPool client '
                f'{self.our_id}, API {self.cfg.endpoint}')

    def rows(self) -> list[Row]:
        entries = read_entries(self.path)
        existing = {v['name'] for v in self.api.volumes_list()}
        existing |= {s['name'] for s in self.api.snapshots_list()}
        return compare(entries, self.api.attachments_list(), self.our_id,
                       self.cfg.volume_prefix, existing)

    def sync(self, console: output.Console,
             progress_to_err: bool = False) -> attach_state.SyncResult:
        """Reconcile through the attach-state manager, with progress."""
        _require_file(self.path)
        # A corrupt file is rebuilt from StorPool's view, not emptied.
        state = attach_state.AttachState(
            self.path, lock_timeout=LOCK_TIMEOUT,
            rebuild=lambda: attach_state.entries_from_attachments(
                self.api, self.our_id, self.cfg.volume_prefix))
        progress: output.Progress | None = None

        def report(done: int, total: int, volume: str, action: str) -> None:
            nonlocal progress
            if progress is None:
                progress = output.Progress(console, total, 'sync',
                                           interval=0.5,
                                           err=progress_to_err)
            progress.step(f'{volume}: {action}')

        return attach_state.sync(state, self.api, self.our_id,
                                 self.cfg.volume_prefix, progress=report)


def describe_sync(result: attach_state.SyncResult) -> list[str]:
    """What sync did, as lines for the operator."""
    lines = [f'sync: {len(result.attached)} attached, '
             f'{len(result.already_fine)} already fine, '
             f'{len(result.dropped)} entries of {len(result.dropped_volumes)}'
             f' vanished volume(s) dropped, {len(result.unknown)} attached '
             f'without a recorded user (left alone), {len(result.failed)} '
             f'failed']
    for name in result.dropped_volumes:
        lines.append(f'  dropped: {name} (no longer in StorPool)')
    for name in result.unknown:
        lines.append(f'  left alone: {name} (attached here, no user '
                     f'recorded; detach it by hand if nothing uses it)')
    for name, why in sorted(result.failed.items()):
        lines.append(f'  FAILED: {name}: {why}')
    return lines
