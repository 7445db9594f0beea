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
"""The image-copy lock without a shared coordinator: this process only.

The tooz lock between two services is tested on a real etcd in
tests/cloud/active_active.py (tox -e active-active).
"""

import threading
import time

import testtools

from storpool_openstack.cinder import cluster
from storpool_openstack.cinder import driver


class TestImageCopyLock(testtools.TestCase):

    def hold(self, image_id: str, events: list, seconds: float) -> None:
        with cluster.image_copy_lock(image_id, 'abc'):
            events.append(('in', image_id, time.monotonic()))
            time.sleep(seconds)
            events.append(('out', image_id, time.monotonic()))

    def run_two(self, first: str, second: str) -> list:
        events: list = []
        one = threading.Thread(target=self.hold, args=(first, events, 0.3))
        one.start()
        while not events:
            time.sleep(0.01)
        two = threading.Thread(target=self.hold, args=(second, events, 0))
        two.start()
        one.join()
        two.join()
        return [(kind, image) for kind, image, _t in events]

    def test_same_image_waits(self):
        self.assertEqual([('in', 'i1'), ('out', 'i1'), ('in', 'i1'),
                          ('out', 'i1')], self.run_two('i1', 'i1'))

    def test_other_image_does_not_wait(self):
        self.assertEqual([('in', 'i1'), ('in', 'i2'), ('out', 'i2'),
                          ('out', 'i1')], self.run_two('i1', 'i2'))

    def test_driver_supports_active_active(self):
        self.assertTrue(driver.StorPoolDriver.SUPPORTS_ACTIVE_ACTIVE)
