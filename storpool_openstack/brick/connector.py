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
"""An os-brick connector for StorPool volumes and snapshots.

Connection properties (``connection_info['data']``) it accepts:

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
    ``brick-<client_id>-<volume id>``, or by the placeholder below. Its
    disconnect then removes that record too, or a volume attached before
    an upgrade would never be detached. The Nova driver sets it.

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

A connect that finds the volume attached here by no recorded user (by
os-brick's in-tree connector before an upgrade, or by a tool that keeps no
record) first records that unknown user as a placeholder ``rebuilt-<name>``
with the rights StorPool shows, so that the new user neither downgrades
nor, at its disconnect (forced or not), detaches the volume from under it.

``connect_volume`` returns ``{'type': 'block', 'path':
'<dev_root>/storpool/<name>', 'storpool_attach_req': <request id>}``; the
same by-name path is what ``get_volume_paths``, ``get_search_path`` and
``extend_volume`` use.
"""

import dataclasses
import re
import time
from typing import Any

from os_brick import exception as brick_exception
from os_brick import initiator
from os_brick.initiator.connectors import base
from os_brick import utils as brick_utils
from oslo_config import cfg
from oslo_log import log as logging

from storpool_openstack import attach_state
from storpool_openstack.brick import device
from storpool_openstack.brick import exception
from storpool_openstack.brick import options
from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config as sp_config
from storpool_openstack.common import exception as sp_exception
from storpool_openstack.common import names

LOG = logging.getLogger(__name__)

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

# Detach retries on "is open at": 20 ms, doubling, at most 0.5 s apart.
BUSY_FIRST_DELAY = 0.02
BUSY_MAX_DELAY = 0.5

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
        return _mode_of(self.rights)


def _mode_of(rights: int) -> str:
    return 'rw' if rights == attach_state.RIGHTS_RW else 'ro'


def _rights_of(attachment: dict) -> int:
    return (attach_state.RIGHTS_RW if attachment.get('rights') == 'rw'
            else attach_state.RIGHTS_RO)


def _placeholder_id(name: str) -> str:
    """The request id of the unknown user of `name` (as a rebuild's)."""
    return f'{attach_state.REBUILT_KIND}-{name}'


def _load_config(conf: cfg.ConfigOpts) -> sp_config.StorPoolConfig:
    """The connector's config_file and its .d directory, as Cinder's side.

    Unset, the StorPool default (/etc/storpool.conf and
    /etc/storpool.conf.d/). Set, that file and ``<file>.d/*.conf`` only:
    the default directory would otherwise override the file named.
    """
    path = getattr(conf, options.GROUP).config_file
    if not path:
        return sp_config.load()
    return sp_config.load(config_file=path, config_dir=path + '.d')


class StorPoolConnector(base.BaseLinuxConnector):
    """Attach StorPool volumes and snapshots to this host, refcounted."""

    def __init__(self, root_helper: str | None = None, driver=None,
                 use_multipath: bool = False,
                 device_scan_attempts: int =
                 initiator.DEVICE_SCAN_ATTEMPTS_DEFAULT,
                 *,
                 storpool_config: sp_config.StorPoolConfig | None = None,
                 api: sp_api.StorPoolAPI | None = None,
                 dev_root: str | None = None,
                 attach_state_file: str | None = None,
                 device_timeout: float | None = None,
                 detach_busy_retries: int | None = None,
                 conf: cfg.ConfigOpts | None = None,
                 **kwargs: Any):
        super().__init__(root_helper, driver=driver,
                         device_scan_attempts=device_scan_attempts,
                         **kwargs)
        self.use_multipath = use_multipath
        conf = conf if conf is not None else cfg.CONF
        options.register_opts(conf)
        opts = getattr(conf, options.GROUP)

        try:
            self._config = (storpool_config if storpool_config is not None
                            else _load_config(conf))
            self._our_id = self._config.our_id
        except sp_exception.ConfigError as exc:
            raise exception.StorPoolConfigError(reason=str(exc)) from exc
        self._prefix = self._config.volume_prefix
        self._api = api if api is not None else sp_api.StorPoolAPI(
            self._config, timeout=opts.api_timeout,
            retries=opts.api_retries)
        self._paths = names.DevicePaths(
            dev_root if dev_root is not None else opts.dev_root)
        self._device_timeout = float(
            device_timeout if device_timeout is not None
            else opts.device_timeout)
        self._busy_retries = int(
            detach_busy_retries if detach_busy_retries is not None
            else opts.detach_busy_retries)
        self._state_path = (attach_state_file if attach_state_file
                            is not None else opts.attach_state_file)
        # The attach call is made under the file lock (as AttachDB does),
        # so another user of this host may hold it for a whole attach:
        # one API call that waits up to device_timeout for the device.
        # Waiting less makes a slow attach fail every concurrent
        # connect and disconnect on the host with a lock timeout.
        self._state = attach_state.AttachState(
            self._state_path, rebuild=self._rebuild_state,
            lock_timeout=self._device_timeout + opts.api_timeout)

    def __repr__(self) -> str:
        return (f'<StorPoolConnector client {self._our_id} '
                f'{self._api!r} {self._paths.root}>')

    @property
    def our_id(self) -> int:
        """This host's StorPool client id (SP_OURID)."""
        return self._our_id

    def _rebuild_state(self) -> dict:
        """Entries for what is attached here, for a lost state file."""
        return attach_state.entries_from_attachments(
            self._api, self._our_id, self._prefix)

    # Connection properties

    def _target(self, props: dict, *, path: str | None = None) -> Target:
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

    def _request_id(self, props: dict, target: Target,
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

    def _legacy_ids(self, props: dict, target: Target,
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
        ids[_placeholder_id(target.name)] = attach_state.REBUILT_KIND
        ids.pop(req_id, None)
        return ids

    def _check_client_id(self, props: dict) -> None:
        client_id = props.get('client_id')
        if client_id is not None and str(client_id) != str(self._our_id):
            LOG.warning('The connection properties name StorPool client %s '
                        'but this host is client %s (SP_OURID); attaching '
                        'to %s', client_id, self._our_id, self._our_id)

    # os-brick interface

    @staticmethod
    def get_connector_properties(root_helper: str, *args: Any,
                                 **kwargs: Any) -> dict:
        """This host's StorPool client id, for the Cinder driver.

        Never raises: a host without (valid) StorPool configuration
        reports nothing, and the reason is logged.
        """
        conf = cfg.CONF
        try:
            options.register_opts(conf)
            our_id = _load_config(conf).our_id
        except Exception as exc:  # noqa: any config trouble means "none"
            LOG.warning('No StorPool client id for this host: %s', exc)
            return {}
        props: dict = {names.CLIENT_ID_KEY: our_id}
        if kwargs.get('host'):
            props['host'] = kwargs['host']
        return props

    def get_search_path(self) -> str:
        return self._paths.by_name_dir

    def get_volume_paths(self, connection_properties: dict) -> list[str]:
        """The by-name device path of the volume, if it is attached."""
        try:
            target = self._target(
                connection_properties,
                path=connection_properties.get('device_path'))
        except sp_exception.NotFound:
            return []
        path = self._paths.by_name(target.name)
        return [path] if device.exists(path) else []

    @brick_utils.connect_volume_prepare_result
    def connect_volume(self, connection_properties: dict) -> dict:
        """Attach the volume (if needed) and wait for its block device."""
        target = self._target(connection_properties)
        self._check_client_id(connection_properties)
        req_id = self._request_id(connection_properties, target)
        path = self._paths.by_name(target.name)
        LOG.debug('Connecting StorPool %s %s (%s) for %s', target.kind,
                  target.name, target.mode, req_id)

        kind = connection_properties.get(PROP_TYPE) or DEFAULT_TYPE
        self._record_and_attach(req_id, kind, target, path)
        if not device.wait_for_device(path, self._device_timeout):
            LOG.error('The device %s did not appear within %.1f s; '
                      'releasing the attachment of %s', path,
                      self._device_timeout, target.name)
            undone = 'the attachment was undone'
            try:
                self._release(req_id, target, force=False, retries=0,
                              drop_on_failure=True)
            except Exception:  # noqa: keep the timeout as the error
                LOG.exception('Could not release %s after the device '
                              'timeout', target.name)
                undone = ('the attachment could not be undone (see the '
                          'log): detach %s from client %s by hand'
                          % (target.name, self._our_id))
            raise exception.DeviceNeverAppeared(
                device=path, name=target.name, client=self._our_id,
                timeout=self._device_timeout, undone=undone)
        LOG.info('Connected StorPool %s %s at %s for %s', target.kind,
                 target.name, path, req_id)
        return {'type': 'block', 'path': path, PROP_REQ: req_id}

    def _record_and_attach(self, req_id: str, kind: str, target: Target,
                           path: str) -> None:
        """Record the user; attach when the wanted rights grew.

        One attach-state transaction: if the API refuses the attach, the
        entry is put back as it was before, so no user is left recorded
        for a volume that is not attached. If the record cannot be
        written after this call attached a volume nobody here used, the
        volume is detached again, so that it is not left attached with no
        record of a user.
        """
        attached_from_none = False
        try:
            with self._state.locked() as entries:
                if (not attach_state.users_of(entries, target.name)
                        and device.exists(path)):
                    self._record_unknown_user(entries, target)
                before = attach_state.wanted_rights(entries, target.name)
                previous = entries.get(req_id)
                rights = target.rights
                if previous and previous.get('volume') == target.name:
                    # The same user again (e.g. several instances of a
                    # multiattach volume as one user): never record less
                    # than it had.
                    rights = max(rights, previous.get('rights', 0))
                entries[req_id] = attach_state.make_entry(
                    req_id, target.name, kind=kind, rights=rights,
                    volsnap=target.volsnap)
                wanted = attach_state.wanted_rights(entries, target.name)
                if wanted <= before and device.exists(path):
                    LOG.debug('%s is already attached here with %s rights '
                              'for another user; no API call', target.name,
                              _mode_of(before))
                    return
                try:
                    self._api.volumes_reassign_wait(
                        [{target.kind: target.name,
                          _mode_of(wanted): [self._our_id]}],
                        attach_timeout=max(1, int(self._device_timeout)))
                except sp_exception.StorPoolError:
                    if previous is None:
                        del entries[req_id]
                    else:
                        entries[req_id] = previous
                    raise
                attached_from_none = not before
        except attach_state.AttachStateError as exc:
            if attached_from_none:
                self._undo_attach(req_id, target)
            raise exception.AttachStateFailure(
                path=self._state_path, reason=str(exc)) from exc
        except sp_exception.StorPoolError as exc:
            raise exception.StorPoolAPIFailure(
                action=f'attaching {target.kind} {target.name} '
                       f'({target.mode}) to client '
                       f'{self._our_id}', reason=str(exc)) from exc

    def _undo_attach(self, req_id: str, target: Target) -> None:
        """Detach what a connect attached but could not record."""
        try:
            self._detach_attempt(req_id, target, force_now=False,
                                 raise_busy=True, drop_on_failure=True)
        except (attach_state.AttachStateError,
                sp_exception.StorPoolError) as exc:
            LOG.error('%s stays attached to client %s: its attach could '
                      'not be recorded, and detaching it failed: %s',
                      target.name, self._our_id, exc)

    def _record_unknown_user(self, entries: dict, target: Target) -> None:
        """A placeholder for whoever attached `target` here unrecorded."""
        rights = max((_rights_of(att) for att in self._api.attachments_list()
                      if att.get('volume') == target.name
                      and att.get('client') == self._our_id), default=0)
        if not rights:
            return  # a stale device node: StorPool has it detached
        key = _placeholder_id(target.name)
        LOG.warning('%s is attached here (%s) by no recorded user; '
                    'recording %s for that user, so that it stays '
                    'attached until that record is removed', target.name,
                    _mode_of(rights), key)
        entries[key] = attach_state.make_entry(
            key, target.name, kind=attach_state.REBUILT_KIND,
            rights=attach_state.RIGHTS_RO if target.volsnap else rights,
            volsnap=target.volsnap)

    @brick_utils.connect_volume_undo_prepare_result(unlink_after=True)
    def disconnect_volume(self, connection_properties: dict,
                          device_info: dict | None = None,
                          force: bool = False,
                          ignore_errors: bool = False) -> None:
        """Drop this user; detach when no other user here needs it.

        A detach that StorPool refuses because the device is still open
        is retried `detach_busy_retries` times with a short backoff; only
        with `force` is it then forced. A volume that is gone or not
        attached counts as detached. With `ignore_errors` a failure is
        logged, the user's record is dropped and nothing is raised.
        """
        props = connection_properties or {}
        path = (props.get('device_path') or props.get('path')
                or (device_info or {}).get('path'))
        try:
            try:
                target = self._target(props, path=path)
            except sp_exception.NotFound:
                LOG.info('Nothing in StorPool has the device path %s any '
                         'more; nothing to detach', path)
                return
            req_id = self._request_id(props, target, device_info)
            self._release(req_id, target, force=force,
                          retries=self._busy_retries,
                          drop_on_failure=ignore_errors,
                          legacy=self._legacy_ids(props, target, req_id))
        except brick_exception.BrickException as exc:
            if not ignore_errors:
                raise
            LOG.warning('Ignoring a failed StorPool disconnect: %s', exc)

    def _release(self, req_id: str, target: Target, *, force: bool,
                 retries: int, drop_on_failure: bool = False,
                 legacy: dict[str, str] | None = None) -> bool:
        """Remove the user; detach if it was the last. True if detached.

        `legacy`: other request ids of the same user (see PROP_LEGACY).

        Each attempt is one attach-state transaction, so a connect of the
        same volume by another user between two busy retries is seen by
        the next attempt (which then keeps the volume attached). The
        user's record is put back if the detach finally fails, so the
        state still says who holds the attached volume.
        """
        delay = BUSY_FIRST_DELAY
        attempt = 0
        try:
            while True:
                final = attempt >= retries
                done = self._detach_attempt(
                    req_id, target, force_now=False,
                    raise_busy=final and not force,
                    drop_on_failure=drop_on_failure, legacy=legacy)
                if done is not None:
                    return done
                if final:
                    LOG.warning('Forcing the detach of %s from client %s: '
                                'still open after %d attempts and a forced '
                                'disconnect was asked for', target.name,
                                self._our_id, attempt + 1)
                    return bool(self._detach_attempt(
                        req_id, target, force_now=True, raise_busy=True,
                        drop_on_failure=drop_on_failure, legacy=legacy))
                LOG.debug('%s is still open here; detach attempt %d of %d '
                          'in %.2f s', target.name, attempt + 2, retries + 1,
                          delay)
                time.sleep(delay)
                delay = min(delay * 2, BUSY_MAX_DELAY)
                attempt += 1
        except sp_exception.Busy as exc:
            raise exception.VolumeBusy(
                name=target.name, client=self._our_id, tries=attempt + 1,
                reason=exc.desc, path=self._paths.by_name(target.name)
            ) from exc
        except attach_state.AttachStateError as exc:
            raise exception.AttachStateFailure(
                path=self._state_path, reason=str(exc)) from exc
        except sp_exception.StorPoolError as exc:
            raise exception.StorPoolAPIFailure(
                action=f'detaching {target.kind} {target.name} from client '
                       f'{self._our_id}', reason=str(exc)) from exc

    def _detach_attempt(self, req_id: str, target: Target, *,
                        force_now: bool, raise_busy: bool,
                        drop_on_failure: bool,
                        legacy: dict[str, str] | None = None
                        ) -> bool | None:
        """One transaction: True detached, False kept, None busy (retry).

        With `raise_busy` the Busy error is raised instead of None.
        """
        failure: sp_exception.StorPoolError | None = None
        with self._state.locked() as entries:
            mine = {}
            if req_id in entries:
                mine[req_id] = entries.pop(req_id)
            for key, kind in (legacy or {}).items():
                found = entries.get(key)
                if (isinstance(found, dict)
                        and found.get('volume') == target.name
                        and found.get('type') == kind):
                    mine[key] = entries.pop(key)
                    LOG.info('Removing the attach-state record %s of %s '
                             'along with %s: the same user, recorded '
                             'before an upgrade', key, target.name, req_id)
            entry = mine.get(req_id)
            if entry is None:
                LOG.debug('No attach-state record %s; detaching %s only if '
                          'no other user needs it', req_id, target.name)
            others = attach_state.users_of(entries, target.name)
            if others:
                LOG.info('Keeping %s attached: still used here by %s',
                         target.name, ', '.join(sorted(
                             str(e.get('id')) for e in others)))
                return False
            item = {target.kind: target.name, 'detach': [self._our_id],
                    'force': force_now}
            try:
                self._api.volumes_reassign_wait([item])
            except sp_exception.NotFound:
                LOG.info('%s is gone already; nothing to detach',
                         target.name)
                return True
            except sp_exception.Busy as exc:
                if not raise_busy:
                    entries.update(mine)
                    return None
                failure = exc
            except sp_exception.StorPoolError as exc:
                failure = exc
            if failure is not None:
                # Leave the block normally, so that what is decided here
                # is written: the user is kept, unless the caller said
                # to drop it whatever happens (ignore_errors).
                if not drop_on_failure:
                    entries.update(mine)
        if failure is not None:
            raise failure
        LOG.info('Detached StorPool %s %s from client %s%s', target.kind,
                 target.name, self._our_id, ' (forced)' if force_now else '')
        return True

    @brick_utils.connect_volume_undo_prepare_result
    def extend_volume(self, connection_properties: dict) -> int:
        """The new size in bytes, once the local device shows it."""
        path_hint = connection_properties.get('device_path')
        try:
            target = self._target(connection_properties, path=path_hint)
        except sp_exception.NotFound as exc:
            raise brick_exception.VolumeDeviceNotFound(
                device=path_hint) from exc
        try:
            if target.volsnap:
                expected = self._api.snapshot(target.name)['size']
            else:
                expected = self._api.volume(target.name)['size']
        except sp_exception.StorPoolError as exc:
            raise exception.StorPoolAPIFailure(
                action=f'reading the size of {target.name}',
                reason=str(exc)) from exc
        path = self._paths.by_name(target.name)
        if not device.exists(path):
            raise brick_exception.VolumeDeviceNotFound(device=path)
        last: list[int | None] = [None]

        def grown() -> int | None:
            last[0] = self._device_size(path)
            return last[0] if last[0] == expected else None

        size = device.poll(grown, self._device_timeout)
        if size is None:
            raise exception.DeviceSizeMismatch(
                name=target.name, expected=expected, path=path,
                actual=last[0], timeout=self._device_timeout)
        LOG.info('StorPool volume %s at %s is now %d bytes', target.name,
                 path, size)
        return size

    def _device_size(self, path: str) -> int | None:
        try:
            return device.size_of(path)
        except PermissionError:
            # The service may not open the device: ask blockdev as root.
            return brick_utils.get_device_size(self, path)
        except FileNotFoundError:
            raise brick_exception.VolumeDeviceNotFound(device=path)
