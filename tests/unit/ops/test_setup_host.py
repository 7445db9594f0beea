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
"""`storpool-openstack setup-host` in a scratch root prefix.

The shadow tools run for real (with --prefix), so these tests need root,
as setup-host itself does.
"""

import os
import pwd
import stat

from tests import root_guard
from tests.unit.ops import base

GROUP_FILE = '''root:x:0:
nova:x:64060:
cinder:x:64061:
'''
PASSWD_FILE = '''root:x:0:0:root:/root:/bin/bash
nova:x:64060:64060::/var/lib/nova:/usr/sbin/nologin
cinder:x:64061:64061::/var/lib/cinder:/usr/sbin/nologin
'''
SPOOL = 'var/spool/openstack-storpool'


@root_guard.needs_root('setup-host runs groupadd and usermod')
class SetupHostTestCase(base.CLITestCase):

    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.tmp, 'root')
        self.write('root/etc/group', GROUP_FILE)
        self.write('root/etc/passwd', PASSWD_FILE)

    def group_line(self) -> list[str]:
        with open(os.path.join(self.root, 'etc', 'group')) as fobj:
            lines = [line.strip().split(':') for line in fobj]
        return next(line for line in lines if line[0] == 'spopenstack')

    def snapshot(self) -> dict:
        """Everything setup-host touches, to prove a rerun changes none."""
        result = {}
        for rel in ('etc/group', 'etc/passwd'):
            with open(os.path.join(self.root, rel)) as fobj:
                result[rel] = fobj.read()
        for rel in (SPOOL, SPOOL + '/openstack-attach.json'):
            st = os.stat(os.path.join(self.root, rel))
            result[rel] = (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode),
                           st.st_ino, st.st_mtime_ns)
        return result

    def test_twice(self):
        res = self.run_cli('setup-host', '--root', self.root)
        self.assertEqual(0, res.code, res)
        self.assertIn('done: create the system group spopenstack', res.out)
        self.assertIn('done: add user nova to the group spopenstack',
                      res.out)
        self.assertIn('done: add user cinder to the group spopenstack',
                      res.out)
        line = self.group_line()
        gid = int(line[2])
        self.assertEqual(['nova', 'cinder'], line[3].split(','))
        spool = os.path.join(self.root, SPOOL)
        st = os.stat(spool)
        self.assertEqual((0, gid, 0o775),
                         (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)))
        path = os.path.join(spool, 'openstack-attach.json')
        st = os.stat(path)
        self.assertEqual((0, gid, 0o660),
                         (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)))
        with open(path) as fobj:
            self.assertEqual('{}', fobj.read())

        before = self.snapshot()
        res = self.run_cli('setup-host', '--root', self.root)
        self.assertEqual(0, res.code, res)
        self.assertIn('nothing to do', res.out)
        self.assertNotIn('done:', res.out)
        self.assertEqual(before, self.snapshot())

    def test_dry_run_changes_nothing(self):
        res = self.run_cli('setup-host', '--root', self.root, '--dry-run')
        self.assertEqual(0, res.code, res)
        self.assertEqual([
            'would create the system group spopenstack',
            'would add user nova to the group spopenstack',
            'would add user cinder to the group spopenstack',
            f'would create the directory {self.root}/{SPOOL} '
            f'(root:spopenstack, 0775)',
            f'would create {self.root}/{SPOOL}/openstack-attach.json '
            f'holding {{}} (root:spopenstack, 0660)'],
            res.out.splitlines())
        with open(os.path.join(self.root, 'etc', 'group')) as fobj:
            self.assertEqual(GROUP_FILE, fobj.read())
        self.assertFalse(os.path.exists(os.path.join(self.root, 'var')))

    def test_repairs_mode_and_owner_keeps_content(self):
        self.run_cli('setup-host', '--root', self.root)
        path = os.path.join(self.root, SPOOL, 'openstack-attach.json')
        with open(path, 'w') as fobj:
            fobj.write('{"x": {"volume": "os--volume-1", "rights": 2}}')
        ino = os.stat(path).st_ino
        os.chmod(path, 0o644)
        os.chown(path, 0, 0)
        res = self.run_cli('setup-host', '--root', self.root)
        self.assertEqual(0, res.code, res)
        self.assertIn(f'done: change the owner of {path} to '
                      f'root:spopenstack', res.out)
        self.assertIn(f'done: change the mode of {path} from 0644 to 0660',
                      res.out)
        st = os.stat(path)
        self.assertEqual((ino, int(self.group_line()[2]), 0o660),
                         (st.st_ino, st.st_gid, stat.S_IMODE(st.st_mode)))
        with open(path) as fobj:
            self.assertIn('os--volume-1', fobj.read())

    def test_missing_users_are_noted_not_created(self):
        self.write('root/etc/passwd', 'root:x:0:0:root:/root:/bin/bash\n')
        res = self.run_cli('setup-host', '--root', self.root)
        self.assertEqual(0, res.code, res)
        self.assertIn('note: user nova does not exist here', res.out)
        self.assertIn('note: user cinder does not exist here', res.out)
        self.assertEqual('', self.group_line()[3])

    def test_user_already_member_by_primary_group(self):
        self.write('root/etc/group', GROUP_FILE + 'spopenstack:x:990:\n')
        self.write('root/etc/passwd', PASSWD_FILE.replace(
            'nova:x:64060:64060', 'nova:x:64060:990'))
        res = self.run_cli('setup-host', '--root', self.root, '--dry-run')
        self.assertNotIn('add user nova', res.out)
        self.assertIn('would add user cinder', res.out)
        self.assertNotIn('create the system group', res.out)

    def test_not_a_system_tree(self):
        res = self.run_cli('setup-host', '--root',
                           os.path.join(self.tmp, 'nothing'))
        self.assertEqual(1, res.code)
        self.assertIn('etc/group does not exist: --root must point at a '
                      'system tree', res.err)

    def test_file_in_the_way(self):
        self.write(f'root/{SPOOL}', 'not a dir')
        res = self.run_cli('setup-host', '--root', self.root)
        self.assertEqual(1, res.code)
        self.assertIn('exists but is not a directory', res.err)

    def test_mode_fix_needs_no_restart(self):
        self.run_cli('setup-host', '--root', self.root)
        path = os.path.join(self.root, SPOOL, 'openstack-attach.json')
        os.chmod(path, 0o644)
        res = self.run_cli('setup-host', '--root', self.root)
        self.assertEqual(0, res.code, res)
        self.assertIn('1 change(s) made; no service restart needed', res.out)
        self.assertNotIn('restart nova-compute', res.out)

    def test_not_root_changes_nothing(self):
        """As an unprivileged user: a clear error, nothing half done.

        A rerun is as clean, and one as root then works.
        """
        # nobody must be able to reach the prefix (and read its etc/).
        os.chmod(self.tmp, 0o755)
        os.chmod(self.root, 0o755)
        before = sorted(os.listdir(self.root))
        with open(os.path.join(self.root, 'etc', 'group')) as fobj:
            group_before = fobj.read()
        nobody = pwd.getpwnam('nobody').pw_uid
        for _attempt in (1, 2):  # a rerun is as clean as the first run
            # The effective uid of an unprivileged user, in-process: a
            # subprocess as nobody could not read tox's 0700 .tox/ venv.
            os.seteuid(nobody)
            try:
                res = self.run_cli('setup-host', '--root', self.root)
            finally:
                os.seteuid(0)
            self.assertEqual(1, res.code, res)
            self.assertEqual('', res.out)
            self.assertIn('setup-host must run as root', res.err)
            self.assertIn('this is user nobody; nothing was changed',
                          res.err)
            self.assertIn(f'sudo storpool-openstack setup-host --root '
                          f'{self.root}', res.err)
            self.assertEqual(before, sorted(os.listdir(self.root)))
            with open(os.path.join(self.root, 'etc', 'group')) as fobj:
                self.assertEqual(group_before, fobj.read())
        res = self.run_cli('setup-host', '--root', self.root)
        self.assertEqual(0, res.code, res)
        self.assertIn('done: create the system group spopenstack', res.out)
