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

"""Attachments: ``VolumesReassign(Wait)`` and the clients they wait for.

Which client has which volume or snapshot attached, read-only or
read-write, at which position; the devices this host's clients get for
them (``hosts.LocalClients``); and the clients' running/down status that
``VolumesReassignWait`` waits on. A mixin of :class:`model.Cluster`.
"""

import threading
import time
import typing

from storpool_openstack.emulator import data as sp_data
from storpool_openstack.emulator import errors
from storpool_openstack.emulator import hosts
from storpool_openstack.emulator import records
from storpool_openstack.emulator import validate

MAX_POS = 1023
MAX_WAIT = 60.0


class ClusterAttachments:
    """Attach and detach for :class:`model.Cluster` (a mixin of it).

    It uses the cluster's state below, its lookups (``get_volume``,
    ``get_snapshot``) and ``_bump`` (the next generation).
    """

    lock: threading.RLock
    generation: int
    client_id: int
    data: sp_data.DataStore
    devices: hosts.LocalClients
    # (vid, client) -> {'rights': 'rw'|'ro', 'pos': int}
    attachments: dict[tuple[int, int], dict]
    clients: dict[int, str]

    def _attached(self, rec: records.Record
                  ) -> list[tuple[int, str]]:
        return sorted((client, att['rights'])
                      for (vid, client), att in self.attachments.items()
                      if vid == rec.vid)

    def _free_pos(self, client: int) -> int:
        used = {att['pos'] for (_vid, cid), att in self.attachments.items()
                if cid == client}
        for pos in range(MAX_POS + 1):
            if pos not in used:
                return pos
        raise errors.EmulatorError(
            'invalidParam', f'too many attachments on client {client}')

    def _parse_reassign(self, item: typing.Any) -> dict:
        item = validate.check_keys(item, validate.REASSIGN_KEYS,
                                   'VolumeReassignDesc')
        if ('volume' in item) == ('snapshot' in item):
            raise errors.invalid('exactly one of volume or snapshot needed')
        ro = validate.client_ids(item.get('ro', []), 'ro')
        rw = validate.client_ids(item.get('rw', []), 'rw')
        if item.get('detach', []) != 'all':
            validate.client_ids(item.get('detach', []), 'detach')
        if 'volume' in item:
            rec = self.get_volume(item['volume'])
        else:
            rec = self.get_snapshot(item['snapshot'])
            if 'rw' in item:
                raise errors.invalid(
                    f'Snapshot {rec.name} can only be attached read-only')
        detach = item.get('detach', [])
        if detach == 'all':
            detach = [c for (vid, c) in self.attachments if vid == rec.vid]
        else:
            detach = validate.client_ids(detach, 'detach')
        if set(ro) & set(rw):
            raise errors.invalid('a client cannot be both ro and rw')
        force = item.get('force', False)
        if not isinstance(force, bool):
            raise errors.invalid('force must be a boolean')
        return {'rec': rec, 'detach': detach, 'ro': ro, 'rw': rw,
                'force': force}

    def _detach(self, rec: records.Record, client: int, force: bool) -> None:
        if (rec.vid, client) not in self.attachments:
            return
        local = self.devices.for_client(client)
        if local is not None:
            local.detach(rec.name, force)
            self.data.refresh(rec.data)  # what the device wrote
        del self.attachments[(rec.vid, client)]

    def _attach(self, rec: records.Record, client: int, rights: str) -> None:
        key = (rec.vid, client)
        att = self.attachments.get(key)
        if self.devices.for_client(client) is not None:
            path = self.data.materialize(rec.data)
            self.devices.attach_for(client, rec.name, rec.gid, path,
                                    rights == 'ro')
        if att is None:
            att = {'pos': self._free_pos(client)}
            self.attachments[key] = att
        att['rights'] = rights
        self.clients.setdefault(client, 'running')

    def volumes_reassign(self, items: typing.Any) -> list[int]:
        """Apply attach/detach requests; returns the clients attached to.

        Everything is checked first (names, rights, "is open at" for this
        host's devices), then applied, so a refused request changes nothing.
        """
        with self.lock:
            if not isinstance(items, list):
                raise errors.invalid('expected a list of reassign requests')
            plan = [self._parse_reassign(item) for item in items]
            for step in plan:
                rec = step['rec']
                for client in step['detach']:
                    local = self.devices.for_client(client)
                    if (local is not None and not step['force']
                            and (rec.vid, client) in self.attachments
                            and local.holders(rec.name)):
                        raise errors.EmulatorError(
                            'busy',
                            f"'{rec.name}' is open at client {client}", 409)
            targets = []
            for step in plan:
                rec = step['rec']
                for client in step['detach']:
                    self._detach(rec, client, step['force'])
                for rights in ('ro', 'rw'):
                    for client in step[rights]:
                        self._attach(rec, client, rights)
                        targets.append(client)
            self._bump()
            return targets

    def volumes_reassign_wait(self, desc: dict,
                              max_wait: float = MAX_WAIT) -> dict:
        """Reassign, then wait for the clients (``attachTimeout``)."""
        desc = validate.check_keys(desc, ('reassign', 'attachTimeout'),
                                   'VolumesReassignWait')
        timeout = desc.get('attachTimeout')
        if timeout is not None and (not validate.is_int(timeout)
                                    or timeout < 0):
            raise errors.invalid('attachTimeout must be a non-negative int')
        targets = self.volumes_reassign(desc.get('reassign', []))
        deadline = time.monotonic() + min(
            max_wait, max_wait if timeout is None else timeout)
        while True:
            with self.lock:
                down = sorted({c for c in targets
                               if self.clients.get(c) != 'running'})
                gen = self.generation
            if not down:
                return {'ok': True, 'generation': gen}
            if time.monotonic() >= deadline:
                return {'ok': True, 'generation': gen,
                        'info': 'timed out waiting for clients '
                        + ', '.join(str(c) for c in down)}
            time.sleep(0.05)

    def add_local_client(self, client: int, dev_dir: str) -> None:
        """Another client on this machine, its devices under dev_dir."""
        client = validate.client_ids([client], 'client')[0]
        with self.lock:
            self.devices.add_client(client, dev_dir)
            self.clients[client] = 'running'
            self._bump()

    def set_client_status(self, client: int, status: str) -> None:
        """Mark a (remote) client running or down (control API)."""
        if status not in ('running', 'down'):
            raise errors.invalid('client status must be running or down')
        client = validate.client_ids([client], 'client')[0]
        with self.lock:
            if client == self.client_id and status != 'running':
                raise errors.invalid('the emulator\'s own client is always '
                                     'running')
            if self.devices.for_client(client) is not None and \
                    status != 'running':
                raise errors.invalid(
                    f'local client {client} is always running')
            self.clients[client] = status
            self._bump()
