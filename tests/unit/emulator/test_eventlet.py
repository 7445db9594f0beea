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
"""The in-process emulator in a process that eventlet patches later.

stestr imports every test module in every worker, and Cinder's and Nova's
test packages monkey-patch the worker when they are imported: by then the
emulator's modules (and socketserver) are already loaded.
"""

import subprocess
import sys
import textwrap

import testtools

SCRIPT = textwrap.dedent("""
    from storpool_openstack.emulator import fixture
    import eventlet
    eventlet.monkey_patch()
    import fixtures
    from storpool_openstack.common import api, config
    with fixtures.Fixture() as holder:
        emu = holder.useFixture(fixture.EmulatorFixture(
            in_process=True, device_mode='file'))
        client = api.StorPoolAPI(config.load(override_config=emu.config),
                                 retries=0, timeout=5)
        client.volume_create({'name': 'v1', 'size': 1 << 30})
        print(len(client.volumes_list()), len(emu.control.calls()))
""")


class LatePatchTestCase(testtools.TestCase):

    def test_in_process_server_serves_after_late_monkey_patch(self):
        try:
            res = subprocess.run([sys.executable, '-c', SCRIPT],
                                 capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            self.fail('the in-process emulator hung under eventlet')
        self.assertEqual(0, res.returncode, res.stderr)
        self.assertEqual('1 2', res.stdout.strip())
