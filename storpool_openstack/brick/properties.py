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
"""What a connect or disconnect asks for: the connection properties.

The connection properties (``connection_info['data']``) the connector
accepts:

``volume``
    A Cinder volume id; the StorPool name is ``<prefix>--volume-<id>``.
``snapshot``
    A Cinder snapshot id (``<prefix>--snap--none--snapshot-<id>``),
    always attached read-only (backups, image copies).
``storpool_name`` / ``storpool_snapshot``
    A raw StorPool volume / snapshot name; wins over ``volume`` and
    ``snapshot`` when present.
``access_mode``
    ``'rw'`` or ``'ro'``; default ``'rw'`` for volumes, ``'ro'`` for
    snapshots (``'rw'`` for a snapshot is refused).
``client_id``
    What Cinder thinks this host's StorPool client id is; only checked
    against the local ``SP_OURID`` (a warning when they differ).
``device_path``
    Used by disconnect when no name is given: both
    ``<dev_root>/storpool/<name>`` and the ``<dev_root>/storpool-byid/
    <globalId>`` path that os-brick's in-tree connector returned.
``storpool_legacy_user``
    True when this user may still be recorded as os-brick <= 6.8 (through
    AttachDB) recorded every attach of a Cinder volume:
    ``brick-<client_id>-<volume id>``, or by the placeholder of an
    unrecorded attach (see :mod:`.refcount`). Its disconnect then removes
    that record too, or a volume attached before an upgrade would never be
    detached. The Nova driver sets it.

Every attach of a volume on this host by one user is recorded in the
attach-state file under a request id, and StorPool detaches the volume only
when the last recorded user on the host is gone. The request id is

* ``storpool_attach_req`` from the properties, verbatim, if given;
* else ``<type>-<SP_OURID>-<object>[-<user>]`` where ``<type>`` is
  ``storpool_attach_type`` (default ``brick``, as os-brick <= 6.8 wrote),
  ``<object>`` the volume id, ``snapshot-<id>`` or the raw name, and
  ``<user>`` the ``instance`` uuid or else the ``attachment_id`` from the
  properties, when present. Two instances on one host using one volume
  therefore are two users; the Nova driver always passes the instance.
"""

import dataclasses
import re
from typing import Any

from oslo_log import log as logging

from storpool_openstack import attach_state
from storpool_openstack.brick import exception
from storpool_openstack.common import api as sp_api
from storpool_openstack.common import exception as sp_exception
from storpool_openstack.common import names

# Logged as the connector, as before these parts had their own modules.
LOG = logging.getLogger('storpool_openstack.brick.connector')

# The keys of the connection properties this connector reads.
PROP_VOLUME = 'volume'
PROP_SNAPSHOT = 'snapshot'
PROP_NAME = 'storpool_name'
PROP_SNAPSHOT_NAME = 'storpool_snapshot'
PROP_REQ = 'storpool_attach_req'
PROP_TYPE = 'storpool_attach_type'
PROP_LEGACY = 'storpool_legacy_user'
DEFAULT_TYPE = 'brick'
# os-brick <= 6.8's record of any attach: brick-<client_id>-<volume id>.
LEGACY_TYPE = 'brick'

_REQ_ID = re.compile(r'^[A-Za-z0-9_\-.:@]{1,255}$')
_OBJ_ID = re.compile(r'^[A-Za-z0-9_\-.:@]{1,190}$')


@dataclasses.dataclass(frozen=True)
class Target:
    """One StorPool volume or snapshot, as a connection asks for it."""

    name: str
    volsnap: bool
    ident: str
    rights: int

    @property
    def kind(self) -> str:
        """The key of a reassign item: 'volume' or 'snapshot'."""
        return 'snapshot' if self.volsnap else 'volume'

    @property
    def mode(self) -> str:
        return mode_of(self.rights)


def mode_of(rights: int) -> str:
    return 'rw' if rights == attach_state.RIGHTS_RW else 'ro'


def placeholder_id(name: str) -> str:
    """The request id of the unknown user of `name` (as a rebuild's)."""
    return f'{attach_state.REBUILT_KIND}-{name}'


class ConnectionProperties:
    """Read connection properties as this host's connector sees them."""

    def __init__(self, api: sp_api.StorPoolAPI, our_id: int, prefix: str,
                 paths: names.DevicePaths) -> None:
        self._api = api
        self._our_id = our_id
        self._prefix = prefix
        self._paths = paths

    def target(self, props: dict, *, path: str | None = None) -> Target:
        """The volume or snapshot that `props` (or `path`) is about."""
        if not isinstance(props, dict):
            raise exception.InvalidConnectionProperties(
                reason=f'expected a dict, got {type(props).__name__}')
        raw_vol = props.get(PROP_NAME)
        raw_snap = props.get(PROP_SNAPSHOT_NAME)
        if raw_vol and raw_snap:
            raise exception.InvalidConnectionProperties(
                reason=f'both {PROP_NAME} and {PROP_SNAPSHOT_NAME} are set; '
                       f'give one StorPool name')
        if raw_vol or raw_snap:
            name = self._checked(raw_vol or raw_snap,
                                 PROP_NAME if raw_vol else PROP_SNAPSHOT_NAME)
            volsnap = bool(raw_snap)
        elif props.get(PROP_SNAPSHOT):
            name = names.snapshot_name(
                self._checked(props[PROP_SNAPSHOT], PROP_SNAPSHOT),
                self._prefix)
            volsnap = True
        elif props.get(PROP_VOLUME):
            name = names.volume_name(
                self._checked(props[PROP_VOLUME], PROP_VOLUME),
                self._prefix)
            volsnap = False
        elif path:
            name, volsnap = self._name_from_path(path)
        else:
            raise exception.InvalidConnectionProperties(
                reason=f'no {PROP_VOLUME} (Cinder volume id), '
                       f'{PROP_SNAPSHOT} (Cinder snapshot id), {PROP_NAME} '
                       f'or {PROP_SNAPSHOT_NAME} (StorPool name) given')

        mode = props.get('access_mode') or ('ro' if volsnap else 'rw')
        if mode not in ('rw', 'ro'):
            raise exception.InvalidConnectionProperties(
                reason=f'access_mode must be "rw" or "ro", not {mode!r}')
        if volsnap and mode == 'rw':
            raise exception.InvalidConnectionProperties(
                reason=f'snapshot {name} can only be attached read-only '
                       f'(access_mode "ro")')
        rights = (attach_state.RIGHTS_RW if mode == 'rw'
                  else attach_state.RIGHTS_RO)
        return Target(name=name, volsnap=volsnap,
                      ident=self._ident(name, volsnap), rights=rights)

    def _ident(self, name: str, volsnap: bool) -> str:
        """What default request ids name the object by.

        The same object gets the same id however the properties name it
        (Cinder id, raw name or device path), so a disconnect finds the
        record its connect made.
        """
        if volsnap:
            parsed = names.parse_snapshot_name(name, self._prefix)
            if parsed is not None and parsed[:2] == (names.SNAP_CINDER,
                                                     None):
                return f'snapshot-{parsed[2]}'
            return name
        return names.parse_volume_name(name, self._prefix) or name

    @staticmethod
    def _checked(value: Any, key: str) -> str:
        if not isinstance(value, str) or not _OBJ_ID.match(value):
            raise exception.InvalidConnectionProperties(
                reason=f'{key}={value!r} is not a valid id or StorPool name')
        return value

    def _name_from_path(self, path: str) -> tuple[str, bool]:
        """(name, is snapshot) for a by-name or by-globalId device path.

        Raises common.exception.NotFound when a globalId path names
        nothing that StorPool still has.
        """
        try:
            ref = self._paths.to_reference(path)
        except ValueError as exc:
            raise exception.InvalidConnectionProperties(
                reason=str(exc)) from exc
        if not ref.startswith('~'):
            parsed = names.parse_snapshot_name(ref, self._prefix)
            return ref, parsed is not None
        try:
            try:
                return self._api.volume(ref)['name'], False
            except sp_exception.NotFound:
                return self._api.snapshot(ref)['name'], True
        except sp_exception.NotFound:
            raise
        except sp_exception.StorPoolError as exc:
            raise exception.StorPoolAPIFailure(
                action=f'looking up {path}', reason=str(exc)) from exc

    def request_id(self, props: dict, target: Target,
                   device_info: dict | None = None) -> str:
        explicit = props.get(PROP_REQ) or (device_info or {}).get(PROP_REQ)
        if explicit:
            if not isinstance(explicit, str) or not _REQ_ID.match(explicit):
                raise exception.InvalidConnectionProperties(
                    reason=f'{PROP_REQ}={explicit!r}: use 1-255 letters, '
                           f'digits and "_-.:@"')
            return explicit
        kind = props.get(PROP_TYPE) or DEFAULT_TYPE
        req = f'{kind}-{self._our_id}-{target.ident}'
        user = props.get('instance') or props.get('attachment_id')
        if user:
            req = f'{req}-{user}'
        return req

    def legacy_ids(self, props: dict, target: Target,
                   req_id: str) -> dict[str, str]:
        """{request id: type} this user may also be recorded under.

        See PROP_LEGACY: os-brick <= 6.8's record, and the placeholder of
        an unrecorded attach (os-brick >= 6.9 recorded nothing).
        """
        volume_id = props.get(PROP_VOLUME)
        if (not props.get(PROP_LEGACY) or target.volsnap
                or not isinstance(volume_id, str)
                or target.name != names.volume_name(volume_id,
                                                    self._prefix)):
            return {}
        ids = {f'{LEGACY_TYPE}-{client}-{volume_id}': LEGACY_TYPE
               for client in (props.get('client_id'), self._our_id)
               if client is not None}
        ids[placeholder_id(target.name)] = attach_state.REBUILT_KIND
        ids.pop(req_id, None)
        return ids

    def check_client_id(self, props: dict) -> None:
        client_id = props.get('client_id')
        if client_id is not None and str(client_id) != str(self._our_id):
            LOG.warning('The connection properties name StorPool client %s '
                        'but this host is client %s (SP_OURID); attaching '
                        'to %s', client_id, self._our_id, self._our_id)
