# Copyright (c) 2026 StorPool
# All Rights Reserved.
#
#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""add-storpool-nova-driver against driver.py of released Nova versions.

The versions come from STORPOOL_TEST_NOVA_RELEASES (space separated, e.g.
"22.4.0 27.5.1 31.0.0"; tox -e nova-releases sets it).  Each release's
wheel is fetched with pip at test time and only nova/virt/libvirt/driver.py
is read from it: no Nova source is kept in this repository.

Old releases do not import with the dependencies installed here, so these
tests check that the patched file compiles, not that it imports; the
import check is covered against the installed Nova in test_patcher.  The
copies sit outside a nova/ tree, which makes the tool skip that check.
"""

import os
import subprocess
import sys
import tempfile
import zipfile

import ddt
import testtools

from storpool_openstack.nova import patcher
from tests.unit.nova import base

ENV = 'STORPOOL_TEST_NOVA_RELEASES'
RELEASES = os.environ.get(ENV, '').split()
SKIP_REASON = ('%s is not set; set it to Nova versions to test, e.g. '
               '%s="22.4.0 27.5.1 31.0.0" (or run tox -e nova-releases)'
               % (ENV, ENV))
# Without releases each case still exists once, under this name, and
# skips with SKIP_REASON: an empty matrix shows as skips, never as no
# tests at all.
NO_RELEASE = 'no-release-set'
CASES = RELEASES or [NO_RELEASE]
# tox -e nova-releases sets this too: there an empty list is a failure.
REQUIRED_ENV = 'STORPOOL_TEST_NOVA_RELEASES_REQUIRED'
DRIVER_IN_WHEEL = 'nova/virt/libvirt/driver.py'

_downloaded = {}


def release_driver(version: str) -> bytes:
    """driver.py of a Nova release, downloaded once per test run."""
    if version not in _downloaded:
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run(
                [sys.executable, '-m', 'pip', 'download', '--quiet',
                 '--no-deps', '--only-binary=:all:',
                 '--disable-pip-version-check', '--dest', tmp,
                 'nova==%s' % version],
                capture_output=True, text=True, timeout=600, check=False)
            if proc.returncode != 0:
                raise AssertionError('pip download nova==%s failed:\n%s'
                                     % (version, proc.stderr))
            (wheel,) = [name for name in os.listdir(tmp)
                        if name.endswith('.whl')]
            with zipfile.ZipFile(os.path.join(tmp, wheel)) as archive:
                _downloaded[version] = archive.read(DRIVER_IN_WHEEL)
    return _downloaded[version]


def expected_kind(version: str) -> str:
    """Nova 23 (Wallaby) replaced the list with the VOLUME_DRIVERS dict."""
    return 'dict' if int(version.split('.')[0]) >= 23 else 'list'


def storpool_line(kind: str, target: str) -> bytes:
    if kind == 'dict':
        return ("    'storpool': '%s',  # noqa:E501\n" % target).encode()
    return ("    'storpool=%s',\n" % target).encode()


@testtools.skipUnless(RELEASES, SKIP_REASON)
@ddt.ddt
class NovaReleaseTestCase(base.TestCase):
    """The same cases as for the installed Nova, per released driver.py."""

    def copy(self, version, data=None, name='driver.py'):
        original = release_driver(version) if data is None else data
        return self.write('%s/%s' % (version, name), original), original

    @ddt.data(*CASES)
    def test_format_detected(self, version):
        path, original = self.copy(version)
        layout = patcher.analyse(patcher.read_source(path))
        self.assertEqual(expected_kind(version), layout.kind)
        self.assertEqual(patcher.INTREE_CLASS, layout.current)

    @ddt.data(*CASES)
    def test_patch_changes_one_line_and_compiles(self, version):
        path, original = self.copy(version)
        result = patcher.patch_file(path)
        self.assertIn('import check skipped', result.notes[0])
        kind = expected_kind(version)
        self.assertEqual(
            ([storpool_line(kind, base.INTREE)],
             [storpool_line(kind, base.OURS)]),
            base.changed_lines(original, path.read_bytes()))
        compile(path.read_bytes(), str(path), 'exec')
        self.assertEqual(original,
                         patcher.backup_path(path).read_bytes())

    @ddt.data(*CASES)
    def test_idempotent(self, version):
        path, original = self.copy(version)
        patcher.patch_file(path)
        patched = path.read_bytes()
        result = patcher.patch_file(path)
        self.assertFalse(result.changed)
        self.assertEqual(patched, path.read_bytes())
        self.assertEqual(original,
                         patcher.backup_path(path).read_bytes())

    @ddt.data(*CASES)
    def test_dry_run(self, version):
        path, original = self.copy(version)
        result = patcher.patch_file(path, dry_run=True)
        self.assertUnchanged(path, original)
        kind = expected_kind(version)
        self.assertEqual(
            ([storpool_line(kind, base.INTREE).decode().rstrip('\n')],
             [storpool_line(kind, base.OURS).decode().rstrip('\n')]),
            base.diff_body(result.diff))

    @ddt.data(*CASES)
    def test_check_codes_and_revert(self, version):
        path, original = self.copy(version)
        self.assertEqual(1, self.run_main('--check', '--file', path)[0])
        code, out, err = self.run_main('--file', path)
        self.assertEqual(0, code, err)
        self.assertEqual(0, self.run_main('--check', '--file', path)[0])
        code, out, err = self.run_main('--revert', '--file', path)
        self.assertEqual(0, code, err)
        self.assertUnchanged(path, original)
        self.assertEqual(1, self.run_main('--check', '--file', path)[0])

    @ddt.data(*CASES)
    def test_crlf(self, version):
        crlf = release_driver(version).replace(b'\n', b'\r\n')
        path, original = self.copy(version, crlf)
        patcher.patch_file(path)
        kind = expected_kind(version)
        self.assertEqual(
            ([storpool_line(kind, base.INTREE).replace(b'\n', b'\r\n')],
             [storpool_line(kind, base.OURS).replace(b'\n', b'\r\n')]),
            base.changed_lines(crlf, path.read_bytes()))
        patcher.revert_file(path)
        self.assertEqual(crlf, path.read_bytes())

    @ddt.data(*CASES)
    def test_added_when_absent(self, version):
        kind = expected_kind(version)
        absent = release_driver(version).replace(
            storpool_line(kind, base.INTREE), b'')
        path, original = self.copy(version, absent)
        patcher.patch_file(path)
        new = path.read_bytes()
        compile(new, str(path), 'exec')
        removed, added = base.changed_lines(absent, new)
        self.assertEqual([], removed)
        self.assertEqual([storpool_line(kind, base.OURS).replace(
            b',  # noqa:E501', b',')], added)
        layout = patcher.analyse(patcher.read_source(path))
        self.assertEqual(base.OURS, layout.current)

    @ddt.data(*CASES)
    def test_legacy_files(self, version):
        path, original = self.copy(version)
        out_dir = self.tmp / 'out'
        code, out, err = self.run_main('--legacy-files', path.parent,
                                       out_dir)
        self.assertEqual(0, code, err)
        self.assertEqual(original, path.read_bytes())
        kind = expected_kind(version)
        self.assertEqual(
            ([storpool_line(kind, base.INTREE)],
             [storpool_line(kind, base.OURS)]),
            base.changed_lines(original, (out_dir / 'driver.py').read_bytes()))


class ReleaseListTestCase(testtools.TestCase):

    def test_releases_given_where_required(self):
        if not os.environ.get(REQUIRED_ENV):
            self.skipTest(f'{REQUIRED_ENV} is not set (tox -e nova-releases '
                          f'sets it): an empty {ENV} only skips here')
        self.assertNotEqual([], RELEASES,
                            f'{REQUIRED_ENV} is set but {SKIP_REASON}')

    @testtools.skipUnless(RELEASES, SKIP_REASON)
    def test_both_formats_covered(self):
        """The env should name a list-format and a dict-format release."""
        self.assertEqual({'list', 'dict'},
                         {expected_kind(v) for v in RELEASES})
