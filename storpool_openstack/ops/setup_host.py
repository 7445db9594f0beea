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
"""What a host needs before nova-compute or cinder-volume can use StorPool.

The attach-state file is shared by every OpenStack service on the host
that attaches StorPool volumes (nova-compute, cinder-volume, glance...),
so it lives in a directory owned by a group they all belong to:

* the system group `spopenstack`, with the service users (`nova`,
  `cinder`) that exist on the host as members;
* `/var/spool/openstack-storpool/`, root:spopenstack, mode 0775;
* `openstack-attach.json` in it, root:spopenstack, mode 0660, holding `{}`.

The group and its members are changed with the shadow tools (`groupadd`,
`usermod`), never by editing /etc/group here: they lock the files, keep
/etc/gshadow in step and flush nscd.  With a root prefix (an image being
built, a test's scratch tree) the same tools run with `--prefix`, and the
group database is read from the prefix's own /etc/group and /etc/passwd.
"""

import dataclasses
import grp
import json
import os
import pwd
import stat
import subprocess
from typing import Callable

from oslo_log import log as logging

from storpool_openstack.common import names

LOG = logging.getLogger(__name__)

SERVICE_USERS = ('nova', 'cinder')
DIR_MODE = 0o775
FILE_MODE = 0o660


class SetupError(Exception):
    """The host cannot be set up; the message says why and what to do."""


@dataclasses.dataclass
class Step:
    """One change to the host: a line for the operator and the action."""

    description: str
    action: Callable[[], None] = dataclasses.field(repr=False)
    # A group change reaches a running service only when it restarts.
    needs_restart: bool = False


@dataclasses.dataclass
class Plan:
    steps: list[Step]
    notes: list[str]


@dataclasses.dataclass(frozen=True)
class _Group:
    name: str
    gid: int
    members: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class _User:
    name: str
    gid: int


class _Accounts:
    """The group and user databases of the host or of a root prefix."""

    def __init__(self, root: str):
        self.root = root
        self.prefixed = os.path.realpath(root) != '/'

    def _lines(self, name: str) -> list[list[str]]:
        path = os.path.join(self.root, 'etc', name)
        try:
            with open(path, encoding='utf-8') as fobj:
                return [line.rstrip('\n').split(':') for line in fobj
                        if line.strip() and not line.startswith('#')]
        except FileNotFoundError:
            raise SetupError(
                f'{path} does not exist: --root must point at a system '
                f'tree with etc/group and etc/passwd') from None
        except OSError as exc:
            raise SetupError(f'cannot read {path}: {exc.strerror}; run '
                             f'setup-host as root') from None

    def group(self, name: str) -> _Group | None:
        if not self.prefixed:
            try:
                entry = grp.getgrnam(name)
            except KeyError:
                return None
            return _Group(entry.gr_name, entry.gr_gid,
                          tuple(entry.gr_mem))
        for fields in self._lines('group'):
            if len(fields) >= 4 and fields[0] == name:
                members = tuple(m for m in fields[3].split(',') if m)
                return _Group(fields[0], int(fields[2]), members)
        return None

    def user(self, name: str) -> _User | None:
        if not self.prefixed:
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                return None
            return _User(entry.pw_name, entry.pw_gid)
        for fields in self._lines('passwd'):
            if len(fields) >= 4 and fields[0] == name:
                return _User(fields[0], int(fields[3]))
        return None

    def tool(self, *args: str) -> list[str]:
        """A shadow-tool command line, with --prefix for a root prefix."""
        cmd = list(args[:1])
        if self.prefixed:
            cmd += ['--prefix', os.path.realpath(self.root)]
        return cmd + list(args[1:])


def _run(cmd: list[str]) -> None:
    try:
        res = subprocess.run(cmd, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True,
                             check=False)
    except FileNotFoundError:
        raise SetupError(
            f'{cmd[0]} is not installed: install the shadow tools (the '
            f'"passwd" package on Debian/Ubuntu, "shadow-utils" on RHEL)'
        ) from None
    if res.returncode != 0:
        raise SetupError(f'"{" ".join(cmd)}" failed (exit code '
                         f'{res.returncode}): {res.stdout.strip()}')


def _user_name() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f'uid {os.geteuid()}'


class HostSetup:
    """Plan and apply the host's StorPool-for-OpenStack prerequisites."""

    def __init__(self, root: str = '/', *,
                 users: tuple[str, ...] = SERVICE_USERS,
                 group: str = names.ATTACH_STATE_GROUP,
                 spool_dir: str = names.ATTACH_STATE_DIR):
        self.accounts = _Accounts(root)
        self.root = root
        self.users = users
        self.group = group
        self.spool_dir = spool_dir

    def path(self, path: str) -> str:
        """A host path inside the root prefix."""
        return os.path.join(self.root, path.lstrip('/'))

    @property
    def dir_path(self) -> str:
        return self.path(self.spool_dir)

    @property
    def file_path(self) -> str:
        return os.path.join(
            self.dir_path, os.path.basename(names.ATTACH_STATE_FILE))

    def _gid(self) -> int:
        found = self.accounts.group(self.group)
        if found is None:
            raise SetupError(f'group {self.group} is missing')
        return found.gid

    def plan(self) -> Plan:
        """What would change; applying it makes a second plan empty."""
        steps: list[Step] = []
        notes: list[str] = []
        group = self.accounts.group(self.group)
        if group is None:
            steps.append(Step(
                f'create the system group {self.group}',
                lambda: _run(self.accounts.tool(
                    'groupadd', '--system', self.group)),
                needs_restart=True))
            members: tuple[str, ...] = ()
            gid = None
        else:
            members, gid = group.members, group.gid
        for name in self.users:
            user = self.accounts.user(name)
            if user is None:
                notes.append(
                    f'user {name} does not exist here (its service is not '
                    f'installed); run setup-host again after installing it')
            elif name in members or (gid is not None and user.gid == gid):
                continue
            else:
                steps.append(Step(
                    f'add user {name} to the group {self.group}',
                    lambda name=name: _run(self.accounts.tool(
                        'usermod', '--append', '--groups', self.group,
                        name)), needs_restart=True))
        steps += self._plan_path(self.dir_path, DIR_MODE, gid, is_dir=True)
        steps += self._plan_path(self.file_path, FILE_MODE, gid,
                                 is_dir=False)
        notes += self._content_notes()
        return Plan(steps, notes)

    def _plan_path(self, path: str, mode: int, gid: int | None,
                   is_dir: bool) -> list[Step]:
        owner = f'root:{self.group}'
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            if is_dir:
                return [Step(f'create the directory {path} ({owner}, '
                             f'{mode:04o})', lambda: self._make_dir(path))]
            return [Step(f'create {path} holding {{}} ({owner}, '
                         f'{mode:04o})', lambda: self._make_file(path))]
        want = stat.S_ISDIR if is_dir else stat.S_ISREG
        if not want(st.st_mode):
            raise SetupError(
                f'{path} exists but is not a '
                f'{"directory" if is_dir else "regular file"}: move it '
                f'away and run setup-host again')
        steps = []
        if st.st_uid != 0 or gid is None or st.st_gid != gid:
            steps.append(Step(f'change the owner of {path} to {owner}',
                              lambda: os.chown(path, 0, self._gid())))
        if stat.S_IMODE(st.st_mode) != mode:
            steps.append(Step(
                f'change the mode of {path} from '
                f'{stat.S_IMODE(st.st_mode):04o} to {mode:04o}',
                lambda: os.chmod(path, mode)))
        if not is_dir and st.st_size == 0:
            steps.append(Step(f'write {{}} into the empty {path}',
                              lambda: self._write_empty(path)))
        return steps

    def _content_notes(self) -> list[str]:
        try:
            with open(self.file_path, encoding='utf-8') as fobj:
                text = fobj.read()
        except OSError:
            return []
        if not text:
            return []
        try:
            data = json.loads(text)
        except ValueError as exc:
            return [f'{self.file_path} is not valid JSON ({exc}); left '
                    f'as it is: run "storpool-openstack attachments '
                    f'--sync" or restore it from a backup']
        if not isinstance(data, dict):
            return [f'{self.file_path} does not hold a JSON object; left '
                    f'as it is']
        return []

    def _make_dir(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        os.mkdir(path, DIR_MODE)
        os.chown(path, 0, self._gid())
        os.chmod(path, DIR_MODE)

    def _make_file(self, path: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            os.fchown(fd, 0, self._gid())
            os.fchmod(fd, FILE_MODE)
            os.write(fd, b'{}')
        finally:
            os.close(fd)

    @staticmethod
    def _write_empty(path: str) -> None:
        # In place, like every writer of this file: it keeps the inode.
        fd = os.open(path, os.O_WRONLY)
        try:
            if os.fstat(fd).st_size == 0:
                os.write(fd, b'{}')
        finally:
            os.close(fd)

    def apply(self, plan: Plan,
              report: Callable[[str], None] = lambda _line: None) -> None:
        """Run the steps in order; stop at the first failure.

        Every step needs root (groupadd, files owned by root), with a
        root prefix too: refuse before the first step, so that nothing
        is left half done.
        """
        if os.geteuid() != 0 and plan.steps:
            where = ('' if not self.accounts.prefixed else
                     f' inside {self.root} (its etc/group and files owned '
                     f'by root)')
            raise SetupError(
                f'setup-host must run as root: it changes groups and '
                f'creates root-owned files{where}, and this is user '
                f'{_user_name()}; nothing was changed. Run it as root '
                f'(e.g. "sudo storpool-openstack setup-host'
                f'{" --root " + self.root if self.accounts.prefixed else ""}'
                f'"), or see what it would do with --dry-run')
        for step in plan.steps:
            LOG.debug('setup-host: %s', step.description)
            step.action()
            report(step.description)
