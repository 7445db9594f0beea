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
"""Cinder's real services in this process, with StorPoolDriver on an emulator.

The functional tests build on `StorPoolServicesBase`:
`cinder.tests.functional`'s `_FunctionalTestBase` (shipped in the cinder
wheel) starts the REST API, the scheduler and the volume service in this
process (in-memory sqlite, the `fake:/` transport); this module points the
volume service at a StorPool emulator, works around what cannot run here,
and stands a file-backed image service in for Glance.  Test code only: the
demo (`storpool_openstack.demo.cloud`) starts the same services from
Cinder's public modules.
"""

import copy
import hashlib
import os
import sys
import time
import uuid

from oslo_config import cfg
from oslo_utils.imageutils import format_inspector

from cinder import exception
from cinder import service
from cinder.tests.functional import functional_helpers
from cinder.tests.unit.image import fake as cinder_fake
from cinder.volume import configuration

from storpool_openstack.cinder import options as sp_options

CONF = cfg.CONF

DRIVER = 'storpool_openstack.cinder.driver.StorPoolDriver'
CHUNK = 1024 * 1024


class FileImageService(cinder_fake._FakeImageService):
    """A Glance stand-in that keeps image bytes in files.

    Cinder's own fake keeps metadata only (its update() drops the data);
    this one stores the bytes, computes checksum/os_hash_value and the
    virtual size as Glance does, and serves download() in chunks, so every
    byte goes through the real Cinder and driver code.
    """

    def __init__(self, directory: str):
        super().__init__()
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.downloads: list[str] = []
        # Cinder's TemporaryImages keeps its registry here (the parent's
        # MagicMock would hand out fake paths).
        self.temp_images = None

    def _path(self, image_id: str) -> str:
        return os.path.join(self.directory, image_id)

    def _store(self, image_id: str, data) -> None:
        md5 = hashlib.md5(usedforsecurity=False)
        sha = hashlib.sha512()
        size = 0
        with open(self._path(image_id), 'wb') as out:
            if isinstance(data, (bytes, bytearray)):
                chunks = [bytes(data)]
            elif hasattr(data, 'read'):
                chunks = iter(lambda: data.read(CHUNK), b'')
            else:
                chunks = data
            for chunk in chunks:
                out.write(chunk)
                md5.update(chunk)
                sha.update(chunk)
                size += len(chunk)
        # Glance records the virtual size it inspects on upload.
        try:
            virtual = format_inspector.detect_file_format(
                self._path(image_id)).virtual_size
        except Exception:
            virtual = None
        self.images[image_id].update({
            'virtual_size': virtual,
            'size': size, 'checksum': md5.hexdigest(),
            'os_hash_algo': 'sha512', 'os_hash_value': sha.hexdigest(),
            'status': 'active'})

    def add_image(self, path: str, *, disk_format: str = 'qcow2',
                  container_format: str = 'bare', image_id=None,
                  **extra) -> dict:
        """Register an image whose bytes are the file at `path`."""
        image_id = image_id or str(uuid.uuid4())
        meta = {'id': image_id, 'name': f'image-{image_id[:8]}',
                'disk_format': disk_format,
                'container_format': container_format,
                'visibility': 'public', 'protected': False,
                'owner': None, 'status': 'queued', 'properties': {},
                'min_disk': 0, 'min_ram': 0, 'deleted': False,
                'created_at': None, 'updated_at': None, 'deleted_at': None}
        meta.update(extra)
        self.images[image_id] = meta
        with open(path, 'rb') as src:
            self._store(image_id, src)
        return self.show(None, image_id)

    def replace_data(self, image_id: str, path: str) -> dict:
        """New bytes under the same id (a changed checksum)."""
        with open(path, 'rb') as src:
            self._store(image_id, src)
        return self.show(None, image_id)

    def create(self, context, metadata, data=None):
        meta = super().create(context, copy.deepcopy(metadata))
        meta.setdefault('status', 'queued')
        if data is not None:
            self._store(meta['id'], data)
        return self.show(context, meta['id'])

    def update(self, context, image_id, metadata, data=None,
               purge_props=False, store_id=None, base_image_ref=None):
        result = super().update(context, image_id, copy.deepcopy(metadata),
                                purge_props=purge_props)
        if data is not None:
            self._store(image_id, data)
        return copy.deepcopy(result)

    def download(self, context, image_id, data=None):
        self.show(context, image_id)
        self.downloads.append(image_id)
        path = self._path(image_id)
        if not os.path.exists(path):
            raise exception.ImageDownloadFailed(image_href=image_id,
                                                reason='no data')

        def chunks():
            with open(path, 'rb') as src:
                yield from iter(lambda: src.read(CHUNK), b'')

        if data is None:
            return chunks()
        for chunk in chunks():
            data.write(chunk)

    def get_location(self, context, image_id):
        image = self.show(context, image_id)
        locations = image.get('locations') or []
        return image.get('direct_url'), locations

    def data(self, image_id: str) -> bytes:
        with open(self._path(image_id), 'rb') as src:
            return src.read()

    def data_path(self, image_id: str) -> str:
        return self._path(image_id)


class StorPoolServicesBase(functional_helpers._FunctionalTestBase):
    """Cinder's services with StorPoolDriver, for the functional tests.

    A subclass starts an `EmulatorFixture` in its `_get_flags()` (before
    the services start, so the driver finds the API up) and passes it to
    `storpool_flags()`.
    """

    _osapi_version = '3.64'

    def _start_api_service(self):
        # Cinder's wheel installs api-paste.ini under sys.prefix, not
        # where the functional base looks for it.
        CONF.api_paste_config = os.path.join(
            sys.prefix, 'etc', 'cinder', 'api-paste.ini')
        self.osapi = service.WSGIService('osapi_volume')
        self.osapi.start()
        self.auth_url = 'http://%s:%s/v%s' % (
            self.osapi.host, self.osapi.port, self.osapi_version_major)

    def storpool_flags(self, flags: dict, emulator, work_dir: str, *,
                       attach_state_file: str, api_retries: int = 0,
                       options: dict | None = None) -> FileImageService:
        """Point the volume service at `emulator`; the image service.

        Call from `_get_flags()` with the flags of the parent's.
        """
        values = {
            'volume_driver': DRIVER,
            'volume_backend_name': 'storpool',
            'storpool_config_file': emulator.conf_path,
            'storpool_dev_root': emulator.dev_dir,
            'storpool_attach_state_file': attach_state_file,
            'storpool_api_retries': api_retries,
            'storpool_api_timeout': 30,
        }
        values.update(options or {})
        # The driver registers its options when it starts; they are set
        # before that, in [backend_defaults].
        sp_options.register(CONF)
        for key, value in values.items():
            flags[key] = {'v': value, 'g': configuration.SHARED_CONF_GROUP}
        # A driver with pools is "first received" by the scheduler only at
        # its second stats report (periodic_interval, 60 s); do not wait.
        flags['scheduler_driver_init_wait_time'] = {'v': 1}
        # Image copies write to the emulator's devices, not to /dev.
        conversion = os.path.join(work_dir, 'conversion')
        os.makedirs(conversion, exist_ok=True)
        flags['image_conversion_dir'] = {'v': conversion}
        # Cinder's privileged helpers (qemu-img info's format check) go
        # through a privsep daemon started with sudo, absent here; as root,
        # run them in this process with the same effect.
        import cinder.privsep
        cinder.privsep.sys_admin_pctxt.set_client_mode(False)
        self.addCleanup(cinder.privsep.sys_admin_pctxt.set_client_mode,
                        True)
        return self.install_image_service(os.path.join(work_dir, 'images'))

    def install_image_service(self, directory: str) -> FileImageService:
        """Make Cinder's glance module hand out a FileImageService.

        Before the services start: cinder.volume.api keeps the image
        service it finds at start-up.
        """
        # Imported here: cinder.image.glance imported before the service
        # modules hits a circular import.
        from cinder.image import glance

        images = FileImageService(directory)
        self.mock_object(glance, 'get_remote_image_service',
                         lambda ctx, href: (images, href))
        self.mock_object(glance, 'get_default_image_service',
                         lambda: images)
        return images

    def use_driver_connector_properties(self) -> None:
        """The driver's own connector properties for Cinder's attaches.

        Cinder's image copies probe every os-brick transport for the
        host's connector properties; the NVMe probe needs a privsep daemon
        started with sudo, which cannot run here. A StorPool attach needs
        only what the driver's own properties carry.
        """
        from cinder.volume import volume_utils

        driver = self.volume.manager.driver
        self.mock_object(volume_utils, 'brick_get_connector_properties',
                         lambda *a, **k: driver._local_connector_properties())

    def publish_capabilities(self, timeout: float = 60.0) -> None:
        """Make the volume service report its pools to the scheduler now."""
        from cinder import context

        self.volume.manager.publish_service_capabilities(
            context.get_admin_context())
        deadline = time.monotonic() + timeout
        while not self.scheduler.manager.driver.is_ready():
            if time.monotonic() > deadline:
                raise AssertionError('the scheduler got no capabilities '
                                     'from the volume service')
            time.sleep(0.05)
