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

"""add-storpool-nova-driver against the installed Nova and small files."""

import importlib.metadata
import os
import subprocess

import ddt
import fixtures

from storpool_openstack.nova import patcher
from tests.unit.nova import base

INTREE_LINE = ("    'storpool': 'nova.virt.libvirt.volume.storpool."
               "LibvirtStorPoolVolumeDriver',  # noqa:E501\n").encode()
OURS_LINE = ("    'storpool': 'storpool_openstack.nova.volume."
             "LibvirtStorPoolVolumeDriver',  # noqa:E501\n").encode()
FAKE_DRIVER = 'nova.virt.libvirt.volume.volume.LibvirtFakeVolumeDriver'


class InstalledNovaTestCase(base.TestCase):
    """The real driver.py of the venv's Nova, on a copy in a temp dir."""

    def setUp(self):
        super().setUp()
        self.original = base.installed_driver().read_bytes()
        self.path = self.write('driver.py', self.original)

    def patch(self, path=None, **kwargs):
        kwargs.setdefault('import_check', False)
        return patcher.patch_file(path or self.path, **kwargs)

    def test_only_the_storpool_line_changes(self):
        result = self.patch()
        self.assertTrue(result.changed)
        removed, added = base.changed_lines(self.original,
                                            self.path.read_bytes())
        self.assertEqual([INTREE_LINE], removed)
        self.assertEqual([OURS_LINE], added)

    def test_backup_is_the_original(self):
        self.patch()
        backup = patcher.backup_path(self.path)
        self.assertEqual('driver.py.storpool-orig', backup.name)
        self.assertEqual(self.original, backup.read_bytes())

    def test_second_run_changes_nothing(self):
        self.patch()
        patched = self.path.read_bytes()
        backup = patcher.backup_path(self.path)
        backup_inode = backup.stat().st_ino
        result = self.patch()
        self.assertFalse(result.changed)
        self.assertIn('nothing changed', result.message)
        self.assertEqual(patched, self.path.read_bytes())
        self.assertEqual(backup_inode, backup.stat().st_ino)
        self.assertEqual(self.original, backup.read_bytes())

    def test_existing_backup_not_rewritten(self):
        # As left by a run that stopped between backup and rename.
        backup = self.write('driver.py.storpool-orig', self.original)
        inode = backup.stat().st_ino
        self.assertTrue(self.patch().changed)
        self.assertEqual(inode, backup.stat().st_ino)
        self.assertEqual(self.original, backup.read_bytes())

    def test_dry_run_shows_one_line_and_writes_nothing(self):
        result = self.patch(dry_run=True)
        self.assertFalse(result.changed)
        self.assertIn('dry run', result.message)
        self.assertUnchanged(self.path, self.original)
        removed, added = base.diff_body(result.diff)
        self.assertEqual([INTREE_LINE.decode().rstrip('\n')], removed)
        self.assertEqual([OURS_LINE.decode().rstrip('\n')], added)

    def test_check_codes(self):
        self.assertEqual(1, patcher.check_file(self.path)[0])
        self.patch()
        code, message = patcher.check_file(self.path)
        self.assertEqual(0, code)
        self.assertIn('VOLUME_DRIVERS {...} dict', message)
        unrelated = self.write('other.py', 'import os\n')
        self.assertEqual(2, patcher.check_file(unrelated)[0])

    def test_revert_is_byte_identical(self):
        self.patch()
        result = patcher.revert_file(self.path)
        self.assertTrue(result.changed)
        self.assertUnchanged(self.path, self.original)
        self.assertEqual(1, patcher.check_file(self.path)[0])

    def test_revert_dry_run_writes_nothing(self):
        self.patch()
        patched = self.path.read_bytes()
        result = patcher.revert_file(self.path, dry_run=True)
        self.assertEqual(patched, self.path.read_bytes())
        self.assertTrue(patcher.backup_path(self.path).exists())
        self.assertEqual(([OURS_LINE.decode().rstrip('\n')],
                          [INTREE_LINE.decode().rstrip('\n')]),
                         base.diff_body(result.diff))

    def test_owner_group_and_mode_kept(self):
        os.chown(self.path, 1234, 5678)
        self.path.chmod(0o640)
        self.patch()
        for path in (self.path, patcher.backup_path(self.path)):
            st = path.stat()
            self.assertEqual((1234, 5678, 0o640),
                             (st.st_uid, st.st_gid, st.st_mode & 0o7777))
        patcher.revert_file(self.path)
        st = self.path.stat()
        self.assertEqual((1234, 5678, 0o640),
                         (st.st_uid, st.st_gid, st.st_mode & 0o7777))

    def test_no_temp_files_left(self):
        self.patch()
        patcher.revert_file(self.path)
        self.assertEqual(['driver.py'], os.listdir(self.tmp))

    def test_symlink_patched_at_its_target(self):
        link = self.tmp / 'link.py'
        link.symlink_to(self.path)
        self.patch(link)
        self.assertTrue(link.is_symlink())
        self.assertTrue(patcher.backup_path(self.path).exists())
        self.assertEqual(0, patcher.check_file(self.path)[0])
        patcher.revert_file(link)
        self.assertTrue(link.is_symlink())
        self.assertUnchanged(self.path, self.original)

    def test_crlf_preserved(self):
        crlf = self.original.replace(b'\n', b'\r\n')
        path = self.write('crlf/driver.py', crlf)
        self.patch(path)
        data = path.read_bytes()
        self.assertEqual(data.count(b'\n'), data.count(b'\r\n'))
        removed, added = base.changed_lines(crlf, data)
        self.assertEqual([INTREE_LINE.replace(b'\n', b'\r\n')], removed)
        self.assertEqual([OURS_LINE.replace(b'\n', b'\r\n')], added)
        patcher.revert_file(path)
        self.assertEqual(crlf, path.read_bytes())

    def test_added_when_absent(self):
        absent = self.original.replace(INTREE_LINE, b'')
        path = self.write('absent/driver.py', absent)
        self.patch(path)
        removed, added = base.changed_lines(absent, path.read_bytes())
        self.assertEqual([], removed)
        self.assertEqual(
            [b"    'storpool': 'storpool_openstack.nova.volume."
             b"LibvirtStorPoolVolumeDriver',\n"], added)
        lines = path.read_bytes().splitlines()
        closing = lines.index(b'}', lines.index(b'VOLUME_DRIVERS = {'))
        self.assertIn(b"'storpool'", lines[closing - 1])


class ImportCheckTestCase(base.TestCase):
    """The import check runs the patched file as nova.virt.libvirt.driver.

    Each test builds a shadow nova package (base.make_shadow_tree): its
    nova/, nova/virt/ and nova/virt/libvirt/ are real directories whose
    entries are symlinks to the installed Nova, except driver.py, which is
    a real file holding the bytes under test.  The check puts the tree's
    root first on sys.path in a fresh interpreter, imports the module,
    confirms that module.__file__ is this very file, reads the storpool
    entry and loads the class with importutils.import_class.  So the real
    patched driver.py is what gets imported, and the installed Nova is
    never touched.
    """

    def setUp(self):
        super().setUp()
        self.original = base.installed_driver().read_bytes()
        self.path = self.shadow_nova_tree(self.original)

    def test_our_driver_resolves(self):
        # Needs storpool_openstack/nova/volume.py, the Nova driver itself.
        result = patcher.patch_file(self.path)
        self.assertIn("import check: nova.virt.libvirt.driver resolves "
                      "'storpool' to %s" % base.OURS, result.details)
        self.assertEqual(0, patcher.check_file(self.path)[0])

    def test_imports_the_patched_file_itself(self):
        layout, text = patcher.patched_text(patcher.read_source(self.path),
                                            FAKE_DRIVER)
        self.path.write_text(text)
        report = patcher.check_import(self.path, layout, FAKE_DRIVER)
        self.assertEqual(os.path.realpath(self.path), report['file'])
        self.assertEqual(FAKE_DRIVER, report['path'])
        self.assertEqual(FAKE_DRIVER, report['class'])

    def test_shadowing_nova_detected(self):
        # A sitecustomize that imports nova first (like a .pth would) makes
        # the installed package win over the tree the file is in.
        hook = self.tmp / 'hook'
        hook.mkdir()
        (hook / 'sitecustomize.py').write_text('import nova\n')
        self.useFixture(fixtures.EnvironmentVariable('PYTHONPATH',
                                                     str(hook)))
        layout = patcher.analyse(patcher.read_source(self.path))
        exc = self.assertRaises(patcher.VerifyError, patcher.check_import,
                                self.path, layout, patcher.INTREE_CLASS)
        self.assertIn('import check loaded %s instead'
                      % base.installed_driver().resolve(), str(exc))

    def test_configured_target_resolves(self):
        result = patcher.patch_file(self.path, target=FAKE_DRIVER)
        self.assertIn("import check: nova.virt.libvirt.driver resolves "
                      "'storpool' to %s" % FAKE_DRIVER, result.details)

    def test_failed_import_restores_original(self):
        bad = 'storpool_openstack.nova.no_such_module.Driver'
        exc = self.assertRaises(patcher.VerifyError, patcher.patch_file,
                                self.path, target=bad)
        self.assertIn("No module named 'storpool_openstack.nova."
                      "no_such_module'", str(exc))
        self.assertIn('original file was restored', str(exc))
        self.assertIn('Traceback', exc.detail)
        self.assertUnchanged(self.path, self.original)

    def test_import_check_without_a_report_restores_original(self):
        # A --python that exits 0 but is not a Python with Nova.
        exc = self.assertRaises(patcher.VerifyError, patcher.patch_file,
                                self.path, python='/bin/true')
        self.assertIn('printed no report', str(exc))
        self.assertIn('original file was restored', str(exc))
        self.assertUnchanged(self.path, self.original)

    def test_failed_import_via_cli_exit_code(self):
        # Compiles and parses fine, but cannot be imported.
        bad = self.original + b"\nraise RuntimeError('boom at import')\n"
        self.path.write_bytes(bad)
        code, out, err = self.run_main('--file', self.path)
        self.assertEqual(4, code, err)
        self.assertIn('import check failed: RuntimeError: boom at import; '
                      'the original file was restored', err)
        self.assertNotIn('Traceback', err)
        self.assertUnchanged(self.path, bad)

    def test_nova_version_reported(self):
        version = importlib.metadata.version('nova')
        self.assertEqual(version, patcher.nova_version(self.path))
        result = patcher.patch_file(self.path, dry_run=True)
        self.assertIn('Nova %s' % version, result.message)


class FindDriverTestCase(base.TestCase):

    def test_installed(self):
        path = patcher.find_driver_file()
        self.assertEqual(('nova', 'virt', 'libvirt', 'driver.py'),
                         path.parts[-4:])
        self.assertTrue(path.is_file())

    def test_nova_dir_forms(self):
        driver = self.shadow_nova_tree(b'VOLUME_DRIVERS = {}\n')
        site = driver.parents[3]
        self.assertEqual(driver, patcher.find_driver_file(site))
        self.assertEqual(driver, patcher.find_driver_file(site / 'nova'))

    def test_nova_dir_without_nova(self):
        exc = self.assertRaises(patcher.FileProblem,
                                patcher.find_driver_file, self.tmp)
        self.assertIn(str(self.tmp), str(exc))
        self.assertIn('contains the nova package', str(exc))


@ddt.ddt
class SyntheticTestCase(base.TestCase):
    """Small files for the layouts and styles the real one lacks."""

    def patch(self, text, **kwargs):
        path = self.write('driver.py', text)
        patcher.patch_file(path, import_check=False, **kwargs)
        return path.read_bytes().decode('utf-8')

    @ddt.named_data(
        # list format, replaced in place
        ('list_replace', "libvirt_volume_drivers = [\n"
         "    'iscsi=a.B',\n"
         "    'storpool=%s',\n"
         "    'nvmeof=c.D',\n"
         "]\n" % base.INTREE,
         "libvirt_volume_drivers = [\n"
         "    'iscsi=a.B',\n"
         "    'storpool=%s',\n"
         "    'nvmeof=c.D',\n"
         "]\n" % base.OURS),
        # list format, added last with the trailing comma
        ('list_add', "libvirt_volume_drivers = [\n"
         "    'iscsi=a.B',\n"
         "    'vzstorage='\n"
         "        'c.D',\n"
         "]\n",
         "libvirt_volume_drivers = [\n"
         "    'iscsi=a.B',\n"
         "    'vzstorage='\n"
         "        'c.D',\n"
         "    'storpool=%s',\n"
         "]\n" % base.OURS),
        # dict, double quotes, no trailing comma, comment kept in place
        ('dict_dquote_no_trailing_comma', 'VOLUME_DRIVERS = {\n'
         '    "iscsi": "a.B",\n'
         '    "nvmeof": "c.D"  # last one\n'
         '}\n',
         'VOLUME_DRIVERS = {\n'
         '    "iscsi": "a.B",\n'
         '    "nvmeof": "c.D",  # last one\n'
         '    "storpool": "%s"\n'
         '}\n' % base.OURS),
        # dict, double quotes, replaced in place
        ('dict_dquote_replace', 'VOLUME_DRIVERS = {\n'
         '    "storpool": "%s",  # noqa\n'
         '    "nvmeof": "c.D",\n'
         '}\n' % base.INTREE,
         'VOLUME_DRIVERS = {\n'
         '    "storpool": "%s",  # noqa\n'
         '    "nvmeof": "c.D",\n'
         '}\n' % base.OURS),
        # dict, tab indentation, CRLF
        ('dict_tabs_crlf', "VOLUME_DRIVERS = {\r\n\t'a': 'b',\r\n}\r\n",
         "VOLUME_DRIVERS = {\r\n\t'a': 'b',\r\n\t'storpool': '%s',\r\n}\r\n"
         % base.OURS),
        # one-line dict
        ('dict_one_line', "VOLUME_DRIVERS = {'a': 'b'}\n",
         "VOLUME_DRIVERS = {'a': 'b', 'storpool': '%s'}\n" % base.OURS),
        # empty dict
        ('dict_empty', "VOLUME_DRIVERS = {}\n",
         "VOLUME_DRIVERS = {'storpool': '%s'}\n" % base.OURS),
        # non-ASCII before the entry: character vs UTF-8 byte offsets
        ('dict_non_ascii',
         "# \u00e9\u00e9\u00e9\nVOLUME_DRIVERS = {'\u00e9': 'x', "
         "'storpool': '%s'}\n" % base.INTREE,
         "# \u00e9\u00e9\u00e9\nVOLUME_DRIVERS = {'\u00e9': 'x', "
         "'storpool': '%s'}\n" % base.OURS),
    )
    def test_layouts(self, before, after):
        self.assertEqual(after, self.patch(before))

    def test_list_check_and_revert(self):
        text = ("libvirt_volume_drivers = [\n    'storpool=%s',\n]\n"
                % base.INTREE)
        path = self.write('driver.py', text)
        self.assertEqual(1, patcher.check_file(path)[0])
        patcher.patch_file(path, import_check=False)
        code, message = patcher.check_file(path)
        self.assertEqual(0, code)
        self.assertIn('libvirt_volume_drivers [...] list', message)
        patcher.revert_file(path)
        self.assertUnchanged(path, text.encode())

    def test_foreign_entry_accepted_with_force(self):
        text = "VOLUME_DRIVERS = {'storpool': 'acme.Driver'}\n"
        path = self.write('driver.py', text)
        self.assertEqual(1, patcher.check_file(path, force=True)[0])
        patcher.patch_file(path, import_check=False, force=True)
        self.assertEqual("VOLUME_DRIVERS = {'storpool': '%s'}\n" % base.OURS,
                         path.read_text())

    def test_stale_backup_refused(self):
        path = self.write('driver.py', "VOLUME_DRIVERS = {}\n")
        backup = self.write('driver.py.storpool-orig', 'old nova\n')
        exc = self.assertRaises(patcher.FileProblem, patcher.patch_file,
                                path, import_check=False)
        self.assertIn('differs from this unpatched file', str(exc))
        self.assertEqual(b'VOLUME_DRIVERS = {}\n', path.read_bytes())
        self.assertEqual(b'old nova\n', backup.read_bytes())
        patcher.patch_file(path, import_check=False, force=True)
        self.assertEqual(b'VOLUME_DRIVERS = {}\n', backup.read_bytes())

    def test_revert_refused_when_file_changed_since(self):
        path = self.write('driver.py', "VOLUME_DRIVERS = {}\n")
        patcher.patch_file(path, import_check=False)
        edited = path.read_bytes() + b'# local edit\n'
        path.write_bytes(edited)
        exc = self.assertRaises(patcher.FileProblem, patcher.revert_file,
                                path)
        self.assertIn('not our patch of driver.py.storpool-orig', str(exc))
        self.assertEqual(edited, path.read_bytes())
        patcher.revert_file(path, force=True)
        self.assertEqual(b'VOLUME_DRIVERS = {}\n', path.read_bytes())

    def test_revert_without_backup(self):
        path = self.write('driver.py', "VOLUME_DRIVERS = {}\n")
        result = patcher.revert_file(path)
        self.assertFalse(result.changed)
        self.assertIn('nothing to revert', result.message)
        path.write_text("VOLUME_DRIVERS = {'storpool': '%s'}\n" % base.OURS)
        exc = self.assertRaises(patcher.FileProblem, patcher.revert_file,
                                path)
        self.assertIn('backup driver.py.storpool-orig is missing', str(exc))

    def test_outside_nova_tree_skips_import_check(self):
        path = self.write('driver.py', "VOLUME_DRIVERS = {}\n")
        result = patcher.patch_file(path)
        self.assertTrue(result.changed)
        self.assertIn('import check skipped', result.notes[0])


@ddt.ddt
class BadInputTestCase(base.TestCase):
    """Each bad input: exit code, a one-line message, file untouched."""

    @ddt.named_data(
        ('unrelated', 'import os\n\n\ndef f():\n    return 1\n', 2,
         'looked for a module-level VOLUME_DRIVERS = {...} dict or '
         'libvirt_volume_drivers = [...] list, found neither'),
        ('two', "VOLUME_DRIVERS = {}\nlibvirt_volume_drivers = []\n", 2,
         'found 2 candidates (VOLUME_DRIVERS = Dict at line 1, '
         'libvirt_volume_drivers = List at line 2)'),
        ('twice', "VOLUME_DRIVERS = {}\nVOLUME_DRIVERS = {}\n", 2,
         'found 2 candidates'),
        ('call', "VOLUME_DRIVERS = dict(a='b')\n", 2,
         'found VOLUME_DRIVERS = Call at line 1'),
        ('foreign', "VOLUME_DRIVERS = {'storpool': 'acme.Driver'}\n", 2,
         "found acme.Driver; refusing to replace it without --force"),
        ('duplicate', "VOLUME_DRIVERS = {'storpool': 'a.B',\n"
         "                  'storpool': 'c.D'}\n", 2,
         "looked for one 'storpool' entry in VOLUME_DRIVERS, found 2"),
        ('syntax', "VOLUME_DRIVERS = {'a': 'b'\n", 3, 'not valid Python'),
        ('readonly', "VOLUME_DRIVERS = {}\n", 3,
         'file is read-only (mode 0444); make it writable with "chmod u+w',
         0o444),
    )
    def test_refused(self, text, code, message, mode=0o644):
        path = self.write('driver.py', text, mode)
        status, out, err = self.run_main('--file', path, '--skip-import-check')
        self.assertEqual(code, status, err)
        self.assertEqual('', out)
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn(str(path), err)
        self.assertIn(message, err)
        self.assertUnchanged(path, text.encode())

    def test_missing_file(self):
        path = self.tmp / 'nova' / 'driver.py'
        code, out, err = self.run_main('--file', path)
        self.assertEqual(3, code)
        self.assertEqual('add-storpool-nova-driver: error: %s: no such file; '
                         'check the path or pass --nova-dir/--file\n' % path,
                         err)
        self.assertFalse(path.exists())

    def test_directory_instead_of_file(self):
        code, out, err = self.run_main('--file', self.tmp)
        self.assertEqual(3, code)
        self.assertIn('is a directory', err)

    def test_check_unknown_layout(self):
        path = self.write('driver.py', 'x = 1\n')
        code, out, err = self.run_main('--check', '--file', path)
        self.assertEqual(2, code)
        self.assertIn('found neither', err)


class CommandLineTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.text = ("VOLUME_DRIVERS = {\n    'storpool': '%s',  # noqa\n}\n"
                     % base.INTREE)
        self.path = self.write('driver.py', self.text)

    def main(self, *argv):
        return self.run_main('--file', self.path, *argv)

    def test_patch_idempotent_and_revert(self):
        code, out, err = self.main()
        self.assertEqual((0, ''), (code, err))
        lines = out.splitlines()
        self.assertEqual(3, len(lines), out)
        self.assertIn("replaced 'storpool' -> %s" % base.OURS, lines[0])
        self.assertIn('import check skipped', lines[1])
        self.assertIn('Restart the nova-compute service', lines[2])
        code, out, err = self.main()
        self.assertEqual(0, code)
        self.assertIn('nothing changed', out)
        self.assertNotIn('Restart', out)
        code, out, err = self.main('--revert')
        self.assertEqual(0, code)
        self.assertIn('restored from driver.py.storpool-orig', out)
        self.assertUnchanged(self.path, self.text.encode())

    def test_check_exit_codes(self):
        self.assertEqual(1, self.main('--check')[0])
        self.main('-q')
        code, out, err = self.main('--check')
        self.assertEqual(0, code)
        self.assertIn('patched', out)

    def test_dry_run(self):
        code, out, err = self.main('--dry-run')
        self.assertEqual(0, code)
        self.assertIn("-    'storpool': '%s',  # noqa" % base.INTREE, out)
        self.assertIn("+    'storpool': '%s',  # noqa" % base.OURS, out)
        self.assertUnchanged(self.path, self.text.encode())

    def test_quiet_and_verbose(self):
        code, out, err = self.main('--quiet', '--skip-import-check')
        self.assertEqual((0, '', ''), (code, out, err))
        self.main('--revert', '-q')
        code, out, err = self.main('--verbose', '--skip-import-check')
        self.assertIn('+++ %s (patched)' % self.path, out)
        self.assertIn('backup %s.storpool-orig created' % self.path, out)

    def test_help_documents_exit_codes(self):
        code, out, err = self.run_main('--help')
        self.assertEqual(0, code)
        for text in ('--check', '--revert', '--dry-run', '--legacy-files',
                     'exit codes:', '0   done', '1   (--check) the file is '
                     'not patched', '2   the file\'s layout', '3   file '
                     'problem', '4   the patched file', '64  bad command'):
            self.assertIn(text, out)

    def test_usage_errors(self):
        for argv in (['--check', '--revert'], ['--check', '--dry-run'],
                     ['--legacy-files', 'a', 'b', '--revert'],
                     ['--file', 'a', '--nova-dir', 'b'], ['--bogus']):
            code, out, err = self.run_main(*argv)
            self.assertEqual(64, code, argv)
            self.assertIn('error:', err)

    def test_console_entry_in_subprocess(self):
        argv = [base.PYTHON, '-m',
                'storpool_openstack.cmd.add_storpool_nova_driver',
                '--file', str(self.path)]
        proc = subprocess.run(argv + ['--check'], capture_output=True,
                              text=True, env=base.python_env(), check=False)
        self.assertEqual(1, proc.returncode, proc.stderr)
        self.assertIn('not patched', proc.stdout)
        proc = subprocess.run(argv, capture_output=True, text=True,
                              env=base.python_env(), check=False)
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertIn('Restart the nova-compute service', proc.stdout)
        proc = subprocess.run(argv + ['--check'], capture_output=True,
                              text=True, env=base.python_env(), check=False)
        self.assertEqual(0, proc.returncode, proc.stderr)

    def test_tools_wrapper(self):
        wrapper = base.pathlib.Path(__file__).resolve().parents[3] / \
            'tools' / 'add-storpool-nova-driver'
        self.assertTrue(os.access(wrapper, os.X_OK))
        proc = subprocess.run(
            [base.PYTHON, str(wrapper), '--file', str(self.path), '--check'],
            capture_output=True, text=True, env=base.python_env(),
            check=False)
        self.assertEqual(1, proc.returncode, proc.stderr)
        self.assertIn('not patched', proc.stdout)


class LegacyFilesTestCase(base.TestCase):

    def test_copy_workflow(self):
        original = base.installed_driver().read_bytes()
        orig = self.write('orig/driver.py', original, 0o644)
        stat_before = orig.stat()
        out_dir = self.tmp / 'storpool'
        code, out, err = self.run_main('-t', self.tmp / 'templates',
                                       '--legacy-files', orig.parent,
                                       out_dir)
        self.assertEqual(0, code, err)
        self.assertIn('-t %s ignored' % (self.tmp / 'templates'), out)
        self.assertIn('install -o root -g root -m 644 %s %s'
                      % (out_dir / 'driver.py', base.installed_driver()), out)
        self.assertEqual(original, orig.read_bytes())
        self.assertEqual(stat_before.st_mtime_ns, orig.stat().st_mtime_ns)
        self.assertEqual(['driver.py'], os.listdir(orig.parent))
        removed, added = base.changed_lines(
            original, (out_dir / 'driver.py').read_bytes())
        self.assertEqual(([INTREE_LINE], [OURS_LINE]), (removed, added))

    def test_same_dir_refused(self):
        orig = self.write('orig/driver.py', 'VOLUME_DRIVERS = {}\n')
        code, out, err = self.run_main('--legacy-files', orig.parent,
                                       orig.parent)
        self.assertEqual(3, code)
        self.assertIn('output directory is the original directory', err)
        self.assertEqual(b'VOLUME_DRIVERS = {}\n', orig.read_bytes())
