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
"""Attach-state entries: the AttachDB 3.2.0 data model and reference counts.

One entry says that one user (a Nova instance, a Cinder image copy, a
backup...) needs one StorPool volume or snapshot attached to this host.
A volume may have several users; it is detached only when the last one
is gone, and it is attached read-write as soon as one of them wants it.
"""

RIGHTS_RO = 1
RIGHTS_RW = 2


def make_entry(req_id: str, volume: str, *, kind: str, rights: int,
               volsnap: bool = False, remove_on_detach: bool = False) -> dict:
    """One entry in the exact shape (and key order) AttachDB writes."""
    if not isinstance(req_id, str) or not req_id:
        raise ValueError(f'attach-state request id must be a non-empty '
                         f'string, not {req_id!r}')
    if not isinstance(volume, str) or not volume:
        raise ValueError(f'attach-state volume name must be a non-empty '
                         f'string, not {volume!r}')
    if rights not in (RIGHTS_RO, RIGHTS_RW):
        raise ValueError(f'attach-state rights for {req_id} must be '
                         f'{RIGHTS_RO} (read-only) or {RIGHTS_RW} '
                         f'(read-write), not {rights!r}')
    if volsnap and rights != RIGHTS_RO:
        raise ValueError(f'attach-state entry {req_id}: snapshot {volume} '
                         f'can only be attached read-only (rights '
                         f'{RIGHTS_RO})')
    return {'volume': volume, 'type': str(kind), 'id': req_id,
            'rights': rights, 'volsnap': bool(volsnap),
            'remove_on_detach': bool(remove_on_detach)}


def is_valid_entry(entry) -> bool:
    """Whether an entry read from the file can be used for counting."""
    return (isinstance(entry, dict)
            and isinstance(entry.get('volume'), str)
            and entry.get('rights') in (RIGHTS_RO, RIGHTS_RW))


def users_of(entries: dict, volume: str) -> list[dict]:
    """The entries that need `volume` attached (its reference count)."""
    return [e for e in entries.values()
            if is_valid_entry(e) and e['volume'] == volume]


def wanted_rights(entries: dict, volume: str) -> int:
    """The highest rights any user wants for `volume`; 0 when it has none."""
    return max((e['rights'] for e in users_of(entries, volume)), default=0)


def is_snapshot(entries: dict, volume: str) -> bool:
    """Whether the users of `volume` recorded it as a snapshot."""
    return any(e.get('volsnap', False) for e in users_of(entries, volume))


def volumes(entries: dict) -> dict[str, int]:
    """Every recorded volume name with the rights its users want."""
    wanted: dict[str, int] = {}
    for entry in entries.values():
        if is_valid_entry(entry):
            name = entry['volume']
            wanted[name] = max(wanted.get(name, 0), entry['rights'])
    return wanted
