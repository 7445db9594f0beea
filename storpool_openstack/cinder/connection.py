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
"""Volume connections of the StorPool driver: native or iSCSI.

A connector gets iSCSI when the storpool_iscsi_* options choose it (see
iscsi.py); every other one gets the native protocol's connection info,
the in-tree driver's format: ``driver_volume_type: storpool`` with the
host's StorPool client id (SP_OURID), the volume's id and the access
mode, which both this package's os-brick connector and os-brick's
in-tree one read. The client id comes from the connector
(``storpool_client_id``, which this package's connector sends) or from
the host's own section of the StorPool config on the cinder-volume host;
a connector without one gets an error that says where to set it.
"""

import platform
from typing import Any

from cinder.common import constants
from cinder import exception
from cinder.i18n import _
from cinder.volume import volume_utils
from oslo_config import cfg

from storpool_openstack.common import config as sp_config
from storpool_openstack.common import exception as sp_exc
from storpool_openstack.common import names

CONF = cfg.CONF


class ConnectionMixin:
    """Volume connections for StorPoolDriver (see the module docstring).

    Uses the driver's `_opt`, `_load_config`, `_config_paths`, `host`,
    and the iSCSI mixin's `_iscsi` and `_iscsi_*` methods.
    """

    def _client_id(self, connector: dict | None) -> int:
        """The StorPool client id of the connector's host, or a clear error.

        Our os-brick connector sends it; otherwise the section named after
        the host in the StorPool config says it (SP_OURID). The top-level
        SP_OURID is this cinder-volume host's own (Cinder's `host`, or this
        machine's name, which cinder-backup on it sends): it counts for no
        other host (that host would be told to use another machine's
        attachment).
        """
        if not connector:
            raise exception.InvalidConnectorException(
                missing=_('no connector was given'))
        host = connector.get('host')
        raw = connector.get(names.CLIENT_ID_KEY)
        try:
            if raw is not None:
                return sp_config.parse_client_id(
                    str(raw), section=host or '?',
                    files=(f'the connector\'s {names.CLIENT_ID_KEY}',))
            if not host:
                raise exception.InvalidConnectorException(
                    missing=_("'host' (and no %s)") % names.CLIENT_ID_KEY)
            # This machine by any of its names: cinder-backup and Cinder's
            # generic copies on it send the host name os-brick finds
            # (platform.node()), not Cinder's `host` option.
            own = {CONF.host, platform.node(),
                   volume_utils.extract_host(self.host, 'host')
                   if self.host else None}
            if host in own:
                return self._load_config(platform.node()).our_id
            path, conf_d = self._config_paths()
            value, files = sp_config.host_client_id(
                host, config_file=path, config_dir=conf_d)
            if value is None:
                raise exception.InvalidConnectorException(
                    missing=self._no_client_id(connector, files))
            return sp_config.parse_client_id(value, section=host,
                                             files=files)
        except sp_exc.ConfigError as err:
            raise exception.InvalidConnectorException(
                missing=_('a StorPool client id for host %(host)s: '
                          '%(err)s') % {'host': host, 'err': err})

    def _no_client_id(self, connector: dict, files: tuple) -> str:
        host = connector.get('host')
        iqn = connector.get('initiator')
        # Only a snapshot gets here with an initiator that wants iSCSI:
        # StorPool exports volumes over iSCSI, never snapshots.
        iscsi_ok = self._iscsi.wants_iscsi(connector)
        iscsi_note = (_('a snapshot is never exported over iSCSI (its '
                        'initiator %(iqn)s gets iSCSI for volumes only)') % {
            'iqn': iqn} if iscsi_ok else
            _('its initiator %(iqn)s matches no pattern of '
              'storpool_iscsi_export_to "%(pats)s"') % {
            'iqn': iqn, 'pats': self._opt('storpool_iscsi_export_to') or ''}
            if iqn else _('it sends no iSCSI initiator either'))
        return _('a StorPool client id for host %(host)s: the connector has '
                 'no %(key)s, no section [%(host)s] with SP_OURID is in '
                 '%(files)s (the top-level SP_OURID is this cinder-volume '
                 'host\'s own), and %(iscsi)s. Add "[%(host)s]" with '
                 '"SP_OURID=<its client id>" to %(file)s%(or_iscsi)s') % {
            'host': host, 'key': names.CLIENT_ID_KEY,
            'files': ', '.join(files),
            'iscsi': iscsi_note, 'file': self._config_paths()[0],
            'or_iscsi': '' if iscsi_ok else _(', or export to it over '
                                              'iSCSI')}

    def validate_connector(self, connector: dict) -> None:
        if self._iscsi.wants_iscsi(connector):
            self._iscsi_validate_connector(connector)
            return
        self._client_id(connector)

    def initialize_connection(self, volume: Any, connector: dict,
                              **kwargs: Any) -> dict:
        """iSCSI for the connectors storpool_iscsi_* choose, else native.

        Native: the in-tree connection info, client_id, volume and
        access_mode; `volume` is the id in the StorPool name (the Cinder
        id, or the _name_id after a migration that could not rename), so
        both os-brick's in-tree connector and ours find the right volume.
        """
        admin = getattr(volume, 'admin_metadata', None) or {}
        readonly = (connector or {}).get('mode') == 'ro' or \
            admin.get('readonly') == 'True' or \
            admin.get('attached_mode') == 'ro'
        mode = 'ro' if readonly else 'rw'
        if self._iscsi.wants_iscsi(connector):
            return self._iscsi_connect(volume, connector, mode)
        return {'driver_volume_type': constants.STORPOOL,
                'data': {'client_id': self._client_id(connector),
                         'volume': getattr(volume, 'name_id', None) or
                         volume['id'],
                         'access_mode': mode}}

    def terminate_connection(self, volume: Any, connector: dict,
                             **kwargs: Any) -> bool | None:
        """iSCSI: remove the export; native: nothing (the host detaches).

        Without a connector (a force detach) every iSCSI export of the
        volume goes. True: another attachment shares this export.
        """
        settings = self._iscsi
        if settings.wants_iscsi(connector) or (
                connector is None and settings.enabled):
            return self._iscsi_disconnect(volume, connector)
        return None

    def create_export(self, context: Any, volume: Any,
                      connector: dict) -> None:
        pass

    def ensure_export(self, context: Any, volume: Any) -> None:
        pass

    def remove_export(self, context: Any, volume: Any) -> None:
        pass
