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
"""The demo's image service: image files in a directory, Glance's answers.

The demo has no Glance, so Cinder gets this object wherever it would make
a `cinder.image.glance.GlanceImageService`.  It keeps the bytes of each
image in a file and answers the calls Cinder makes to create a volume from
an image (`show`, `get_location`, `download`) with the metadata Glance
would give: checksum, os_hash_value, size and the virtual size Glance
records on upload.
"""

import copy
import hashlib
import os
import uuid

from oslo_utils.imageutils import format_inspector

from cinder import exception

CHUNK = 1024 * 1024


class DirectoryImageService:
    """Glance's image calls on a directory of image files."""

    def __init__(self, directory: str):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.images: dict[str, dict] = {}
        # Cinder's TemporaryImages keeps its registry here, as on
        # GlanceImageService.
        self.temp_images = None

    def _path(self, image_id: str) -> str:
        return os.path.join(self.directory, image_id)

    def add_image(self, path: str, *, name: str,
                  disk_format: str = 'qcow2',
                  container_format: str = 'bare') -> dict:
        """Upload the file at `path` as a new public, active image."""
        image_id = str(uuid.uuid4())
        md5 = hashlib.md5(usedforsecurity=False)
        sha = hashlib.sha512()
        size = 0
        with open(path, 'rb') as src, open(self._path(image_id),
                                           'wb') as out:
            for chunk in iter(lambda: src.read(CHUNK), b''):
                out.write(chunk)
                md5.update(chunk)
                sha.update(chunk)
                size += len(chunk)
        inspector = format_inspector.detect_file_format(self._path(image_id))
        self.images[image_id] = {
            'id': image_id, 'name': name, 'status': 'active',
            'disk_format': disk_format,
            'container_format': container_format,
            'visibility': 'public', 'protected': False, 'owner': None,
            'size': size, 'virtual_size': inspector.virtual_size,
            'checksum': md5.hexdigest(), 'os_hash_algo': 'sha512',
            'os_hash_value': sha.hexdigest(), 'min_disk': 0,
            'min_ram': 0, 'properties': {}, 'created_at': None,
            'updated_at': None, 'deleted_at': None, 'deleted': False}
        return self.show(None, image_id)

    # What Cinder calls

    def show(self, context, image_id: str) -> dict:
        try:
            return copy.deepcopy(self.images[image_id])
        except KeyError:
            raise exception.ImageNotFound(image_id=image_id) from None

    def get_location(self, context, image_id: str) -> tuple:
        self.show(context, image_id)
        # Glance gives no location of a file store's image to users.
        return None, []

    def download(self, context, image_id: str, data=None):
        self.show(context, image_id)
        path = self._path(image_id)

        def chunks():
            with open(path, 'rb') as src:
                yield from iter(lambda: src.read(CHUNK), b'')

        if data is None:
            return chunks()
        for chunk in chunks():
            data.write(chunk)
