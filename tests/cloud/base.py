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
"""A test class on one cloud of its own (tests/cloud/rig.py)."""

import shutil
import tempfile
import typing

import testtools
import testtools.content

from tests.cloud import rig


class CloudTestCase(testtools.TestCase):
    """Starts one cloud before the class's tests and stops it after them.

    A process, loop device or port the cloud leaves behind fails the
    class. A failing test gets the tail of each log in LOG_NAMES.
    """

    cloud: rig.Cloud
    work: str
    WORK_PREFIX = 'cloud-'
    LOG_NAMES: tuple[str, ...] = ()
    LOG_LINES = 60

    @classmethod
    def make_cloud(cls, work: str) -> rig.Cloud:
        return rig.Cloud(work)

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.work = tempfile.mkdtemp(prefix=cls.WORK_PREFIX)
        cls.cloud = cls.make_cloud(cls.work)
        try:
            cls.cloud.start()
        except BaseException:
            cls.cloud.stop()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        left = cls.cloud.stop()
        if left:
            raise AssertionError('the cloud left behind: %s (logs in %s)'
                                 % (', '.join(left), cls.work))
        shutil.rmtree(cls.work, ignore_errors=True)
        super().tearDownClass()

    def setUp(self) -> None:
        super().setUp()
        self.addOnException(self._attach_logs)

    def _attach_logs(self, exc_info: typing.Any) -> None:
        for name in self.LOG_NAMES:
            self.addDetailUniqueName(
                name, testtools.content.text_content(
                    rig._tail_file(self.cloud.log(name), self.LOG_LINES)))
