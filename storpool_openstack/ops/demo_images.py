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
"""A Glance stand-in for the demo: image bytes kept in files.

Glance is not part of the demo, so Cinder is handed this image service
instead. It builds on Cinder's shipped fake (metadata) and adds what
Cinder's image-to-volume path needs: real bytes, size and hashes.
"""

import hashlib
import os
import shutil
import uuid

from cinder import exception
from cinder.tests.unit.image import fake as cinder_fake

CHUNK = 1 << 20


class DemoImageService(cinder_fake._FakeImageService):
    """Images whose data are files in `directory`."""

    def __init__(self, directory: str):
        super().__init__()
        # Cinder's fake sets a MagicMock here; Cinder's image code then
        # "finds" a cached download that does not exist.
        self.temp_images = None
        self.directory = directory
        os.makedirs(directory, exist_ok=True)

    def _path(self, image_id: str) -> str:
        return os.path.join(self.directory, image_id)

    def add_file(self, path: str, *, name: str, disk_format: str) -> dict:
        """Register the file at `path` as an active image; its metadata."""
        image_id = str(uuid.uuid4())
        shutil.copyfile(path, self._path(image_id))
        md5 = hashlib.md5(usedforsecurity=False)
        sha = hashlib.sha512()
        with open(path, 'rb') as src:
            for block in iter(lambda: src.read(CHUNK), b''):
                md5.update(block)
                sha.update(block)
        self.images[image_id] = {
            'id': image_id, 'name': name, 'status': 'active',
            'disk_format': disk_format, 'container_format': 'bare',
            'size': os.path.getsize(path), 'checksum': md5.hexdigest(),
            'os_hash_algo': 'sha512', 'os_hash_value': sha.hexdigest(),
            'visibility': 'public', 'protected': False, 'owner': None,
            'min_disk': 0, 'min_ram': 0, 'properties': {},
            'deleted': False, 'created_at': None, 'updated_at': None,
            'deleted_at': None}
        return self.show(None, image_id)

    def download(self, context, image_id, data=None):
        self.show(context, image_id)
        path = self._path(image_id)
        if not os.path.exists(path):
            raise exception.ImageDownloadFailed(image_href=image_id,
                                                reason='no data')

        def blocks():
            with open(path, 'rb') as src:
                yield from iter(lambda: src.read(CHUNK), b'')

        if data is None:
            return blocks()
        for block in blocks():
            data.write(block)
        return None

    def get_location(self, context, image_id):
        self.show(context, image_id)
        return None, []
