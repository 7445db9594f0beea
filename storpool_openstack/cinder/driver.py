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
"""The StorPool volume driver for Cinder.

Load it with ``volume_driver =
storpool_openstack.cinder.driver.StorPoolDriver``. It names StorPool
objects as the in-tree driver does (``<prefix>--volume-<id>``,
``<prefix>--snap--none--snapshot-<id>``), accepts the same
``storpool_template`` extra spec and returns the same connection info
(``driver_volume_type: storpool``), so it takes over volumes made by the
in-tree driver and works with os-brick's in-tree connector too.

Pools: ONE pool per backend, named ``default``, whose ``storpool_template``
capability is the LIST of every StorPool template. Why, measured on the
Cinder 29 scheduler code:

* CapabilitiesFilter turns a list capability into "any of" (it wraps a
  scalar in a list and accepts the first match), so a type with the
  unscoped extra spec ``storpool_template=X`` still passes exactly when
  template X exists, and a type naming a missing template gets "No valid
  backend" at the API as before. The driver itself places the volume in X.
* A clone or a volume from a snapshot carries ``resource_backend =
  source.host`` (host@backend#pool, cinder/volume/flows/api/
  create_volume.py) and FilterScheduler._schedule drops every weighed
  backend whose backend_id (with the pool) differs. With one pool per
  template (the in-tree layout) the source's pool fails the new type's
  storpool_template and the new type's pool is not the source's: "No
  valid backend" for any clone into another StorPool type. With one pool
  the source pool is the only candidate and it passes.
* Retype with migration_policy=never: find_retype_backend returns a
  backend only if its backend_id equals the volume's host, pool included;
  otherwise NoValidBackend. With one pool the volume's own pool passes
  the new type's filters, the manager calls retype() and the driver
  changes template, QoS class and limits in place with one VolumeUpdate.
  With on-demand the same happens (no more needless migrations).

Per-template capacity is still reported (the ``storpool_templates``
capability, from VolumeTemplatesStatus) for operators; the pool capacity
is the cluster's raw space over storpool_replication. Volumes the in-tree
driver placed in ``#template_<name>`` pools move to the new pool with
``cinder-manage volume update_host --currenthost H@B#template_<name>
--newhost H@B#default`` (hosts ``#default`` need nothing).
"""

import math
import platform
import time
from typing import Any

from cinder.common import constants
from cinder import context as cinder_context
from cinder import exception
from cinder.i18n import _
from cinder import interface
from cinder import objects
from cinder.volume import driver
from cinder.volume import volume_utils
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import units

from storpool_openstack.cinder import capabilities
from storpool_openstack.cinder import deferred
from storpool_openstack.cinder import export
from storpool_openstack.cinder import image
from storpool_openstack.cinder import iscsi
from storpool_openstack.cinder import name_ids
from storpool_openstack.cinder import options
from storpool_openstack.cinder import policy
from storpool_openstack.cinder import reaper
from storpool_openstack.cinder import stats as sp_stats
from storpool_openstack.cinder import templates as sp_templates
from storpool_openstack.cinder.translate import to_cinder
from storpool_openstack.cinder.translate import translated
from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config as sp_config
from storpool_openstack.common import exception as sp_exc
from storpool_openstack.common import names

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

POOL = 'default'
MANAGE_FAILED = ('error_managing', 'error_managing_deleting')


def _gib(nbytes: int) -> int:
    return int(math.ceil(nbytes / units.Gi))


@interface.volumedriver
class StorPoolDriver(export.SnapshotExportMixin,
                     capabilities.CapabilitiesMixin, iscsi.ISCSIMixin,
                     image.ImageMixin,
                     driver.VolumeDriver):
    """The StorPool block storage driver (storpool-openstack).

    Version history:

    .. code-block:: none

        3.0.0 - out-of-tree driver: one pool with all templates, QoS
                specs and classes, in-place retype, one-call clones and
                reverts, groups with consistent snapshots, manage and
                unmanage, deferred deletion, several clusters per host
    """

    VERSION = '3.0.0'
    # Every operation works on any service of a cluster: see cluster.py.
    SUPPORTS_ACTIVE_ACTIVE = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configuration.append_config_values(options.storpool_opts)
        self.configuration.append_config_values(options.storpool_iscsi_opts)
        self._api: sp_api.StorPoolAPI | None = None
        self._sp_config: sp_config.StorPoolConfig | None = None
        self._reaper: reaper.Reaper | None = None
        self._name_ids = name_ids.NameIds()

    @staticmethod
    def get_driver_options() -> list[cfg.Opt]:
        return list(options.storpool_opts) + \
            list(options.storpool_iscsi_opts)

    # Set-up

    def _opt(self, name: str) -> Any:
        return self.configuration.safe_get(name)

    def _config_paths(self) -> tuple[str, str]:
        path = self._opt('storpool_config_file') or \
            options.DEFAULT_CONFIG_FILE
        return path, path + '.d'

    def _overrides(self) -> dict[str, Any]:
        return {sp_config.HOST: self._opt('storpool_api_host'),
                sp_config.PORT: self._opt('storpool_api_port'),
                sp_config.TOKEN: self._opt('storpool_api_token')}

    def _load_config(self, section: str | None = None
                     ) -> sp_config.StorPoolConfig:
        path, conf_d = self._config_paths()
        return sp_config.load(section, overrides=self._overrides(),
                              config_file=path, config_dir=conf_d)

    def do_setup(self, context: Any) -> None:
        """Read the StorPool config and build the API client (no calls)."""
        self._iscsi.check()
        try:
            cfg_ = self._load_config()
        except sp_exc.ConfigError as err:
            raise exception.VolumeDriverException(
                message=_('StorPool backend %(backend)s: %(err)s (this '
                          'backend reads storpool_config_file=%(path)s and '
                          'its .d directory)') % {
                    'backend': self._backend_name(), 'err': err,
                    'path': self._config_paths()[0]})
        self._sp_config = cfg_
        if self._opt('storpool_multiattach'):
            LOG.warning('StorPool backend %(backend)s: storpool_multiattach '
                        'is ignored: %(why)s', {
                            'backend': self._backend_name(),
                            'why': capabilities.multiattach_reason(
                                constants.STORPOOL)})
        self._api = sp_api.StorPoolAPI(
            cfg_, timeout=self._opt('storpool_api_timeout'),
            retries=self._opt('storpool_api_retries'))
        LOG.info('StorPool backend %(backend)s: API %(endpoint)s, volume '
                 'prefix %(prefix)s', {'backend': self._backend_name(),
                                       'endpoint': cfg_.endpoint,
                                       'prefix': cfg_.volume_prefix})

    def check_for_setup_error(self) -> None:
        """One cheap call: the API, the token and the templates."""
        if self._api is None:
            self.do_setup(None)
        try:
            found = self._api.templates_list()
        except sp_exc.StorPoolError as err:
            raise exception.VolumeBackendAPIException(
                data=_('StorPool backend %(backend)s: the API at '
                       '%(endpoint)s does not answer as expected: '
                       '%(err)s') % {'backend': self._backend_name(),
                                     'endpoint': self._api.endpoint,
                                     'err': err})
        self._iscsi_check_setup()
        self._wanted_templates = sp_templates.check(
            [t['name'] for t in found], backend=self._backend_name(),
            default=self._opt('storpool_template'),
            section=getattr(self.configuration, 'config_group', None) or
            'backend_defaults')
        self._start_reaper()

    def _start_reaper(self) -> None:
        """The deferred-deletion purge task, when deferred deletion is on."""
        if (self._opt('storpool_deferred_delete_hours') or 0) <= 0:
            return
        if self._reaper is None:
            self._reaper = reaper.Reaper(
                self._api, self._prefix,
                hours=lambda: self._opt('storpool_deferred_delete_hours'),
                interval=self._opt('storpool_deferred_delete_purge_interval'),
                batch=self._opt('storpool_deferred_delete_purge_batch'))
        self._reaper.start()

    def _backend_name(self) -> str:
        return self._opt('volume_backend_name') or \
            getattr(self.configuration, 'config_group', None) or 'storpool'

    @property
    def _prefix(self) -> str:
        return self._sp_config.volume_prefix

    # Names and policies

    def _vol_name(self, volume: Any) -> str:
        self._name_ids.seen(volume)
        name_id = getattr(volume, 'name_id', None) or volume['id']
        return names.volume_name(name_id, self._prefix)

    def _snapshot_vol_name(self, snapshot: Any) -> str:
        """The StorPool name of a snapshot's volume (see name_ids.py).

        Not from the cache in a cluster: another service may have run the
        update_migrated_volume that changed the volume's name id.
        """
        if not snapshot.obj_attr_is_set('volume') and not self.cluster_name:
            name_id = self._name_ids.get(snapshot.volume_id)
            if name_id is not None:
                return names.volume_name(name_id, self._prefix)
        return self._vol_name(snapshot.volume)

    def _snap_name(self, snapshot: Any) -> str:
        return names.snapshot_name(snapshot['id'], self._prefix)

    def _policy(self, type_id: str | None, size_gb: int) -> policy.Policy:
        return policy.for_type(
            type_id, size_gb,
            default_template=self._opt('storpool_template'),
            default_qos_class=self._opt('storpool_qos_class'))

    def _volume_policy(self, volume: Any, size_gb: int) -> policy.Policy:
        """`_policy` of the volume's type, as Cinder loaded it with it."""
        return policy.for_volume(
            volume, size_gb,
            default_template=self._opt('storpool_template'),
            default_qos_class=self._opt('storpool_qos_class'))

    def _replication(self) -> int:
        return self._opt('storpool_replication') or 3

    def _volume_create_desc(self, volume: Any, *, derived: bool = False,
                            source: Any = None,
                            source_type_id: str | None = None
                            ) -> dict[str, Any]:
        """The whole VolumeCreate request for a new Cinder volume.

        `source` (a volume), or `source_type_id`: what a derived volume
        copies; the tags of the source's type are cleared unless the new
        type sets them.  A source of the new volume's own type sets the
        same tags, so then nothing is looked up.
        """
        pol = self._volume_policy(volume, volume.size)
        desc = {'name': self._vol_name(volume),
                'size': volume.size * units.Gi}
        source_tags = None
        if source is not None:
            source_type_id = source.volume_type_id
        if source_type_id and source_type_id != volume.volume_type_id:
            extra = (policy.volume_specs(source)[0] if source is not None
                     else policy.type_extra_specs(source_type_id))
            source_tags = policy.tag_names(extra)
        desc.update(policy.create_fields(pol, self._replication(),
                                         derived=derived,
                                         source_tags=source_tags))
        return desc

    def get_pool(self, volume: Any) -> str:
        return POOL

    # Volumes

    def create_volume(self, volume: Any) -> None:
        desc = self._volume_create_desc(volume)
        # Only the template can be missing: not a VolumeNotFound.
        with translated('create', volume_id=volume.id, sp_name=desc['name'],
                        missing='template'):
            self._api.volume_create(desc)

    def create_volume_from_snapshot(self, volume: Any,
                                    snapshot: Any) -> None:
        """One VolumeCreate: parent, size (may be bigger), type policy."""
        # The snapshot's own type (the volume's when it was taken) says
        # which tags it carries; no load of the volume.
        desc = self._volume_create_desc(
            volume, derived=True, source_type_id=snapshot.volume_type_id)
        desc['parent'] = self._snap_name(snapshot)
        try:
            self._api.volume_create(desc)
        except sp_exc.StorPoolError as err:
            raise to_cinder(
                err, 'create from snapshot', volume_id=volume.id,
                snapshot_id=snapshot.id, sp_name=desc['name'],
                missing=_missing(err, desc['parent'], 'snapshot')) from err

    def create_cloned_volume(self, volume: Any, src_vref: Any) -> None:
        """One VolumeCreate baseOn the source, in any template.

        StorPool copies the source through a transient snapshot of its
        own, so nothing is left behind whatever the templates.
        """
        desc = self._volume_create_desc(volume, derived=True,
                                        source=src_vref)
        desc['baseOn'] = self._vol_name(src_vref)
        try:
            self._api.volume_create(desc)
        except sp_exc.StorPoolError as err:
            # VolumeNotFound names the source; a missing template is not it.
            missing = _missing(err, desc['baseOn'], 'volume')
            raise to_cinder(err, f'clone volume {src_vref["id"]} into',
                            volume_id=src_vref['id'] if missing == 'volume'
                            else volume.id, sp_name=desc['name'],
                            missing=missing) from err

    def extend_volume(self, volume: Any, new_size: int) -> None:
        """One VolumeUpdate: the size, and per-GB limits if any.

        Only the type's QoS specs matter here (per-GB limits), so nothing
        else of the type is looked at.
        """
        iops, bw, per_gb = policy.limits_from_qos(
            policy.volume_qos(volume), new_size)
        pol = policy.Policy(iops=iops, bw=bw, per_gb=per_gb)
        name = self._vol_name(volume)
        with translated(f'extend to {new_size} GiB', volume_id=volume.id,
                        sp_name=name):
            self._api.volume_update(name, policy.size_fields(pol, new_size))

    def delete_volume(self, volume: Any) -> None:
        """Idempotent; one call for a detached volume.

        With deferred deletion on, the volume is first kept as a tagged
        snapshot (see deferred.py); if StorPool then refuses the delete,
        that snapshot goes too, so nothing is left half done.
        """
        name = self._vol_name(volume)
        self._iscsi_forget(volume)
        hours = self._opt('storpool_deferred_delete_hours') or 0
        kept = None
        if hours > 0 and not _temporary(volume):
            with translated('keep (deferred deletion)', volume_id=volume.id,
                            sp_name=name):
                # Named by the Cinder id, the one the operator knows.
                kept = deferred.defer(self._api, name, volume.id,
                                      self._prefix, hours=hours)
            if kept is None:
                return
        try:
            self._delete_named(name, volume_id=volume.id)
            self._name_ids.forget(volume.id)
        except Exception as err:
            # StorPool said no: undo. No answer (a timeout): the volume
            # may be gone, so its copy stays and expires as any other.
            if kept is not None and not isinstance(
                    err.__cause__, sp_exc.APIConnectionError):
                self._try_delete_snapshot(kept)
            raise

    def _discard_volume(self, volume: Any) -> None:
        """Delete a volume the driver made and could not fill, at once.

        Never a deferred deletion: nobody deleted that volume, and its
        half-written data is worth nothing.
        """
        self._delete_named(self._vol_name(volume), volume_id=volume.id)

    def _delete_named(self, name: str, *, volume_id: str | None = None,
                      snapshot_id: str | None = None) -> None:
        """Delete a volume or snapshot; detach it only if it is attached."""
        is_snap = snapshot_id is not None
        delete = self._api.snapshot_delete if is_snap else \
            self._api.volume_delete
        ids = {'volume_id': volume_id, 'snapshot_id': snapshot_id,
               'sp_name': name}
        try:
            delete(name)
            return
        except sp_exc.NotFound:
            return
        except sp_exc.APIError as err:
            if err.transient or not _is_attached_error(err):
                raise to_cinder(err, 'delete', **ids) from err
            LOG.info('%s is attached; detaching it from all clients to '
                     'delete it', name)
        except sp_exc.StorPoolError as err:
            # The API is unreachable: still a Cinder exception.
            raise to_cinder(err, 'delete', **ids) from err
        with translated('detach (to delete)', **ids):
            try:
                self._api.volumes_reassign([
                    {'snapshot' if is_snap else 'volume': name,
                     'detach': 'all'}])
            except sp_exc.NotFound:
                return
        with translated('delete', **ids):
            try:
                delete(name)
            except sp_exc.NotFound:
                pass

    def _try_delete_snapshot(self, name: str) -> None:
        try:
            self._api.snapshot_delete(name)
        except sp_exc.NotFound:
            pass
        except sp_exc.StorPoolError as err:
            LOG.error('Could not remove StorPool snapshot %(name)s while '
                      'rolling back: %(err)s; delete it by hand',
                      {'name': name, 'err': err})

    def _try_delete_volume(self, name: str) -> None:
        try:
            self._api.volume_delete(name)
        except sp_exc.NotFound:
            pass
        except sp_exc.StorPoolError as err:
            LOG.error('Could not remove StorPool volume %(name)s while '
                      'rolling back: %(err)s; delete it by hand',
                      {'name': name, 'err': err})

    # Snapshots

    def create_snapshot(self, snapshot: Any) -> None:
        name = self._snap_name(snapshot)
        volume = self._snapshot_vol_name(snapshot)
        with translated('create', snapshot_id=snapshot.id,
                        volume_id=snapshot.volume_id, missing='volume',
                        sp_name=name):
            try:
                self._api.snapshot_create(volume, {'name': name})
            except sp_exc.AlreadyExists:
                # Made by a retried call's first attempt (its answer was
                # lost)? The name holds this snapshot's unique id.
                if self._api.snapshot(name).get('onVolume') != volume:
                    raise

    def delete_snapshot(self, snapshot: Any) -> None:
        """Idempotent; a snapshot with clones is kept by StorPool itself."""
        self._delete_named(self._snap_name(snapshot),
                           snapshot_id=snapshot.id)

    def snapshot_revert_use_temp_snapshot(self) -> bool:
        """No temporary snapshot: a StorPool revert is atomic."""
        return False

    def revert_to_snapshot(self, context: Any, volume: Any,
                           snapshot: Any) -> None:
        """One VolumeRevert; plus the size back if the volume grew since.

        Cinder keeps the volume's size in its database after a revert, so
        a volume extended after the snapshot must be extended again.
        """
        name = self._vol_name(volume)
        with translated('revert', volume_id=volume.id,
                        snapshot_id=snapshot.id, sp_name=name):
            self._api.volume_revert(name, self._snap_name(snapshot))
        if volume.size > (snapshot.volume_size or volume.size):
            self.extend_volume(volume, volume.size)

    # Retype and migration

    def _same_backend(self, volume: Any, host: dict) -> bool:
        """Whether the scheduler's `host` is this volume's backend.

        In an active-active cluster the scheduler names the cluster
        (``aa@storpool``), not the service that made the volume, as Cinder's
        own manager check does.
        """
        def backend(name: str | None) -> str | None:
            return volume_utils.extract_host(name, 'backend')
        if host.get('cluster_name'):
            return backend(host['cluster_name']) == backend(
                volume.cluster_name or self.cluster_name)
        return backend(host.get('host')) == backend(volume.host or self.host)

    def retype(self, context: Any, volume: Any, new_type: Any,
               diff: dict, host: dict) -> bool:
        """Change template, QoS class and limits in place: one call.

        False (Cinder then migrates) for an encryption change or another
        backend.
        """
        if (diff or {}).get('encryption'):
            return False
        if host and self.host and not self._same_backend(volume, host):
            return False
        old = self._volume_policy(volume, volume.size)
        new = self._policy(new_type['id'], volume.size)
        desc = policy.update_fields(old, new, self._replication())
        if not desc:
            return True
        name = self._vol_name(volume)
        with translated(f'retype to {new_type.get("name", new_type["id"])}',
                        volume_id=volume.id, sp_name=name):
            self._api.volume_update(name, desc)
        return True

    def update_migrated_volume(self, ctxt: Any, volume: Any,
                               new_volume: Any,
                               original_volume_status: str) -> dict:
        """Rename (see _migrated_name); remember where the data is."""
        update = self._migrated_name(volume, new_volume,
                                     original_volume_status)
        self._name_ids.set(volume.id, update['_name_id'])
        return update

    def _migrated_name(self, volume: Any, new_volume: Any,
                       original_volume_status: str) -> dict:
        """Give the migrated data the volume's own name (one rename).

        The target is the name of `volume.id`, the name Cinder uses once
        `_name_id` is cleared. If that name is taken, it is the source
        itself in this same cluster (Cinder deletes it afterwards through
        the other record, which then names `volume.id`): the data keeps
        its new name through `_name_id`, and so it does if the rename
        fails. Never swap the two names: that record would then delete
        the migrated data. An attached volume (an in-use migration) is
        not renamed either: the attachment's connection info names it, and
        its detach would not find it by another name.
        """
        orig = names.volume_name(volume.id, self._prefix)
        new = self._vol_name(new_volume)
        fallback = {'_name_id': new_volume.name_id}
        if original_volume_status != 'available':
            return fallback
        try:
            self._api.volume_update(new, {'rename': orig})
        except sp_exc.AlreadyExists:
            LOG.info('Volume %(id)s: %(orig)s (the migration source) is '
                     'still there; the migrated data keeps the name '
                     '%(new)s', {'id': volume.id, 'orig': orig, 'new': new})
            return fallback
        except sp_exc.StorPoolError as err:
            if self._renamed_anyway(err, orig, None, snapshot=False,
                                    old=new):
                return {'_name_id': None}
            LOG.warning('Could not rename %(new)s to %(orig)s (%(err)s); '
                        'volume %(id)s keeps the new name', {
                            'new': new, 'orig': orig, 'err': err,
                            'id': volume.id})
            return fallback
        return {'_name_id': None}

    def _renamed_anyway(self, err: Exception, new: str, gid: str | None,
                        *, snapshot: bool, old: str | None = None) -> bool:
        """Did a rename whose call failed with `err` happen after all?

        The API client retries a call whose connection broke (e.g. in a
        management failover); if the lost attempt did the rename, the
        retry finds nothing by the old name. Then the object is there by
        `new` (with global id `gid` if it is known; else `old` is gone).
        """
        if not isinstance(err, sp_exc.NotFound):
            return False
        get = self._api.snapshot if snapshot else self._api.volume
        try:
            found = get(new)
        except sp_exc.StorPoolError:
            return False
        if gid is not None:
            if found.get('globalId') != gid:
                return False
        else:
            try:
                get(old)
                return False
            except sp_exc.NotFound:
                pass
            except sp_exc.StorPoolError:
                return False
        LOG.info('%(new)s: renamed by an earlier attempt of a call whose '
                 'answer was lost', {'new': new})
        return True

    # Connections

    def _client_id(self, connector: dict | None) -> int:
        """The StorPool client id of the connector's host, or a clear error.

        Our os-brick connector sends it; otherwise the section named after
        the host in the StorPool config says it (SP_OURID). The top-level
        SP_OURID is this cinder-volume host's own: it counts for no other
        host (that host would be told to use another machine's
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
            own = {CONF.host, volume_utils.extract_host(self.host, 'host')
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

    # Stats

    def _storage_protocol(self) -> str:
        """iSCSI when every initiator gets iSCSI, else StorPool's own."""
        return constants.ISCSI if self._iscsi.everyone else \
            constants.STORPOOL

    def _update_volume_stats(self) -> None:
        """Two API calls: templates status and disks."""
        backend = self._backend_name()
        data = {
            'volume_backend_name': backend,
            'vendor_name': 'StorPool',
            'driver_version': self.VERSION,
            'storage_protocol': self._storage_protocol(),
            'clone_across_pools': True,
            'sparse_copy_volume': True,
            'consistent_group_snapshot_enabled': True,
            'online_extend_support': True,
            'QoS_support': True,
            'thin_provisioning_support': True,
            'thick_provisioning_support': False,
            # Off over the native protocol; on when every initiator
            # gets iSCSI (capabilities.multiattach_supported decides).
            'multiattach': capabilities.multiattach_supported(
                self._storage_protocol()),
        }
        pool = {
            'pool_name': POOL,
            'reserved_percentage': self._opt('reserved_percentage') or 0,
            'max_over_subscription_ratio':
                self._opt('max_over_subscription_ratio'),
            'thin_provisioning_support': True,
            'thick_provisioning_support': False,
            'multiattach': data['multiattach'],
            'QoS_support': True,
            'consistent_group_snapshot_enabled': True,
            'online_extend_support': True,
            'backend_state': 'up',
        }
        try:
            status = self._api.templates_status()
            disks = self._api.disks_list()
            pool.update(sp_stats.pool_capacity(
                disks, status, self._replication(),
                all_templated=bool(self._opt('storpool_template'))))
            pool.update(sp_templates.stats(
                status, getattr(self, '_wanted_templates', ())))
        except sp_exc.StorPoolError as err:
            # The manager calls this from init_host outside its error
            # handling: report an unusable pool instead of raising.
            LOG.error('StorPool backend %(backend)s: cannot get the '
                      'capacity: %(err)s', {'backend': backend, 'err': err})
            old = ((self._stats or {}).get('pools') or [{}])[0]
            pool.update({'total_capacity_gb': old.get(
                'total_capacity_gb', 0), 'free_capacity_gb': 0,
                'storpool_template': old.get('storpool_template', []),
                'backend_state': 'down'})
        data['pools'] = [pool]
        self._stats = data

    # Groups (consistent group snapshots through VolumesGroupSnapshot)

    def create_group(self, context: Any, group: Any) -> dict:
        _require_cg(group)
        return {'status': 'available'}

    def update_group(self, context: Any, group: Any, add_volumes: Any = None,
                     remove_volumes: Any = None) -> tuple:
        """Nothing in StorPool: the group is Cinder's bookkeeping."""
        _require_cg(group)
        return None, None, None

    def delete_group(self, context: Any, group: Any,
                     volumes: list) -> tuple[dict, list[dict]]:
        _require_cg(group)
        return _delete_each(volumes, self.delete_volume,
                            f'Group {group.id}')

    def create_group_snapshot(self, context: Any, group_snapshot: Any,
                              snapshots: list) -> tuple[dict, list[dict]]:
        """All the snapshots at one instant: one VolumesGroupSnapshot."""
        _require_cg(group_snapshot)
        specs = [{'volume': self._snapshot_vol_name(snap),
                  'name': self._snap_name(snap)} for snap in snapshots]
        if specs:
            with translated(f'snapshot group {group_snapshot.group_id} as',
                            snapshot_id=group_snapshot.id):
                self._group_snapshot(specs)
        return ({'status': 'available'},
                [{'id': snap.id, 'status': 'available'}
                 for snap in snapshots])

    def _group_snapshot(self, specs: list[dict]) -> None:
        """One VolumesGroupSnapshot; done if a lost first attempt did it.

        The names hold unique Cinder ids: if StorPool says one exists and
        every one is there, of its own volume, the lost attempt made them.
        """
        try:
            self._api.group_snapshot(specs)
        except sp_exc.AlreadyExists:
            for spec in specs:
                try:
                    found = self._api.snapshot(spec['name'])
                except sp_exc.NotFound:
                    found = {}
                if found.get('onVolume') != spec['volume']:
                    raise

    def delete_group_snapshot(self, context: Any, group_snapshot: Any,
                              snapshots: list) -> tuple[dict, list[dict]]:
        _require_cg(group_snapshot)
        return _delete_each(snapshots, self.delete_snapshot,
                            f'Group snapshot {group_snapshot.id}')

    def create_group_from_src(self, context: Any, group: Any, volumes: list,
                              group_snapshot: Any = None,
                              snapshots: list | None = None,
                              source_group: Any = None,
                              source_vols: list | None = None
                              ) -> tuple[dict, list[dict]]:
        """Every volume from its snapshot in one VolumeCreate each.

        From a source group: from a consistent snapshot of it taken for
        this and deleted afterwards. On a failure everything made so far
        is removed.
        """
        _require_cg(group)
        temp: list[str] = []
        if group_snapshot is not None and snapshots:
            parents = [self._snap_name(snap) for snap in snapshots]
        elif source_group is not None and source_vols:
            stamp = str(int(time.time()))
            parents = [names.snapshot_name(vol.id, self._prefix,
                                           kind=names.SNAP_GROUP,
                                           more=stamp)
                       for vol in volumes]
            # Removed whatever happens, even if the call seemed to fail.
            temp = parents
            try:
                with translated(
                        f'snapshot source group {source_group.id} for',
                        volume_id=group.id):
                    self._group_snapshot([
                        {'volume': self._vol_name(src), 'name': parent}
                        for src, parent in zip(source_vols, parents)])
            except Exception:
                for name in temp:
                    self._try_delete_snapshot(name)
                raise
        else:
            raise exception.InvalidInput(
                reason=_('create_group_from_src needs a group snapshot or '
                         'a source group with volumes'))
        created: list[str] = []
        try:
            for volume, parent in zip(volumes, parents):
                desc = self._volume_create_desc(volume, derived=True)
                desc['parent'] = parent
                with translated('create (group from source)',
                                volume_id=volume.id, sp_name=desc['name']):
                    self._api.volume_create(desc)
                created.append(desc['name'])
        except Exception:
            for name in created:
                self._try_delete_volume(name)
            raise
        finally:
            for name in temp:
                self._try_delete_snapshot(name)
        return ({'status': 'available'},
                [{'id': vol.id, 'status': 'available'} for vol in volumes])

    # Manage and unmanage

    def _find(self, existing_ref: dict, own_id: str, *,
              snapshot: bool) -> dict:
        """The StorPool object that `source-name`/`source-id` names.

        Refused if it is another Cinder object's (`own_id` is the id of
        the one being managed).
        """
        kind = 'snapshot' if snapshot else 'volume'
        ref = (existing_ref or {}).get('source-name')
        gid = (existing_ref or {}).get('source-id')
        if not ref and gid:
            if not names.is_global_id(str(gid)):
                raise exception.ManageExistingInvalidReference(
                    existing_ref=existing_ref,
                    reason=_('source-id %s is not a StorPool global id '
                             '(like d.n.buy)') % gid)
            ref = names.global_id_ref(str(gid))
        if not ref:
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason=_('give the StorPool %s name as source-name or its '
                         'global id as source-id') % kind)
        try:
            found = self._api.snapshot(ref) if snapshot else \
                self._api.volume(ref)
        except sp_exc.NotFound:
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason=_('there is no StorPool %(kind)s %(ref)s') % {
                    'kind': kind, 'ref': ref})
        except sp_exc.StorPoolError as err:
            raise to_cinder(err, f'look up {kind} {ref} to manage it as')
        owner = self._owner(found['name'], own_id, snapshot=snapshot)
        if owner is not None:
            raise exception.ManageExistingAlreadyManaged(
                volume_ref=_('%(name)s (it holds Cinder %(kind)s %(owner)s)')
                % {'name': found['name'], 'kind': kind, 'owner': owner})
        return found

    def _owner(self, name: str, own_id: str, *,
               snapshot: bool) -> str | None:
        """The other Cinder volume/snapshot whose StorPool object it is.

        Managing it would rename it away from under that one.
        """
        ctxt = cinder_context.get_admin_context()
        if snapshot:
            parsed = names.parse_snapshot_name(name, self._prefix)
            if parsed is None or parsed[0] != names.SNAP_CINDER or \
                    parsed[2] == own_id:
                return None
            return parsed[2] if objects.Snapshot.exists(ctxt, parsed[2]) \
                else None
        vid = names.parse_volume_name(name, self._prefix)
        if vid is None or vid == own_id:
            return None
        # A volume whose manage failed has nothing: its delete must not
        # find the data again under its name.
        for filters in ({'id': vid}, {'_name_id': vid}):
            for user in objects.VolumeList.get_all(ctxt, filters=filters):
                if user.status not in MANAGE_FAILED:
                    return user.id
        return None

    def manage_existing_get_size(self, volume: Any,
                                 existing_ref: dict) -> int:
        found = self._find(existing_ref, volume.id, snapshot=False)
        return _gib(found['size'])

    def manage_existing(self, volume: Any, existing_ref: dict) -> None:
        """One VolumeUpdate: our name, the type's policy, whole GiB."""
        found = self._find(existing_ref, volume.id, snapshot=False)
        name = self._vol_name(volume)
        if found['name'] == name:
            return
        parsed = names.parse_volume_name(found['name'], self._prefix)
        if parsed is not None and parsed != volume.id:
            LOG.warning('Managing %(name)s, which was the volume of Cinder '
                        'volume %(other)s (no longer in Cinder)',
                        {'name': found['name'], 'other': parsed})
        size_gb = _gib(found['size'])
        pol = self._volume_policy(volume, size_gb)
        desc = policy.update_fields(policy.Policy(), pol,
                                    self._replication())
        if not pol.template:
            desc.pop('replication', None)
        desc['rename'] = name
        if size_gb * units.Gi != found['size']:
            desc['size'] = size_gb * units.Gi
        self._update_to_manage(found, desc, snapshot=False,
                               volume_id=volume.id)

    def _update_to_manage(self, found: dict, desc: dict, *, snapshot: bool,
                          **ids: str) -> None:
        """The one update (a rename, `desc['rename']`) that manages it."""
        update = (self._api.snapshot_update if snapshot
                  else self._api.volume_update)
        name = desc['rename']
        try:
            update(found['name'], desc)
        except sp_exc.StorPoolError as err:
            if not self._renamed_anyway(err, name, found.get('globalId'),
                                        snapshot=snapshot):
                kind = 'snapshot' if snapshot else 'volume'
                raise to_cinder(
                    err, f'manage StorPool {kind} {found["name"]} as',
                    sp_name=name, **ids) from err

    def unmanage(self, volume: Any) -> None:
        """Rename it out of our namespace: <prefix>--unmanaged--volume-<id>.

        The volume stays in StorPool with all its data; the new name says
        where it came from, and a volume of that id can never clash.
        """
        name = self._vol_name(volume)
        new = f'{self._prefix}--{names.UNMANAGED}--volume-{volume.id}'
        with translated('unmanage', volume_id=volume.id, sp_name=name):
            try:
                self._api.volume_update(name, {'rename': new})
            except sp_exc.NotFound:
                LOG.warning('Unmanaging volume %s: %s is not in StorPool',
                            volume.id, name)

    def manage_existing_snapshot_get_size(self, snapshot: Any,
                                          existing_ref: dict) -> int:
        found = self._find(existing_ref, snapshot.id, snapshot=True)
        return _gib(found['size'])

    def manage_existing_snapshot(self, snapshot: Any,
                                 existing_ref: dict) -> None:
        found = self._find(existing_ref, snapshot.id, snapshot=True)
        name = self._snap_name(snapshot)
        if found['name'] == name:
            return
        self._update_to_manage(found, {'rename': name}, snapshot=True,
                               snapshot_id=snapshot.id)

    def unmanage_snapshot(self, snapshot: Any) -> None:
        name = self._snap_name(snapshot)
        new = names.snapshot_name(snapshot.id, self._prefix,
                                  kind=names.UNMANAGED)
        with translated('unmanage', snapshot_id=snapshot.id, sp_name=name):
            try:
                self._api.snapshot_update(name, {'rename': new})
            except sp_exc.NotFound:
                LOG.warning('Unmanaging snapshot %s: %s is not in StorPool',
                            snapshot.id, name)

    def get_manageable_volumes(self, cinder_volumes: list, marker: Any,
                               limit: int, offset: int, sort_keys: list,
                               sort_dirs: list) -> list[dict]:
        """StorPool volumes not managed here (one VolumesList call)."""
        managed = _managed_ids(cinder_volumes)
        with translated('list the volumes of'):
            found = self._api.volumes_list()
        entries = []
        for vol in found:
            name = vol['name']
            if name.startswith('#'):
                continue
            vid = names.parse_volume_name(name, self._prefix)
            entry = {'reference': {'source-name': name},
                     'size': _gib(vol['size']), 'cinder_id': None,
                     'safe_to_manage': True, 'reason_not_safe': None,
                     'extra_info': 'globalId %s, template %s' % (
                         vol.get('globalId'), vol.get('templateName') or '-')}
            if vid is not None and vid in managed:
                entry.update(safe_to_manage=False, cinder_id=managed[vid],
                             reason_not_safe='already managed')
            entries.append(entry)
        return volume_utils.paginate_entries_list(
            entries, marker, limit, offset, sort_keys, sort_dirs)

    def get_manageable_snapshots(self, cinder_snapshots: list, marker: Any,
                                 limit: int, offset: int, sort_keys: list,
                                 sort_dirs: list) -> list[dict]:
        """StorPool snapshots not managed here (one SnapshotsList call)."""
        managed = _managed_ids(cinder_snapshots)
        with translated('list the snapshots of'):
            found = self._api.snapshots_list()
        entries = []
        for snap in found:
            name = snap['name']
            if snap.get('deleted') or snap.get('autoName') or \
                    snap.get('transient') or name.startswith('*'):
                continue
            entry = {'reference': {'source-name': name},
                     'size': _gib(snap['size']), 'cinder_id': None,
                     'safe_to_manage': True, 'reason_not_safe': None,
                     'source_reference': {'source-name':
                                          snap.get('onVolume') or None},
                     'extra_info': f'globalId {snap.get("globalId")}'}
            parsed = names.parse_snapshot_name(name, self._prefix)
            if parsed is not None:
                kind, _more, sid = parsed
                if kind == names.SNAP_CINDER and sid in managed:
                    entry.update(safe_to_manage=False,
                                 cinder_id=managed[sid],
                                 reason_not_safe='already managed')
                elif kind not in (names.SNAP_CINDER, names.UNMANAGED):
                    entry.update(safe_to_manage=False,
                                 reason_not_safe=f'used by the driver '
                                                 f'({kind})')
            entries.append(entry)
        return volume_utils.paginate_entries_list(
            entries, marker, limit, offset, sort_keys, sort_dirs)


def _missing(err: sp_exc.StorPoolError, source: str, kind: str) -> str:
    """`kind` if a NotFound from a create is about `source`, else 'template'.

    A VolumeCreate refers to its source and its template; only a missing
    source makes the Cinder NotFound class (and its cleanup) right.
    """
    if isinstance(err, sp_exc.NotFound) and source in (err.desc or ''):
        return kind
    return 'template'


def _temporary(volume: Any) -> bool:
    """A volume Cinder made for itself (use_quota False: a backup's clone).

    Never kept by deferred deletion: nobody deleted user data.
    """
    is_set = getattr(volume, 'obj_attr_is_set', None)
    return bool(is_set and is_set('use_quota') and volume.use_quota is False)


def _is_attached_error(err: sp_exc.APIError) -> bool:
    """Does a delete error say the object is still attached somewhere?"""
    desc = (err.desc or '').lower()
    return isinstance(err, sp_exc.Busy) or 'attached' in desc or \
        'is open' in desc


def _delete_each(objs: list, delete: Any,
                 what: str) -> tuple[dict, list[dict]]:
    """Delete every member; the group's and each member's status.

    One failure does not stop the others; it makes the group
    error_deleting, as the volume manager expects.
    """
    updates = []
    for obj in objs:
        try:
            delete(obj)
            updates.append({'id': obj.id, 'status': 'deleted'})
        except exception.CinderException as err:
            LOG.error('%(what)s: %(err)s', {'what': what, 'err': err})
            updates.append({'id': obj.id, 'status': 'error_deleting'})
    failed = any(u['status'] == 'error_deleting' for u in updates)
    return {'status': 'error_deleting' if failed else 'deleted'}, updates


def _require_cg(group: Any) -> None:
    """Only consistent-snapshot groups are ours; Cinder does the rest."""
    if not volume_utils.is_group_a_cg_snapshot_type(group):
        raise NotImplementedError()


def _managed_ids(objs: list) -> dict[str, str]:
    """{StorPool name id: Cinder id} of the volumes/snapshots Cinder has."""
    out = {}
    for obj in objs or []:
        out[obj['id']] = obj['id']
        name_id = obj.get('name_id') if hasattr(obj, 'get') else None
        if name_id:
            out[name_id] = obj['id']
    return out
