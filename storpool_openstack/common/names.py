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
"""StorPool object names and device paths for OpenStack objects.

The formats are the ones spopenstack.AttachDB and os-brick's storpool_utils
use, so that volumes created by the in-tree driver keep working.
"""

import os
import re

DEFAULT_PREFIX = 'os'
# Where the storpool/ and storpool-byid/ device directories are on a host.
DEFAULT_DEV_ROOT = '/dev'

# The per-host attach-state file (AttachDB's), its directory and the
# group whose members (the nova and cinder service users) may write it.
ATTACH_STATE_DIR = '/var/spool/openstack-storpool'
ATTACH_STATE_FILE = f'{ATTACH_STATE_DIR}/openstack-attach.json'
ATTACH_STATE_GROUP = 'spopenstack'

# The key of the StorPool client id (SP_OURID) in an os-brick connector
# dict: the connector sets it, the driver reads it.
CLIENT_ID_KEY = 'storpool_client_id'

# The kinds of snapshot names (`<prefix>--<kind>--...--snapshot-<id>`):
# the one home of each, so that a parser and a writer cannot disagree.
SNAP_CINDER = 'snap'          # a Cinder snapshot
SNAP_IMAGE = 'image'          # a cached image (cinder/image_cache.py)
SNAP_DEFERRED = 'deleted'     # a deferred deletion (cinder/deferred.py)
SNAP_GROUP = 'group'          # a member of a group snapshot
# A snapshot unmanaged from Cinder, and the mark in the name of an
# unmanaged volume (`<prefix>--unmanaged--volume-<id>`).
UNMANAGED = 'unmanaged'

_GLOBAL_ID = re.compile(r'^[a-z0-9]+\.[a-z0-9]+\.[a-z0-9]+$')


def volume_name(volume_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    """`<prefix>--volume-<id>` for a Cinder volume id."""
    return f'{prefix}--volume-{volume_id}'


def snapshot_name(snapshot_id: str, prefix: str = DEFAULT_PREFIX,
                  kind: str = SNAP_CINDER, more: str | None = None) -> str:
    """`<prefix>--<kind>--<more or none>--snapshot-<id>`."""
    return f'{prefix}--{kind}--{more or "none"}--snapshot-{snapshot_id}'


def parse_volume_name(name: str,
                      prefix: str = DEFAULT_PREFIX) -> str | None:
    """The Cinder volume id in a volume name, or None if it is not ours."""
    head = f'{prefix}--volume-'
    if name.startswith(head) and len(name) > len(head):
        return name[len(head):]
    return None


def parse_snapshot_name(
        name: str,
        prefix: str = DEFAULT_PREFIX) -> tuple[str, str | None, str] | None:
    """(kind, more, id) of a snapshot name, or None if it is not ours."""
    match = re.fullmatch(
        re.escape(prefix) + r'--([A-Za-z0-9_]+)--(.+?)--snapshot-(.+)',
        name)
    if not match:
        return None
    kind, more, ident = match.groups()
    return kind, (None if more == 'none' else more), ident


def is_global_id(value: str) -> bool:
    return bool(_GLOBAL_ID.match(value))


def global_id_ref(global_id: str) -> str:
    """The `~<globalId>` form StorPool accepts wherever a name is."""
    return f'~{global_id}'


class DevicePaths:
    """Where StorPool's block devices appear on a host.

    The root is `/dev` on a real host; the emulator and the tests use a
    directory of their own.
    """

    def __init__(self, root: str = DEFAULT_DEV_ROOT):
        self.root = root
        self.by_name_dir = os.path.join(root, 'storpool')
        self.by_id_dir = os.path.join(root, 'storpool-byid')

    def by_name(self, name: str) -> str:
        return os.path.join(self.by_name_dir, name)

    def by_global_id(self, global_id: str) -> str:
        return os.path.join(self.by_id_dir, global_id)

    def to_reference(self, path: str) -> str:
        """The API reference (name or `~globalId`) for a device path."""
        parent, base = os.path.split(os.path.normpath(path))
        if base and parent == self.by_id_dir and is_global_id(base):
            return global_id_ref(base)
        if base and parent == self.by_name_dir:
            return base
        raise ValueError(
            f'{path} is not a StorPool device path: expected '
            f'{self.by_name_dir}/<name> or {self.by_id_dir}/<globalId>')
