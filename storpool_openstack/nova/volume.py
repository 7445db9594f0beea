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
"""Nova's libvirt volume driver for StorPool (``driver_volume_type`` storpool).

Nova finds it through the ``storpool`` entry of ``VOLUME_DRIVERS`` in
``nova/virt/libvirt/driver.py``, which ``add-storpool-nova-driver`` points
here. The work is done by `storpool_openstack.brick.connector`, configured
from the ``[storpool_connector]`` group of nova.conf.

Only long-standing Nova names are used (``LibvirtVolumeDriver``,
``nova.utils.get_root_helper``), and the public methods have the
signatures of the installed Nova's base class, so the module loads on old
and new Nova alike.
"""

import inspect
import threading

from nova import utils as nova_utils
from nova.virt.libvirt.volume import volume as libvirt_volume
from oslo_config import cfg
from oslo_log import log as logging

from storpool_openstack.brick import connector as sp_connector
from storpool_openstack.brick import options
from storpool_openstack.brick import properties as sp_properties

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

options.register_opts(CONF)

# The attach-state "type" of Nova's users (AttachDB's own name for them).
ATTACH_TYPE = 'nova-attach'

# Nova < 19 called extend_volume(connection_info, instance).
_EXTEND_HAS_SIZE = 'requested_size' in inspect.signature(
    libvirt_volume.LibvirtBaseVolumeDriver.extend_volume).parameters


def connection_properties(connection_info: dict, instance) -> dict:
    """The connector's properties for one instance's use of a volume.

    A copy of ``connection_info['data']`` (Nova keeps the original in the
    block device mapping) naming the instance, so that two instances on
    this host using one volume are two users of it. A multiattach volume
    is the exception: Nova itself skips the disconnect while another
    instance on this host still uses it and disconnects only for the
    last one, so all its instances here share one user (as they shared
    os-brick <= 6.8's record, which the user's disconnect also removes).
    """
    props = dict(connection_info.get('data') or {})
    props.setdefault(sp_properties.PROP_TYPE, ATTACH_TYPE)
    # Attached before an upgrade from os-brick <= 6.8, the volume is
    # recorded under that os-brick's id; its disconnect removes that too.
    props.setdefault(sp_properties.PROP_LEGACY, True)
    if connection_info.get('multiattach'):
        props.pop('instance', None)
        props.pop('attachment_id', None)
    else:
        uuid = getattr(instance, 'uuid', None)
        if uuid and not props.get('instance'):
            props['instance'] = uuid
    return props


class LibvirtStorPoolVolumeDriver(libvirt_volume.LibvirtVolumeDriver):
    """Attach StorPool volumes to libvirt guests as block devices."""

    def __init__(self, host, *args, **kwargs):
        super().__init__(host, *args, **kwargs)
        self._connector = None
        self._connector_lock = threading.Lock()

    @property
    def connector(self) -> sp_connector.StorPoolConnector:
        """The StorPool connector, built on first use.

        Building it reads /etc/storpool.conf; doing that lazily keeps a
        host without StorPool able to load Nova's volume drivers, and the
        error (a clear BrickException) comes with the first StorPool
        attach instead.
        """
        if self._connector is None:
            with self._connector_lock:
                if self._connector is None:
                    self._connector = sp_connector.StorPoolConnector(
                        nova_utils.get_root_helper(), conf=CONF)
        return self._connector

    @connector.setter
    def connector(self, value: sp_connector.StorPoolConnector) -> None:
        self._connector = value

    def get_config(self, connection_info, disk_info):
        """A <disk type='block'> on the device, with native AIO.

        Read-only (``access_mode`` 'ro') and shareable (multiattach) are
        the base class's. The cache mode is Nova's: it starts from 'none' and
        LibvirtDriver then applies ``[libvirt] disk_cachemodes`` for
        'block' disks (falling back from native to threads I/O when that
        mode is not O_DIRECT).
        """
        conf = super().get_config(connection_info, disk_info)
        conf.driver_io = 'native'
        return conf

    def connect_volume(self, connection_info, instance):
        props = connection_properties(connection_info, instance)
        LOG.debug('Attaching StorPool volume %s',
                  props.get('volume'), instance=instance)
        device_info = self.connector.connect_volume(props)
        connection_info['data']['device_path'] = device_info['path']
        LOG.debug('Attached StorPool volume %s at %s', props.get('volume'),
                  device_info['path'], instance=instance)

    def disconnect_volume(self, connection_info, instance, force=False):
        props = connection_properties(connection_info, instance)
        LOG.debug('Detaching StorPool volume %s%s', props.get('volume'),
                  ' (forced)' if force else '', instance=instance)
        self.connector.disconnect_volume(props, None, force=force)
        LOG.debug('Detached StorPool volume %s', props.get('volume'),
                  instance=instance)

    def _extend(self, connection_info, instance, requested_size):
        props = connection_properties(connection_info, instance)
        new_size = self.connector.extend_volume(props)
        if requested_size is not None and new_size != requested_size:
            LOG.warning('StorPool volume %s is %s bytes, not the %s Nova '
                        'asked for; using what the device shows',
                        props.get('volume'), new_size, requested_size,
                        instance=instance)
        LOG.debug('Extended StorPool volume %s to %d bytes',
                  props.get('volume'), new_size, instance=instance)
        return new_size

    if _EXTEND_HAS_SIZE:
        def extend_volume(self, connection_info, instance, requested_size):
            """The new size in bytes, once the local device shows it."""
            return self._extend(connection_info, instance, requested_size)
    else:  # pragma: no cover - Nova < 19
        def extend_volume(self, connection_info, instance):
            """The new size in bytes, once the local device shows it."""
            return self._extend(connection_info, instance, None)
