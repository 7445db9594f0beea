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
"""iSCSI export of StorPool volumes, for hosts without the StorPool client.

The options keep the names and meanings of StorPool's own fork of the
driver (``storpool_iscsi_*``, see options.py). StorPool serves iSCSI
itself: the driver only changes its iSCSI configuration (GET/POST
``iSCSIConfig``): an initiator (learned on first use unless told not to),
one target per volume, and one export per (initiator, portal group,
volume). Initiators connect to the portal group's addresses (its
``networks``), on the port of the group's portal at that address, else
3260.

Compared with the fork: one POST for everything an attach needs, an
export shared by several attachments of one initiator is kept until the
last of them goes, a force detach removes every export of the volume, a
delete removes the volume's leftover target, and bad options are
start-up errors.
"""

import fnmatch
import re
from typing import Any

from cinder import exception
from cinder.i18n import _
from cinder import utils as cinder_utils
from cinder.volume import configuration
from oslo_concurrency import lockutils
from oslo_log import log as logging

from storpool_openstack.common import exception as sp_exc

LOG = logging.getLogger(__name__)

ISCSI_PORT = 3260
# StorPool exports a volume as LUN 0 of its own target; an API that says
# otherwise in the target's `lun` (a tgt-backed test target) is followed.
DEFAULT_LUN = 0
# The connector key that asks for iSCSI (the fork's name): the driver's
# own attaches with storpool_iscsi_cinder_volume set.
WANTS_ISCSI_KEY = 'storpool_wants_iscsi'
INITIATOR_FILE = '/etc/iscsi/initiatorname.iscsi'
LEARNED_NET = '0.0.0.0/0'
PG_NAME_RE = re.compile(r'^[A-Za-z0-9_\-.:]+$')     # sptypes.iSCSIPGName
IQN_PATTERN_RE = re.compile(r'^[a-z0-9\-.:*?\[\]!]+$')
# Attachment states in which the host does not use the export.
NOT_USING = ('detached', 'reserved', 'deleted')


class Settings:
    """The storpool_iscsi_* options of one backend, checked."""

    def __init__(self, conf: configuration.Configuration,
                 backend: str) -> None:
        raw = conf.safe_get('storpool_iscsi_export_to') or ''
        self.patterns = raw.split()
        self.everyone = self.patterns == ['*']
        self.cinder_volume = bool(
            conf.safe_get('storpool_iscsi_cinder_volume'))
        self.learn = conf.safe_get('storpool_iscsi_learn_initiator_iqns')
        self.learn = True if self.learn is None else bool(self.learn)
        self.portal_group = conf.safe_get('storpool_iscsi_portal_group')
        self.backend = backend

    @property
    def enabled(self) -> bool:
        return bool(self.patterns) or self.cinder_volume

    def check(self) -> None:
        """Refuse option values that cannot work (a start-up error)."""
        def bad(msg: str) -> exception.VolumeDriverException:
            return exception.VolumeDriverException(
                message=_('StorPool backend %(backend)s: %(msg)s') % {
                    'backend': self.backend, 'msg': msg})

        if '*' in self.patterns and not self.everyone:
            raise bad(_('storpool_iscsi_export_to: "*" (every initiator) '
                        'must be the only value, not one of "%s"') %
                      ' '.join(self.patterns))
        for pat in self.patterns:
            if not IQN_PATTERN_RE.match(pat):
                raise bad(_('storpool_iscsi_export_to: "%s" cannot match an '
                            'initiator IQN (StorPool IQNs are lower-case '
                            'letters, digits, "-", "." and ":"; patterns '
                            'may add *, ?, [...])') % pat)
        if not self.enabled:
            return
        if not self.portal_group:
            raise bad(_('storpool_iscsi_portal_group is required with '
                        'storpool_iscsi_export_to or '
                        'storpool_iscsi_cinder_volume; set it to the '
                        'StorPool iSCSI portal group to export in'))
        if not PG_NAME_RE.match(self.portal_group):
            raise bad(_('storpool_iscsi_portal_group "%s" is not a StorPool '
                        'portal group name (letters, digits, "_", "-", '
                        '"." and ":")') % self.portal_group)

    def wants_iscsi(self, connector: dict | None) -> bool:
        """Does this connector get iSCSI (rather than the native client)?"""
        if not connector:
            return False
        if connector.get(WANTS_ISCSI_KEY) and self.cinder_volume:
            return True
        iqn = connector.get('initiator')
        if not iqn or not self.patterns:
            return False
        return self.everyone or any(fnmatch.fnmatchcase(iqn, pat)
                                    for pat in self.patterns)


def find_portal_group(config: dict, name: str) -> dict | None:
    for group in (config.get('portalGroups') or {}).values():
        if group.get('name') == name:
            return group
    return None


def find_initiator(config: dict, iqn: str) -> dict | None:
    for init in (config.get('initiators') or {}).values():
        if init.get('name') == iqn:
            return init
    return None


def find_target(config: dict, volume: str) -> dict | None:
    for tgt in (config.get('targets') or {}).values():
        if tgt.get('volume') == volume:
            return tgt
    return None


def exports_of(config: dict, target: str) -> list[tuple[str, str]]:
    """(initiator IQN, portal group) of every export of a target."""
    return [(init.get('name'), exp.get('portalGroup'))
            for init in (config.get('initiators') or {}).values()
            for exp in init.get('exports') or []
            if exp.get('target') == target]


def portals(group: dict) -> list[str]:
    """host:port of each address of the portal group, in StorPool's order.

    The group's networks are the addresses initiators connect to; a
    portal of the group at that same address gives the port.
    """
    ports = {p.get('ip'): p.get('port') for p in group.get('portals') or []}
    out = []
    for net in group.get('networks') or []:
        addr = net.get('address')
        port = ports.get(addr) or ISCSI_PORT
        host = f'[{addr}]' if ':' in addr else addr
        out.append(f'{host}:{port}')
    return out


def local_initiator(root_helper: str) -> str | None:
    """This host's initiator IQN (open-iscsi's initiatorname.iscsi)."""
    try:
        with open(INITIATOR_FILE) as fobj:
            for line in fobj:
                if line.startswith('InitiatorName='):
                    return line.split('=', 1)[1].strip() or None
        return None
    except FileNotFoundError:
        return None
    except PermissionError:
        # Readable by root only on some distributions: os-brick's reader.
        from os_brick.initiator.connectors import iscsi as brick_iscsi
        return brick_iscsi.ISCSIConnector.get_connector_properties(
            root_helper).get('initiator')


class ISCSIMixin:
    """The iSCSI side of StorPoolDriver (see the module docstring).

    Uses the driver's `_api`, `_vol_name`, `_backend_name`, `configuration`.
    """

    @property
    def _iscsi(self) -> Settings:
        return Settings(self.configuration, self._backend_name())

    def _iscsi_check_setup(self) -> None:
        """The portal group must exist and have an address (one call)."""
        settings = self._iscsi
        if not settings.enabled:
            return
        try:
            config = self._api.iscsi_config()
        except sp_exc.StorPoolError as err:
            raise exception.VolumeBackendAPIException(
                data=_('StorPool backend %(backend)s: cannot read the iSCSI '
                       'configuration: %(err)s') % {
                    'backend': settings.backend, 'err': err})
        self._iscsi_portals(config, settings)

    def _iscsi_portals(self, config: dict, settings: Settings) -> list[str]:
        name = settings.portal_group
        group = find_portal_group(config, name)
        if group is None:
            known = sorted(g.get('name') for g in
                           (config.get('portalGroups') or {}).values())
            raise exception.VolumeBackendAPIException(
                data=_('StorPool backend %(backend)s: there is no iSCSI '
                       'portal group "%(pg)s" (storpool_iscsi_portal_group); '
                       'StorPool has: %(known)s') % {
                    'backend': settings.backend, 'pg': name,
                    'known': ', '.join(known) or 'none'})
        found = portals(group)
        if not found:
            raise exception.VolumeBackendAPIException(
                data=_('StorPool backend %(backend)s: the iSCSI portal group '
                       '"%(pg)s" has no network address for initiators to '
                       'connect to (add one with portalGroupAddNetwork)') % {
                    'backend': settings.backend, 'pg': name})
        return found

    def _iscsi_validate_connector(self, connector: dict) -> None:
        if not connector.get('initiator'):
            raise exception.InvalidConnectorException(
                missing=_('the initiator IQN of host %s (for iSCSI)') %
                connector.get('host'))

    def _iscsi_lock(self):
        # Every change reads, then changes one configuration tree (a learned
        # initiator may go with its last export): one at a time.
        return lockutils.lock(f'storpool-iscsi-{self._backend_name()}')

    def _iscsi_connect(self, volume: Any, connector: dict,
                       access_mode: str) -> dict:
        """Export the volume to the connector's initiator; iscsi info."""
        self._iscsi_validate_connector(connector)
        settings = self._iscsi
        iqn = connector['initiator']
        name = self._vol_name(volume)
        with self._iscsi_lock():
            for attempt in (1, 2):
                config = self._iscsi_read(volume)
                self._iscsi_portals(config, settings)
                commands = self._iscsi_export_commands(
                    config, settings, connector, name)
                if not commands:
                    break
                made_target = any('createTarget' in c for c in commands)
                try:
                    self._api.iscsi_config_change(commands)
                except sp_exc.NotFound as err:
                    # Another cinder-volume on this cluster removed what
                    # we read (a learned initiator): read it again, once.
                    if attempt == 1:
                        LOG.info('Volume %(id)s: the iSCSI configuration '
                                 'changed meanwhile (%(err)s); again',
                                 {'id': volume.id, 'err': err})
                        continue
                    raise self._iscsi_refused(volume, commands, err,
                                              made_target)
                except sp_exc.StorPoolError as err:
                    raise self._iscsi_refused(volume, commands, err,
                                              made_target)
                config = self._iscsi_read(volume)
                break
            target = find_target(config, name)
            if target is None:
                raise exception.VolumeBackendAPIException(
                    data=_('StorPool made no iSCSI target for volume '
                           '%(id)s (%(name)s)') % {'id': volume.id,
                                                   'name': name})
            found = self._iscsi_portals(config, settings)
        lun = target.get('lun', DEFAULT_LUN)
        data = {'target_discovered': False,
                'target_iqn': target['name'],
                'target_portal': found[0],
                'target_lun': lun,
                'volume_id': volume.id,
                'discard': True,
                'access_mode': access_mode}
        if len(found) > 1:
            data.update(target_iqns=[target['name']] * len(found),
                        target_portals=found,
                        target_luns=[lun] * len(found))
        LOG.info('Volume %(id)s exported over iSCSI as %(iqn)s to %(ini)s '
                 '(portal group %(pg)s)',
                 {'id': volume.id, 'iqn': target['name'], 'ini': iqn,
                  'pg': settings.portal_group})
        return {'driver_volume_type': 'iscsi', 'data': data}

    def _iscsi_export_commands(self, config: dict, settings: Settings,
                               connector: dict, name: str) -> list[dict]:
        """What StorPool lacks for this export: initiator, target, export."""
        iqn = connector['initiator']
        commands = []
        if find_initiator(config, iqn) is None:
            if not settings.learn:
                raise exception.VolumeBackendAPIException(
                    data=_('StorPool does not know the iSCSI initiator '
                           '%(iqn)s of host %(host)s, and '
                           'storpool_iscsi_learn_initiator_iqns is off: '
                           'define it in StorPool first') % {
                        'iqn': iqn, 'host': connector.get('host')})
            LOG.info('Defining the StorPool iSCSI initiator %(iqn)s '
                     '(host %(host)s)',
                     {'iqn': iqn, 'host': connector.get('host')})
            commands += [{'createInitiator': {'name': iqn, 'username': '',
                                              'secret': ''}},
                         {'initiatorAddNetwork': {'initiator': iqn,
                                                  'net': LEARNED_NET}}]
        target = find_target(config, name)
        if target is None:
            commands.append({'createTarget': {'volumeName': name}})
        if target is None or (iqn, settings.portal_group) not in \
                exports_of(config, target.get('name')):
            commands.append({'export': {
                'initiator': iqn, 'portalGroup': settings.portal_group,
                'volumeName': name}})
        return commands

    def _iscsi_refused(self, volume: Any, commands: list[dict],
                       err: Exception, made_target: bool = False
                       ) -> exception.VolumeBackendAPIException:
        if made_target:
            self._iscsi_drop_unused_target(self._vol_name(volume))
        return exception.VolumeBackendAPIException(
            data=_('Volume %(id)s: StorPool refused the iSCSI change '
                   '%(cmds)s: %(err)s') % {
                'id': volume.id,
                'cmds': ', '.join(next(iter(c)) for c in commands),
                'err': err})

    def _iscsi_read(self, volume: Any) -> dict:
        try:
            return self._api.iscsi_config()
        except sp_exc.StorPoolError as err:
            raise exception.VolumeBackendAPIException(
                data=_('Volume %(id)s: cannot read StorPool\'s iSCSI '
                       'configuration: %(err)s') % {'id': volume.id,
                                                    'err': err})

    def _iscsi_change(self, volume: Any, commands: list[dict]) -> None:
        try:
            self._api.iscsi_config_change(commands)
        except sp_exc.StorPoolError as err:
            raise self._iscsi_refused(volume, commands, err)

    def _iscsi_drop_unused_target(self, name: str) -> None:
        """A target this attach made and could not export goes again."""
        try:
            config = self._api.iscsi_config()
            target = find_target(config, name)
            if target is not None and not exports_of(config, target['name']):
                self._api.iscsi_config_change(
                    [{'deleteTarget': {'volumeName': name}}])
        except sp_exc.StorPoolError as err:
            LOG.error('Could not remove the unused iSCSI target of '
                      '%(name)s: %(err)s; remove it by hand',
                      {'name': name, 'err': err})

    def _iscsi_shared(self, volume: Any, connector: dict) -> bool:
        """Does another attachment of this volume use this initiator?"""
        iqn = connector.get('initiator')
        users = 0
        for att in getattr(volume, 'volume_attachment', None) or []:
            # Not only 'attached': the one being detached may still be
            # 'attaching' (Nova deletes a failed attach's attachment), and
            # so may another one whose host already uses the export.
            if att.attach_status in NOT_USING:
                continue
            conn = att.connector or {}
            if conn.get('initiator') == iqn or (
                    not conn and att.attached_host and
                    att.attached_host == connector.get('host')):
                users += 1
        # The attachment being detached is still among them.
        return users > 1

    def _iscsi_disconnect(self, volume: Any, connector: dict | None) -> bool:
        """Remove this initiator's export (all of them without connector).

        The target goes with its last export. True when another
        attachment still uses this initiator's export (it is kept).
        """
        settings = self._iscsi
        name = self._vol_name(volume)
        if connector and self._iscsi_shared(volume, connector):
            LOG.info('Volume %(id)s: another attachment of %(iqn)s uses '
                     'the iSCSI export; keeping it',
                     {'id': volume.id, 'iqn': connector.get('initiator')})
            return True
        with self._iscsi_lock():
            config = self._iscsi_read(volume)
            target = find_target(config, name)
            if target is None:
                return False
            exports = exports_of(config, target['name'])
            if connector:
                mine = [(i, pg) for i, pg in exports
                        if i == connector.get('initiator') and
                        pg == settings.portal_group]
            else:
                mine = exports
            commands = [{'exportDelete': {'initiator': i, 'portalGroup': pg,
                                          'volumeName': name}}
                        for i, pg in mine]
            if len(mine) == len(exports):
                commands.append({'deleteTarget': {'volumeName': name}})
            commands += self._iscsi_forget_learned(
                config, settings, target['name'], mine)
            if commands:
                self._iscsi_change(volume, commands)
                LOG.info('Volume %(id)s: iSCSI export to %(who)s removed%(t)s',
                         {'id': volume.id,
                          'who': ', '.join(i for i, _pg in mine) or 'nobody',
                          't': ' with its target' if len(mine) == len(exports)
                          else ''})
        return False

    @staticmethod
    def _iscsi_forget_learned(config: dict, settings: Settings, target: str,
                              removed: list[tuple[str, str]]) -> list[dict]:
        """deleteInitiator for learned initiators left with no export.

        Only with learning on, and only a record exactly as learning makes
        it (no CHAP, any network): the next attach makes it again. Others
        are the StorPool admin's and stay.
        """
        if not settings.learn:
            return []
        out = []
        for iqn in sorted({i for i, _pg in removed}):
            init = find_initiator(config, iqn) or {}
            left = [e for e in init.get('exports') or []
                    if e.get('target') != target or
                    (iqn, e.get('portalGroup')) not in removed]
            if not left and not init.get('username') and \
                    not init.get('secret') and \
                    init.get('nets') == [LEARNED_NET]:
                out.append({'deleteInitiator': {'name': iqn}})
        return out

    def _iscsi_forget(self, volume: Any) -> None:
        """Before a delete: remove a target (and exports) left behind."""
        if not self._iscsi.enabled:
            return
        self._iscsi_disconnect(volume, None)

    def _local_connector_properties(self) -> dict:
        """The driver's own attaches over iSCSI (storpool_iscsi_cinder_volume).

        They then take Cinder's generic path: os-brick's ISCSIConnector,
        which needs open-iscsi (iscsiadm and its kernel initiator).
        """
        props = super()._local_connector_properties()
        if not self._iscsi.cinder_volume:
            return props
        iqn = local_initiator(cinder_utils.get_root_helper())
        if not iqn:
            raise exception.VolumeDriverException(
                message=_('storpool_iscsi_cinder_volume is set, but this '
                          'host has no iSCSI initiator name in %s: install '
                          'and configure open-iscsi, or unset the option')
                % INITIATOR_FILE)
        props.update({'initiator': iqn, WANTS_ISCSI_KEY: True})
        return props
