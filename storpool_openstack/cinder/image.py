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
"""Image <-> volume copies and the image cache of the StorPool driver.

Copies keep Cinder's own flow (`VolumeDriver._copy_image_data_to_volume`,
`copy_volume_to_image`, which attach the encryptor for encrypted volumes,
bug 1939241); only the local attach goes through this package's connector,
so it is recorded in the attach-state file like Nova's attachments.

`clone_image` makes volumes from images cheap:

* an image stored on Cinder in this StorPool (a `cinder://<volume id>`
  location, raw/bare) is cloned with one `VolumeCreate baseOn=...`;
* every other image is copied once, then kept as a StorPool snapshot
  `<prefix>--image--<hash>--snapshot-<image id>` (the hash is the start
  of Glance's os_hash_value or checksum, so new image data never matches an
  old entry); every later volume from that image is one
  `VolumeCreate parent=<that snapshot>`, copy-on-write, whatever its size.

Raw images are streamed from Glance straight into the block device (no
temporary copy, zero blocks skipped, the format checked on the fly); other
formats go through Cinder's fetch_to_raw (temporary file, qemu-img convert
into the device); that device I/O is in `image_io`. Cache entries never
block a delete: StorPool keeps a deleted snapshot for as long as its child
volumes need it.
"""

import contextlib
import platform
import sys
from typing import Any

from cinder import exception as cinder_exception
from cinder.i18n import _
from cinder.image import image_utils
from cinder import utils as cinder_utils
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import excutils
from oslo_utils import fileutils
from oslo_utils import netutils
from oslo_utils import units
from oslo_utils import uuidutils

from storpool_openstack.cinder import cluster
from storpool_openstack.cinder import image_cache
from storpool_openstack.cinder import image_io
from storpool_openstack.common import exception as sp_exception
from storpool_openstack.common import names

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

# The attach-state record type of the driver's own attachments (the
# connector's `storpool_attach_type` connection property).
ATTACH_TYPE_KEY = 'storpool_attach_type'
ATTACH_TYPE = 'cinder-image'


class ImageMixin:
    """Image handling for StorPoolDriver (see the module docstring).

    Uses the driver's `_api`, `_sp_config`, `configuration`, `host`,
    `create_volume`, `extend_volume`, `_discard_volume` (an immediate
    delete), `_vol_name` and `_volume_create_desc`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The connector of the driver's own attaches, made on first use.
        self._image_connector: Any = None
        # When this process last tagged each cache entry as used.
        self._image_cache_touched: dict[str, float] = {}

    # The local attach

    def _storpool_connector(self):
        connector = self._image_connector
        if connector is None:
            # Imported here: the connector module is the brick package's,
            # and only this path of the driver needs it.
            from storpool_openstack.brick import connector as sp_connector
            cfg_ = self.configuration
            connector = sp_connector.StorPoolConnector(
                cinder_utils.get_root_helper(),
                storpool_config=self._sp_config, api=self._api,
                dev_root=cfg_.safe_get('storpool_dev_root'),
                attach_state_file=cfg_.safe_get(
                    'storpool_attach_state_file'))
            self._image_connector = connector
        return connector

    def _connect_device(self, conn):
        """Attach through this package's connector for 'storpool'.

        Cinder's _attach_volume/_detach_volume and the encryptor handling
        around them stay as they are; os-brick's in-tree STORPOOL
        connector (which reads /etc/storpool.conf and keeps no attach
        state) is not used.
        """
        if conn.get('driver_volume_type') != 'storpool':
            return super()._connect_device(conn)
        connector = self._storpool_connector()
        # Recorded as this kind of user in the attach-state file.
        conn['data'].setdefault(ATTACH_TYPE_KEY, ATTACH_TYPE)
        device = connector.connect_volume(conn['data'])
        attach_info = {'conn': conn, 'device': device,
                       'connector': connector}
        path = device.get('path') if isinstance(device, dict) else None
        if not path or not self._device_readable(connector, path):
            raise cinder_exception.DeviceUnavailable(
                path=path, attach_info=attach_info,
                reason=_('Unable to access the StorPool volume via the '
                         'path %s.') % path)
        return attach_info

    def _device_readable(self, connector, path: str) -> bool:
        try:
            with open(path, 'rb') as dev:
                dev.read(512)
            return True
        except OSError as exc:
            LOG.debug('Cannot read %s directly (%s), trying as root', path,
                      exc)
        try:
            return bool(connector.check_valid_device(
                path, not self.secure_file_operations_enabled()))
        except Exception:
            LOG.exception('Could not validate device %s', path)
            return False

    def _local_connector_properties(self) -> dict:
        """This host as the connector of the driver's own attaches.

        A StorPool attach needs nothing but the host (its SP_OURID), so
        this skips os-brick's probe of every transport (iSCSI initiator,
        NVMe host NQN...), which needs privsep and takes time.
        """
        props = {'host': self.host or CONF.host,
                 'multipath': False, 'enforce_multipath': False,
                 'platform': platform.machine(), 'os_type': sys.platform}
        with contextlib.suppress(sp_exception.StorPoolError):
            props[names.CLIENT_ID_KEY] = self._sp_config.our_id
        return props

    # Image -> volume

    def copy_image_to_volume(self, context, volume, image_service, image_id,
                             disable_sparse=False):
        """Cinder's copy, then keep the result in the image cache."""
        super().copy_image_to_volume(context, volume, image_service,
                                     image_id, disable_sparse=disable_sparse)
        if volume.encryption_key_id:
            return
        try:
            image_meta = image_service.show(context, image_id)
        except Exception as exc:
            LOG.debug('Not caching image %s: %s', image_id, exc)
            return
        self._image_cache_add(volume, image_meta)

    def clone_image(self, context, volume, image_location, image_meta,
                    image_service):
        """Make the volume from the image without copying, if possible.

        Returns (model_update, True) when the volume exists with the image
        data, (None, False) to let Cinder download and copy it.
        """
        if volume.encryption_key_id:
            # The data must go through the volume's encryptor: Cinder's
            # own flow does that.
            return None, False
        image_id = image_meta.get('id')
        try:
            model_update = self._clone_from_cinder_location(
                volume, image_location, image_meta)
            if model_update is not None:
                return model_update, True
            if not self._image_cacheable(image_meta):
                return None, False
            model_update = self._clone_from_cache(volume, image_meta)
            if model_update is not None:
                return model_update, True
            # Active-active: one service copies the image, another one
            # waits and clones its cache entry (see cluster.py).
            with cluster.image_copy_lock(
                    image_id, image_cache.image_hash(image_meta)):
                model_update = self._clone_from_cache(volume, image_meta)
                if model_update is not None:
                    return model_update, True
                return self._create_from_image_once(
                    context, volume, image_meta, image_service), True
        except sp_exception.StorPoolError as exc:
            LOG.warning('clone_image of image %(image)s into volume '
                        '%(vol)s failed, falling back to a download: '
                        '%(err)s', {'image': image_id, 'vol': volume.id,
                                    'err': exc})
            return None, False

    def _image_cacheable(self, image_meta: dict) -> bool:
        """Whether this driver may copy and cache the image itself."""
        if not self.configuration.safe_get('storpool_image_cache'):
            return False
        if image_cache.image_hash(image_meta) is None:
            return False
        if image_meta.get('status', 'active') != 'active':
            return False
        if image_meta.get('container_format') not in (None, 'bare'):
            # compressed, ovf (XenServer VHD chains), ova...: Cinder's flow
            # knows them.
            return False
        if image_meta.get('disk_format') not in ('raw', 'qcow2', 'vmdk',
                                                 'vhdx', 'vhd', 'vdi'):
            return False
        props = image_meta.get('properties') or {}
        if any(key.startswith('img_signature') for key in
               list(image_meta) + list(props)) and \
                CONF.verify_glance_signatures != 'disabled':
            # Cinder verifies signatures on its own download path.
            return False
        if image_meta.get('cinder_encryption_key_id') or \
                props.get('cinder_encryption_key_id'):
            return False
        return True

    def _image_volume_desc(self, volume, **extra) -> dict:
        """The VolumeCreate request for `volume` (template, tags...)."""
        desc = self._volume_create_desc(volume, derived=bool(extra))
        desc.update(extra)
        return desc

    def _clone_from_cinder_location(self, volume, image_location,
                                    image_meta) -> dict | None:
        """Glance's cinder store: clone the image's volume, if it is ours."""
        if image_meta.get('disk_format') != 'raw' or \
                image_meta.get('container_format') != 'bare':
            return None
        visibility = image_meta.get('visibility')
        if visibility not in ('public', 'community') and \
                image_meta.get('owner') not in (None, volume.project_id):
            LOG.debug('Image %s belongs to another project; not cloning '
                      'its volume', image_meta.get('id'))
            return None
        for src_id in _cinder_volume_ids(image_location):
            src = names.volume_name(src_id, self._sp_config.volume_prefix)
            desc = self._image_volume_desc(volume, baseOn=src)
            try:
                self._api.volume_create(desc)
            except sp_exception.NotFound:
                continue
            LOG.info('Volume %(vol)s: cloned from %(src)s, the Cinder-stored '
                     'image %(image)s', {'vol': volume.id, 'src': src,
                                         'image': image_meta.get('id')})
            return {}
        return None

    def _clone_from_cache(self, volume, image_meta) -> dict | None:
        image_id = image_meta['id']
        snap = image_cache.cache_snapshot_name(
            image_id, image_cache.image_hash(image_meta),
            self._sp_config.volume_prefix)
        try:
            self._api.volume_create(self._image_volume_desc(volume,
                                                            parent=snap))
        except sp_exception.NotFound:
            return None
        except sp_exception.InvalidParam as exc:
            # e.g. a volume smaller than the cached one: copy instead.
            LOG.info('Image cache entry %(snap)s not usable for volume '
                     '%(vol)s: %(err)s', {'snap': snap, 'vol': volume.id,
                                          'err': exc})
            return None
        LOG.info('Volume %(vol)s: created from the cached image %(image)s '
                 '(%(snap)s)', {'vol': volume.id, 'image': image_id,
                                'snap': snap})
        self._image_cache_touch(snap)
        return {}

    def _create_from_image_once(self, context, volume, image_meta,
                                image_service) -> dict:
        """Create the volume, write the image into it, cache it.

        The volume is made at the image's own size first (when Glance
        says what that is), snapshotted for the cache and only then grown
        to the requested size: a cache entry of the smallest size serves
        volumes of every size.
        """
        image_id = image_meta['id']
        image_gb = self._image_check_size(volume, image_meta)
        size_gb = volume.size
        if image_gb and image_gb < volume.size and \
                self._image_cacheable(image_meta):
            size_gb = image_gb
        desc = self._image_volume_desc(volume)
        desc['size'] = size_gb * units.Gi
        if size_gb == volume.size:
            model_update = self.create_volume(volume) or {}
        else:
            self._api.volume_create(desc)
            model_update = {}
        try:
            self._write_image(context, volume, image_meta, image_service,
                              size_gb)
            LOG.info('Volume %(vol)s: image %(image)s written', {
                'vol': volume.id, 'image': image_id})
            self._image_cache_add(volume, image_meta)
            if size_gb != volume.size:
                self.extend_volume(volume, volume.size)
        except Exception:
            with _logged_cleanup('volume %s' % volume.id):
                self._discard_volume(volume)
            raise
        return model_update

    def _image_check_size(self, volume, image_meta) -> int | None:
        """The image's size in whole GiB if Glance knows it; fail if big."""
        virtual = image_meta.get('virtual_size')
        if not virtual and image_meta.get('disk_format') == 'raw':
            virtual = image_meta.get('size')
        if virtual:
            return max(1, image_utils.check_virtual_size(
                virtual, volume.size, image_meta['id']))
        return None

    def _write_image(self, context, volume, image_meta, image_service,
                     size_gb: int):
        properties = self._local_connector_properties()
        attach_info, volume = self._attach_volume(context, volume,
                                                  properties)
        try:
            path = attach_info['device']['path']
            what = 'image %s -> volume %s' % (image_meta['id'], volume.id)
            if image_meta.get('disk_format') == 'raw':
                image_utils.check_image_conversion_disable(
                    'raw', 'raw', image_meta['id'])
                image_io.stream_raw_image(
                    image_service.download(context, image_meta['id']),
                    path, image_id=image_meta['id'],
                    max_bytes=size_gb * units.Gi, sparse=True,
                    what=what, total=image_meta.get('size'))
            else:
                self._convert_image(context, size_gb, image_meta,
                                    image_service, path, what)
        except Exception:
            # The copy's error is the one to report; a failed detach
            # after it is only logged.
            with excutils.save_and_reraise_exception():
                with _logged_cleanup('the attachment of volume %s'
                                     % volume.id):
                    self._detach_volume(context, attach_info, volume,
                                        properties, force=True)
        else:
            self._detach_volume(context, attach_info, volume, properties,
                                force=True)

    def _convert_image(self, context, size_gb: int, image_meta,
                       image_service, path: str, what: str) -> None:
        """Download to a temporary file, check it, qemu-img it to path.

        The checks are Cinder's own (format mismatch, backing files, qcow2
        data files, vmdk subformats, the virtual size); the download skips
        the per-chunk thread hand-off of Cinder's fetch, which halves the
        time of a local copy.
        """
        image_id = image_meta['id']
        disk_format = image_meta['disk_format']
        image_utils.check_image_conversion_disable(disk_format, 'raw',
                                                   image_id)
        fileutils.ensure_tree(CONF.image_conversion_dir)
        image_utils.check_available_space(
            CONF.image_conversion_dir, image_meta.get('size') or 0,
            image_id)
        with image_utils.temporary_file(
                prefix='image_download_%s_' % image_id) as tmp:
            with image_io.Progress(what + ' (download)',
                                   image_meta.get('size'),
                                   lambda: image_io.file_size(tmp)):
                image_io.download(image_service.download(context, image_id),
                                  tmp)
            info = image_utils.qemu_img_info(tmp)
            if info.backing_file is not None:
                raise cinder_exception.ImageUnacceptable(
                    image_id=image_id,
                    reason=_('fmt=%(fmt)s backed by: %(backing)s') % {
                        'fmt': info.file_format,
                        'backing': info.backing_file})
            image_utils.check_virtual_size(info.virtual_size, size_gb,
                                           image_id)
            with image_io.Progress(what, info.virtual_size,
                                   lambda: image_io.sysfs_written(path)):
                image_io.convert_to_device(
                    tmp, path,
                    image_utils.fixup_disk_format(disk_format),
                    image_id, info)

    # The cache entries

    def _image_cache_touch(self, snap: str) -> None:
        """Record a use in the snapshot's tag (rate-limited)."""
        image_cache.touch(self._api, snap, self._image_cache_touched)

    def _image_cache_add(self, volume, image_meta) -> None:
        """Snapshot a volume that holds exactly the image, as its cache."""
        if not self._image_cacheable(image_meta):
            return
        image_id = image_meta['id']
        snap = image_cache.add(
            self._api, self._vol_name(volume), image_id,
            image_cache.image_hash(image_meta), self._sp_config.volume_prefix,
            self._image_cache_touched)
        if snap is not None:
            self._image_cache_trim(image_id, snap)

    def _image_cache_trim(self, image_id: str, keep_name: str) -> None:
        """Drop stale entries of this image and the least recently used."""
        image_cache.trim(self._api, self._sp_config.volume_prefix, image_id,
                         keep_name, self.configuration.safe_get(
                             'storpool_image_cache_max_entries') or 0)


def _cinder_volume_ids(image_location) -> list[str]:
    """Volume ids in a (direct_url, locations) pair's cinder:// URLs."""
    if not image_location:
        return []
    if isinstance(image_location, str):
        direct_url, locations = image_location, []
    else:
        direct_url, locations = image_location
    urls = [direct_url] + [loc.get('url') for loc in locations or []]
    ids = []
    for url in urls:
        if not url:
            continue
        parts = netutils.urlsplit(url)
        if parts.scheme != 'cinder':
            continue
        vol_id = parts.path.split('/')[-1] if parts.path else parts.netloc
        if uuidutils.is_uuid_like(vol_id) and vol_id not in ids:
            ids.append(vol_id)
    return ids


@contextlib.contextmanager
def _logged_cleanup(what: str):
    try:
        yield
    except Exception:
        LOG.exception('Cleaning up %s failed', what)
