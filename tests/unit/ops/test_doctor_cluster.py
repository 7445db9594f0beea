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
"""The doctor's active-active check: cluster and coordination backend.

On cinder.conf files written here. That a reachable backend passes and an
unreachable one fails (a tooz connection) is tested on a real etcd in
tests/cloud/active_active.py (tox -e active-active).
"""

import os

import fixtures
import testtools

from storpool_openstack.ops import doctor
from storpool_openstack.ops import doctor_cluster

BASE = """[DEFAULT]
enabled_backends = storpool

[storpool]
volume_driver = storpool_openstack.cinder.driver.StorPoolDriver
"""


class DoctorClusterTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'cinder.conf')

    def check(self, cluster: str | None, url: str | None) -> doctor.Check:
        text = BASE
        if cluster is not None:
            text = text.replace('[DEFAULT]\n',
                                '[DEFAULT]\ncluster = %s\n' % cluster)
        if url is not None:
            text += '\n[coordination]\nbackend_url = %s\n' % url
        with open(self.path, 'w') as fobj:
            fobj.write(text)
        return doctor.Doctor(doctor.DoctorOptions(
            cinder_conf=self.path)).check_coordination()

    def test_no_cluster_is_skipped(self):
        check = self.check(None, None)
        self.assertEqual(('coordination', 'skip'), (check.name, check.status))
        self.assertIn('sets no [DEFAULT] cluster', check.message)

    def test_no_cinder_conf_is_skipped(self):
        check = doctor.Doctor(doctor.DoctorOptions(
            cinder_conf=self.path)).check_coordination()
        self.assertEqual('skip', check.status)

    def test_cluster_without_backend(self):
        check = self.check('c1', None)
        self.assertEqual('fail', check.status)
        self.assertEqual(
            '%s sets [DEFAULT] cluster = c1 but no [coordination] '
            'backend_url: Cinder then locks on this host only (file://), '
            'and the services of the cluster can work on one volume at '
            'the same time' % self.path, check.message)
        self.assertIn('"backend_url = etcd3+http://ETCD-HOST:2379"',
                      check.fix)
        self.assertIn('[coordination] section of ' + self.path, check.fix)

    def test_cluster_with_file_backend(self):
        check = self.check('c1', 'file:///var/lib/cinder')
        self.assertEqual('fail', check.status)
        self.assertIn('backend_url = file:///var/lib/cinder is a lock of '
                      'this host only', check.message)

    def test_registered(self):
        # Doctor.run() lists its checks: this one is among them.
        self.assertIn('check_coordination',
                      doctor.Doctor.run.__code__.co_names)

    def test_url_helpers(self):
        self.assertEqual('redis://***@127.0.0.1:1/',
                         doctor_cluster._redacted(
                             'redis://:s3cret-pw@127.0.0.1:1/'))
        self.assertEqual('etcd3+http://h:1?timeout=5',
                         doctor_cluster._with_timeout('etcd3+http://h:1', 5))
        self.assertEqual('etcd3+http://h:1?a=b&timeout=5',
                         doctor_cluster._with_timeout(
                             'etcd3+http://h:1?a=b', 5))
        self.assertEqual('etcd3+http://h:1?timeout=9',
                         doctor_cluster._with_timeout(
                             'etcd3+http://h:1?timeout=9', 5))
