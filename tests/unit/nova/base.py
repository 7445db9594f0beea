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

"""Shared helpers for the add-storpool-nova-driver tests."""

import contextlib
import difflib
import io
import os
import pathlib
import sys

import fixtures
from oslotest import base

from storpool_openstack.cmd import add_storpool_nova_driver as cmd
from storpool_openstack.nova import patcher

OURS = patcher.OUR_CLASS
INTREE = patcher.INTREE_CLASS


def installed_driver() -> pathlib.Path:
    """The venv's Nova driver.py; only ever read, never written."""
    return patcher.find_driver_file()


def changed_lines(old: bytes, new: bytes) -> tuple:
    """(removed, added) raw lines between two byte strings, via difflib."""
    removed, added = [], []
    matcher = difflib.SequenceMatcher(
        None, old.splitlines(keepends=True), new.splitlines(keepends=True),
        autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != 'equal':
            removed.extend(matcher.a[i1:i2])
            added.extend(matcher.b[j1:j2])
    return removed, added


def diff_body(diff: str) -> tuple:
    """(removed, added) lines of a unified diff, without the headers."""
    lines = diff.splitlines()
    removed = [ln[1:] for ln in lines
               if ln.startswith('-') and not ln.startswith('---')]
    added = [ln[1:] for ln in lines
             if ln.startswith('+') and not ln.startswith('+++')]
    return removed, added


class TestCase(base.BaseTestCase):
    """A temp dir per test, plus ways to lay out driver files in it."""

    def setUp(self):
        super().setUp()
        self.tmp = pathlib.Path(self.useFixture(fixtures.TempDir()).path)

    def write(self, name: str, data, mode: int = 0o644) -> pathlib.Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode('utf-8')
        path.write_bytes(data)
        path.chmod(mode)
        self.addCleanup(self._make_writable, path)
        return path

    @staticmethod
    def _make_writable(path: pathlib.Path) -> None:
        # TempDir's cleanup must be able to remove what a test locked.
        for item in (path, path.parent):
            if item.exists():
                item.chmod(item.stat().st_mode | 0o700)

    def shadow_nova_tree(self, driver: bytes) -> pathlib.Path:
        """A nova package in self.tmp whose driver.py is a real file.

        See make_shadow_tree() for why this is a sound stand-in.
        """
        return make_shadow_tree(installed_driver(), self.tmp / 'site', driver)

    def assertUnchanged(self, path: pathlib.Path, data: bytes) -> None:
        self.assertEqual(data, path.read_bytes())
        self.assertFalse(patcher.backup_path(path).exists())

    def run_main(self, *argv) -> tuple:
        """main() in-process: (exit code, stdout, stderr)."""
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), \
                contextlib.redirect_stderr(stderr):
            try:
                code = cmd.main([str(arg) for arg in argv])
            except SystemExit as exc:
                code = exc.code
        return code, stdout.getvalue(), stderr.getvalue()


def make_shadow_tree(real_driver: pathlib.Path, root: pathlib.Path,
                     driver: bytes) -> pathlib.Path:
    """Build ROOT/nova so that nova.virt.libvirt.driver is our bytes.

    The three package directories on the way (nova, nova/virt,
    nova/virt/libvirt) are real directories in ROOT; every other entry in
    them is a symlink to the installed Nova's file or subpackage, and
    driver.py is a real file holding the given bytes.  With ROOT first on
    sys.path, "import nova.virt.libvirt.driver" therefore executes exactly
    these bytes, while every other Nova module is the installed one,
    unmodified.  __pycache__ directories are not linked, so stale bytecode
    of the original driver.py cannot be used, and the import check runs
    with PYTHONDONTWRITEBYTECODE so nothing is written through a link into
    the venv.  Nova's dist-info is linked too, for the version lookup.
    """
    real_pkg = real_driver.parents[2]
    real_site = real_pkg.parent
    for dist in real_site.glob('nova-*.dist-info'):
        _link(dist, root / dist.name)
    level_src, level_dst = real_pkg, root / 'nova'
    for keep in ('virt', 'libvirt', 'driver.py'):
        level_dst.mkdir(parents=True)
        for entry in level_src.iterdir():
            if entry.name not in (keep, '__pycache__'):
                _link(entry, level_dst / entry.name)
        if keep == 'driver.py':
            break
        level_src, level_dst = level_src / keep, level_dst / keep
    target = level_dst / 'driver.py'
    target.write_bytes(driver)
    return target


def _link(src: pathlib.Path, dst: pathlib.Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(src, dst, target_is_directory=src.is_dir())


def python_env() -> dict:
    """Environment for running our package in a subprocess."""
    env = dict(os.environ, LANG='C', PYTHONDONTWRITEBYTECODE='1')
    top = str(pathlib.Path(__file__).resolve().parents[3])
    env['PYTHONPATH'] = os.pathsep.join(
        [top] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep)
                 if p])
    return env


PYTHON = sys.executable
