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
"""A Glance stand-in that keeps image bytes in files.

Glance cannot run here. Cinder's own `cinder.tests.unit.image.fake` keeps
metadata only (its update() drops the data), so this subclass stores the
bytes in files, computes checksum/os_hash_value like Glance does, and
serves download() in chunks, so every byte goes through the real Cinder and
driver code paths.
"""

import copy
import hashlib
import os
import tempfile
import uuid

from cinder import exception
import cinder.image.glance
from cinder.tests.unit.image import fake as cinder_fake
from oslo_utils.imageutils import format_inspector

CHUNK = 1024 * 1024


class FileImageService(cinder_fake._FakeImageService):
    def __init__(self, directory: str):
        super().__init__()
        self.directory = directory
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


def install(testcase) -> FileImageService:
    """Make Cinder's glance module hand out a FileImageService."""
    directory = tempfile.mkdtemp(prefix='fake-glance-')
    testcase.addCleanup(_rmtree, directory)
    service = FileImageService(directory)
    testcase.mock_object(cinder.image.glance, 'get_remote_image_service',
                         lambda ctx, href: (service, href))
    testcase.mock_object(cinder.image.glance, 'get_default_image_service',
                         lambda: service)
    return service


def _rmtree(path: str) -> None:
    import shutil
    shutil.rmtree(path, ignore_errors=True)
