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
"""The doctor's checks of the attach-state file, and of it against StorPool."""

import grp
import json
import os
import stat

from storpool_openstack.common import names
from storpool_openstack.ops import attachments
from storpool_openstack.ops import doctor_base
from storpool_openstack.ops import setup_host

# The result of a check, as every family writes it.
Check = doctor_base.Check
PASS = doctor_base.PASS
FAIL = doctor_base.FAIL
SKIP = doctor_base.SKIP


class AttachStateChecks(doctor_base.DoctorBase):
    """The attach-state file: owner, mode, JSON, and what StorPool shows."""

    @property
    def attach_path(self) -> str:
        return (self.opts.attach_state_file or
                names.ATTACH_STATE_FILE)

    def check_attach_file(self) -> Check:
        title = 'attach-state file'
        path = self.attach_path
        fix_all = 'run "storpool-openstack setup-host" as root'
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return Check('attach-file', title, FAIL,
                         f'{path} does not exist', fix_all)
        except OSError as exc:
            return Check('attach-file', title, FAIL,
                         f'cannot stat {path}: {exc.strerror}', fix_all)
        if not stat.S_ISREG(st.st_mode):
            return Check('attach-file', title, FAIL,
                         f'{path} is not a regular file',
                         f'move it away, then {fix_all}')
        try:
            gid = grp.getgrnam(self.opts.group).gr_gid
        except KeyError:
            return Check('attach-file', title, FAIL,
                         f'the group {self.opts.group} does not exist',
                         fix_all)
        problems = []
        mode = stat.S_IMODE(st.st_mode)
        if st.st_uid != 0 or st.st_gid != gid:
            problems.append(f'owner is {_owner(st)}, not root:'
                            f'{self.opts.group}')
        if mode != setup_host.FILE_MODE:
            problems.append(f'mode is {mode:04o}, not '
                            f'{setup_host.FILE_MODE:04o}')
        problems += self._attach_dir_problems(path, gid)
        if problems:
            return Check('attach-file', title, FAIL,
                         f'{path}: ' + ', '.join(problems),
                         f'chown root:{self.opts.group} {path}; chmod '
                         f'{setup_host.FILE_MODE:04o} {path}; chgrp '
                         f'{self.opts.group} {os.path.dirname(path)}; '
                         f'chmod g+rwx {os.path.dirname(path)} (or '
                         f'{fix_all})')
        try:
            with open(path, encoding='utf-8') as fobj:
                text = fobj.read()
            data = json.loads(text) if text.strip() else {}
        except (OSError, ValueError) as exc:
            return Check('attach-file', title, FAIL,
                         f'{path} is not readable JSON: {exc}',
                         'restore it from a backup, or replace it with '
                         '"{}" and run "storpool-openstack attachments '
                         '--sync"')
        if not isinstance(data, dict):
            return Check('attach-file', title, FAIL,
                         f'{path} does not hold a JSON object',
                         'replace it with "{}" and run '
                         '"storpool-openstack attachments --sync"')
        return Check('attach-file', title, PASS,
                     f'{path}: root:{self.opts.group} '
                     f'{setup_host.FILE_MODE:04o}, {len(data)} entries')

    def _attach_dir_problems(self, path: str, gid: int) -> list[str]:
        """The services write a side file next to the attach-state file."""
        directory = os.path.dirname(os.path.abspath(path))
        st = os.stat(directory)
        mode = stat.S_IMODE(st.st_mode)
        if st.st_gid == gid and mode & 0o070 == 0o070:
            return []
        return [f'its directory {directory} is {_owner(st)} {mode:04o}, '
                f'not writable by the group {self.opts.group} (the '
                f'services write {os.path.basename(path)}.next there)']

    def check_attach_sync(self) -> Check:
        title = 'attach state matches StorPool'
        if not self.api_ok or self.our_id is None:
            return Check('attach-sync', title, SKIP,
                         'needs a working StorPool API and SP_OURID')
        if self.checks and self.checks[-1].status != PASS:
            return Check('attach-sync', title, SKIP,
                         'needs a valid attach-state file')
        entries = attachments.read_entries(self.attach_path)
        existing = {v['name'] for v in self.api.volumes_list()}
        existing |= {s['name'] for s in self.api.snapshots_list()}
        rows = attachments.compare(entries, self.api.attachments_list(),
                                   self.our_id, self.cfg.volume_prefix,
                                   existing)
        bad = [row for row in rows if not row.consistent]
        if bad:
            shown = '; '.join(f'{row.volume}: {row.state}'
                              for row in bad[:5])
            more = f' and {len(bad) - 5} more' if len(bad) > 5 else ''
            return Check('attach-sync', title, FAIL,
                         f'{len(bad)} of {len(rows)} volume(s) differ: '
                         f'{shown}{more}',
                         'run "storpool-openstack attachments" to see them '
                         'and "storpool-openstack attachments --sync" to '
                         'reconcile')
        return Check('attach-sync', title, PASS,
                     f'{len(rows)} volume(s) recorded, all attached to '
                     f'client {self.our_id} as recorded')


def _owner(st: os.stat_result) -> str:
    try:
        import pwd
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return f'{user}:{group}'
