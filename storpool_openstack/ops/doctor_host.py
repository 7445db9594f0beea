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
"""The doctor's checks of this host's tools: devices, qemu-img, Nova, os-brick.

Nova's ``driver.py`` and os-brick's ``connector.py`` must name this
package's drivers; the tools that patch them say whether they do.
"""

import importlib.util
import os
import shutil
import subprocess

from storpool_openstack.ops import doctor_base

# The result of a check, as every family writes it.
Check = doctor_base.Check
PASS = doctor_base.PASS
FAIL = doctor_base.FAIL
SKIP = doctor_base.SKIP

NOVA_CHECK_TIMEOUT = 120


class HostChecks(doctor_base.DoctorBase):
    """The StorPool devices, qemu-img, and the Nova and os-brick patches."""

    def check_devices(self) -> Check:
        path = os.path.join(self.opts.dev_root, 'storpool')
        title = f'{path}'
        if os.path.isdir(path):
            return Check('devices', title, PASS, f'{path} is present')
        return Check('devices', title, FAIL,
                     f'{path} does not exist: the StorPool block client '
                     f'is not running here',
                     'install and start the StorPool client '
                     '("systemctl start storpool_block")')

    def check_qemu_img(self) -> Check:
        title = 'qemu-img'
        found = shutil.which('qemu-img')
        if not found:
            return Check('qemu-img', title, FAIL,
                         'qemu-img is not installed (Cinder needs it to '
                         'copy images to volumes)',
                         'apt-get install qemu-utils (Debian/Ubuntu) or '
                         'dnf install qemu-img (RHEL)')
        try:
            res = subprocess.run([found, '--version'], capture_output=True,
                                 text=True, timeout=30, check=False)
            version = (res.stdout.splitlines() or [''])[0].strip()
        except (OSError, subprocess.TimeoutExpired):
            version = ''
        return Check('qemu-img', title, PASS,
                     f'{found}' + (f' ({version})' if version else ''))

    def check_nova(self) -> Check:
        title = 'Nova volume driver registered'
        path = self.opts.nova_driver_file
        if path is None:
            spec = importlib.util.find_spec('nova')
            if spec is None or not spec.submodule_search_locations:
                return Check('nova', title, SKIP,
                             'Nova is not installed for this Python (not a '
                             'compute host)')
            path = os.path.join(list(spec.submodule_search_locations)[0],
                                'virt', 'libvirt', 'driver.py')
        if not os.path.exists(path):
            return Check('nova', title, SKIP, f'{path} does not exist')
        cmd = [self.opts.python, '-m',
               'storpool_openstack.cmd.add_storpool_nova_driver', '--check',
               '--file', path]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True,
                                 timeout=NOVA_CHECK_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Check('nova', title, FAIL,
                         f'add-storpool-nova-driver --check failed: {exc}',
                         'run "add-storpool-nova-driver --check --verbose"')
        said = ' '.join((res.stdout + ' ' + res.stderr).split())
        if res.returncode == 0:
            return Check('nova', title, PASS, f'{path}: {said}')
        if res.returncode == 1:
            return Check('nova', title, FAIL,
                         f'{path} is not patched: {said}',
                         f'run "add-storpool-nova-driver --file {path}" as '
                         f'root, then restart nova-compute')
        return Check('nova', title, FAIL,
                     f'add-storpool-nova-driver --check exit code '
                     f'{res.returncode}: {said}',
                     'see "add-storpool-nova-driver --help" (exit codes)')

    def check_os_brick(self) -> Check:
        """cinder-backup attaches through os-brick's factory: ours?"""
        title = 'os-brick STORPOOL connector is this package\'s'
        if importlib.util.find_spec('cinder') is None:
            return Check('os-brick', title, SKIP,
                         'Cinder is not installed for this Python (its '
                         'backup service would use the connector)')
        from storpool_openstack.ops import os_brick_patch

        code, said = os_brick_patch.check(self.opts.os_brick_file)
        if code == 0:
            return Check('os-brick', title, PASS, said)
        if code == 1:
            return Check('os-brick', title, FAIL,
                         f'{said}: cinder-backup would attach without '
                         f'recording its users, and cannot attach '
                         f'snapshots',
                         'run "storpool-openstack os-brick" as root, then '
                         'restart cinder-backup and cinder-volume')
        return Check('os-brick', title, FAIL, said,
                     'check the os-brick version (see the README, '
                     '"Backups")')
