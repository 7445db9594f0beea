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
"""The storpool-openstack console script as a process."""

import os
import subprocess
import sys

import testtools

from storpool_openstack.cmd import storpool_openstack as cli


class ClosedPipeTestCase(testtools.TestCase):

    def test_reader_gone_is_quiet(self):
        # `storpool-openstack samples | head`: the reader has closed its
        # end; no traceback, the exit code a shell tool would give.
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            proc = subprocess.run(
                [sys.executable, '-c',
                 'import sys; from storpool_openstack.cmd import '
                 'storpool_openstack as c; sys.exit(c.main(["samples"]))'],
                stdout=write_end, stderr=subprocess.PIPE, timeout=120)
        finally:
            os.close(write_end)
        self.assertEqual('', proc.stderr.decode())
        self.assertEqual(cli.EXIT_BROKEN_PIPE, proc.returncode)
