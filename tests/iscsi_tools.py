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
"""iSCSI test helpers: a portal group set up as an operator would, and
real userspace initiators (libiscsi's tools, qemu-img's iscsi driver).

The kernel here has no iSCSI initiator, so the data path is read and
written through userspace ones.
"""

import os
import shutil
import subprocess

BASE_NAME = 'iqn.2026-12.com.storpool.emulator'
PORTAL_GROUP = 'openstack'
INITIATOR_A = 'iqn.2026-12.org.example.compute-a:init'
INITIATOR_B = 'iqn.2026-12.org.example.compute-b:init'
TOOLS = ('iscsi-inq', 'iscsi-readcapacity16', 'qemu-img')


def configure_portal_group(api, addresses=('127.0.0.1',),
                           name: str = PORTAL_GROUP) -> None:
    """What StorPool's admin does once: base name, group, addresses.

    Each address is the group's network (where initiators connect) and
    a portal there on a free port (port 0: an emulator convenience).
    """
    cmds = [{'setBaseName': {'name': BASE_NAME}},
            {'createPortalGroup': {'name': name}}]
    for addr in addresses:
        cmds += [{'portalGroupAddNetwork': {'portalGroup': name,
                                            'net': f'{addr}/8'}},
                 {'createPortal': {'portalGroup': name, 'controller': 1,
                                   'ip': addr, 'port': 0}}]
    api.iscsi_config_change(cmds)


def data_path_skip_reason(emu_info: dict) -> str | None:
    """Why data-path tests cannot run here, or None."""
    if emu_info.get('iscsiTarget') != 'tgtd':
        return ('the emulator has no tgtd to back iSCSI exports: '
                f'{emu_info.get("iscsiWhyNotTgtd")}')
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return (f'userspace iSCSI initiators missing: {", ".join(missing)} '
                '(apt-get install libiscsi-bin qemu-block-extra '
                'qemu-utils)')
    out = subprocess.run(['qemu-img', '--help'], capture_output=True,
                         text=True, check=False).stdout
    if ' iscsi' not in out:
        return 'qemu-img has no iscsi driver (apt-get install ' \
            'qemu-block-extra)'
    return None


def url(portal: str, iqn: str, lun: int) -> str:
    return f'iscsi://{portal}/{iqn}/{lun}'


def from_connection(data: dict) -> tuple[str, str, int]:
    """(portal, target IQN, LUN) of an iSCSI connection info's data."""
    return data['target_portal'], data['target_iqn'], data['target_lun']


def _image_opts(portal: str, iqn: str, lun: int, initiator: str) -> str:
    return (f'driver=iscsi,transport=tcp,portal={portal},target={iqn},'
            f'lun={lun},initiator-name={initiator}')


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=False,
                          timeout=120)


def capacity(portal: str, iqn: str, lun: int, initiator: str) -> int | None:
    """The LUN's size by iscsi-readcapacity16, None if refused."""
    res = run('iscsi-readcapacity16', '-i', initiator,
              url(portal, iqn, lun))
    for line in res.stdout.splitlines():
        if line.startswith('Total size:'):
            return int(line.split(':', 1)[1])
    return None


def inquiry_ok(portal: str, iqn: str, lun: int, initiator: str) -> bool:
    res = run('iscsi-inq', '-i', initiator, url(portal, iqn, lun))
    return res.returncode == 0 and 'DIRECT_ACCESS' in res.stdout


def write(portal: str, iqn: str, lun: int, initiator: str, data: bytes,
          workdir: str) -> None:
    """Write `data` (a multiple of 512 bytes) at offset 0 through iSCSI."""
    src = os.path.join(workdir, 'to-iscsi.raw')
    with open(src, 'wb') as fobj:
        fobj.write(data)
    opts = _image_opts(portal, iqn, lun, initiator)
    res = run('qemu-img', 'convert', '-n', '-f', 'raw',
              '--target-image-opts', src, opts)
    if res.returncode != 0:
        raise AssertionError(f'qemu-img write through iSCSI failed: '
                             f'{res.stderr}')


def read(portal: str, iqn: str, lun: int, initiator: str, length: int,
         workdir: str) -> bytes:
    """The first `length` bytes of the LUN, through iSCSI."""
    dest = os.path.join(workdir, 'from-iscsi.raw')
    opts = _image_opts(portal, iqn, lun, initiator)
    res = run('qemu-img', 'dd', '--image-opts', '-O', 'raw', 'bs=512',
              f'count={-(-length // 512)}', f'if={opts}', f'of={dest}')
    if res.returncode != 0:
        raise AssertionError(f'qemu-img read through iSCSI failed: '
                             f'{res.stderr}')
    with open(dest, 'rb') as fobj:
        data = fobj.read(length)
    os.unlink(dest)
    return data
