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
"""The console helpers: masking, marks, progress lines, tables."""

import io

import testtools

from storpool_openstack.ops import output


class _AsciiStream(io.StringIO):
    encoding = 'ascii'


class ConsoleTestCase(testtools.TestCase):

    def test_scrub_every_line(self):
        out, err = io.StringIO(), io.StringIO()
        console = output.Console(out, err)
        console.add_secret('1234567890123456789')
        console.add_secret('abc')  # too short to mask usefully: ignored
        console.print('token=1234567890123456789 abc')
        console.error('bad 1234567890123456789')
        self.assertEqual('token=*** abc\n', out.getvalue())
        self.assertEqual('storpool-openstack: error: bad ***\n',
                         err.getvalue())

    def test_marks_fall_back_to_words(self):
        fancy = output.Console(io.StringIO(), io.StringIO())
        plain = output.Console(_AsciiStream(), io.StringIO())
        self.assertEqual(['\u2713', '\u2717', '-'],
                         [fancy.mark(v) for v in (True, False, None)])
        self.assertEqual(['OK', 'FAIL', 'SKIP'],
                         [plain.mark(v) for v in (True, False, None)])

    def test_progress_lines(self):
        out = io.StringIO()
        progress = output.Progress(output.Console(out, io.StringIO()), 250,
                                   'sync', interval=3600, always_every=100)
        for i in range(250):
            progress.step(f'v{i}')
        lines = [line.split(' (')[0] for line in out.getvalue().splitlines()]
        self.assertEqual(['[1/250] sync: v0', '[100/250] sync: v99',
                          '[200/250] sync: v199', '[250/250] sync: v249'],
                         lines)


class TableTestCase(testtools.TestCase):

    def test_table_aligns_and_right_aligns(self):
        self.assertEqual(['A     NUM  Z',
                          'long    1  x',
                          'b     100'],
                         output.table(('A', 'NUM', 'Z'),
                                      [('long', '1', 'x'), ('b', '100', '')],
                                      right=(1,)))
