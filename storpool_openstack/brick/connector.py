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

The os-brick surface: ``connect_volume``, ``disconnect_volume``,
``extend_volume``, the device paths and this host's connector properties.
What the connection properties ask for is read in :mod:`.properties`;
who uses which volume on this host, and so when StorPool attaches or
detaches it, is recorded by the transactions in :mod:`.refcount`.

``connect_volume`` returns ``{'type': 'block', 'path':
'<dev_root>/storpool/<name>', 'storpool_attach_req': <request id>}``; the
same by-name path is what ``get_volume_paths``, ``get_search_path`` and
``extend_volume`` use.
"""

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
from storpool_openstack.brick import properties
from storpool_openstack.brick import refcount
from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config as sp_config
from storpool_openstack.common import exception as sp_exception
from storpool_openstack.common import names

LOG = logging.getLogger(__name__)


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
        self._props = properties.ConnectionProperties(
            self._api, self._our_id, self._prefix, self._paths)
        self._refs = refcount.Attachments(
            self._api, self._our_id, self._state, self._state_path,
            self._paths, self._device_timeout)

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
            target = self._props.target(
                connection_properties,
                path=connection_properties.get('device_path'))
        except sp_exception.NotFound:
            return []
        path = self._paths.by_name(target.name)
        return [path] if device.exists(path) else []

    @brick_utils.connect_volume_prepare_result
    def connect_volume(self, connection_properties: dict) -> dict:
        """Attach the volume (if needed) and wait for its block device."""
        target = self._props.target(connection_properties)
        self._props.check_client_id(connection_properties)
        req_id = self._props.request_id(connection_properties, target)
        path = self._paths.by_name(target.name)
        LOG.debug('Connecting StorPool %s %s (%s) for %s', target.kind,
                  target.name, target.mode, req_id)

        kind = (connection_properties.get(properties.PROP_TYPE)
                or properties.DEFAULT_TYPE)
        self._refs.record_and_attach(req_id, kind, target, path)
        if not device.wait_for_device(path, self._device_timeout):
            LOG.error('The device %s did not appear within %.1f s; '
                      'releasing the attachment of %s', path,
                      self._device_timeout, target.name)
            undone = 'the attachment was undone'
            try:
                self._refs.release(req_id, target, force=False, retries=0,
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
        return {'type': 'block', 'path': path, properties.PROP_REQ: req_id}

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
                target = self._props.target(props, path=path)
            except sp_exception.NotFound:
                LOG.info('Nothing in StorPool has the device path %s any '
                         'more; nothing to detach', path)
                return
            req_id = self._props.request_id(props, target, device_info)
            self._refs.release(req_id, target, force=force,
                               retries=self._busy_retries,
                               drop_on_failure=ignore_errors,
                               legacy=self._props.legacy_ids(props, target,
                                                             req_id))
        except brick_exception.BrickException as exc:
            if not ignore_errors:
                raise
            LOG.warning('Ignoring a failed StorPool disconnect: %s', exc)

    @brick_utils.connect_volume_undo_prepare_result
    def extend_volume(self, connection_properties: dict) -> int:
        """The new size in bytes, once the local device shows it."""
        path_hint = connection_properties.get('device_path')
        try:
            target = self._props.target(connection_properties, path=path_hint)
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
