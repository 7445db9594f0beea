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

This module is the core the other parts build on: set-up, names and
policies, volumes, snapshots, retype and migration. It is some 640 lines,
a quarter of them docstrings, because that core is one job. The rest are
mixins, each in its own module: connections (connection.py), iSCSI
(iscsi.py), snapshot attachments (export.py), images (image.py), manage
(manage.py), groups (groups.py), the purge task (reaper.py), the vendor
properties (capabilities.py); the stats are built in stats.py.
"""

from typing import Any

from cinder.common import constants
from cinder import exception
from cinder.i18n import _
from cinder import interface
from cinder.volume import driver
from cinder.volume import volume_utils
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import units

from storpool_openstack.cinder import capabilities
from storpool_openstack.cinder import connection
from storpool_openstack.cinder import deferred
from storpool_openstack.cinder import export
from storpool_openstack.cinder import groups
from storpool_openstack.cinder import image
from storpool_openstack.cinder import iscsi
from storpool_openstack.cinder import manage
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


@interface.volumedriver
class StorPoolDriver(connection.ConnectionMixin, export.SnapshotExportMixin,
                     capabilities.CapabilitiesMixin, iscsi.ISCSIMixin,
                     image.ImageMixin, manage.ManageMixin, groups.GroupsMixin,
                     reaper.ReaperMixin, driver.VolumeDriver):
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
        # The templates the volume types name (check_for_setup_error).
        self._wanted_templates: frozenset[str] = frozenset()
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
        return sp_stats.POOL

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

    # Stats

    def _storage_protocol(self) -> str:
        """iSCSI when every initiator gets iSCSI, else StorPool's own."""
        return constants.ISCSI if self._iscsi.everyone else \
            constants.STORPOOL

    def _update_volume_stats(self) -> None:
        """Two API calls: templates status and disks."""
        backend = self._backend_name()
        data = sp_stats.backend_stats(
            backend, self.VERSION, self._storage_protocol(),
            reserved_percentage=self._opt('reserved_percentage') or 0,
            max_over_subscription_ratio=self._opt(
                'max_over_subscription_ratio'))
        pool = data['pools'][0]
        try:
            status = self._api.templates_status()
            disks = self._api.disks_list()
            pool.update(sp_stats.pool_capacity(
                disks, status, self._replication(),
                all_templated=bool(self._opt('storpool_template'))))
            pool.update(sp_templates.stats(status, self._wanted_templates))
        except sp_exc.StorPoolError as err:
            # The manager calls this from init_host outside its error
            # handling: report an unusable pool instead of raising.
            LOG.error('StorPool backend %(backend)s: cannot get the '
                      'capacity: %(err)s', {'backend': backend, 'err': err})
            pool.update(sp_stats.capacity_unknown(self._stats))
        self._stats = data


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
