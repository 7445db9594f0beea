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
"""The driver's options load without Cinder (tox -e docs has none)."""

import subprocess
import sys

from cinder.volume import configuration
import testtools

from storpool_openstack.cinder import options


class OptionsWithoutCinderTestCase(testtools.TestCase):

    def test_shared_group_is_cinders(self):
        self.assertEqual(configuration.SHARED_CONF_GROUP,
                         options.SHARED_CONF_GROUP)

    def test_options_import_without_cinder(self):
        # A None entry in sys.modules makes "import cinder" fail, as it
        # does where Cinder is not installed.
        code = ('import sys; sys.modules["cinder"] = None; '
                'from storpool_openstack.cinder import options; '
                'print(sorted(o.name for _, opts in options.list_opts() '
                'for o in opts)[0])')
        out = subprocess.run([sys.executable, '-c', code], check=True,
                             capture_output=True, text=True)
        self.assertEqual('storpool_api_host', out.stdout.strip())
