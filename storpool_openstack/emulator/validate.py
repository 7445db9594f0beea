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

"""What StorPool accepts: names, sizes, limits, tags, request fields.

The cluster model checks every request with these before it changes
anything; each raises :class:`errors.EmulatorError` with StorPool's error
name and a message naming the bad value.
"""

import re
import typing

from oslo_utils import units

from storpool_openstack.emulator import errors

NAME_MAX = 200
VOLUME_RE = re.compile(r'^#?[A-Za-z0-9_\-.:]+$')
SNAPSHOT_RE = re.compile(r'^\*?[A-Za-z0-9_\-.:@]+$')
GLOBAL_ID_RE = re.compile(r'^[a-z0-9]+\.[a-z0-9]+\.[a-z0-9]+$')
PG_RE = re.compile(r'^[A-Za-z0-9_\-]+$')
TAG_NAME_RE = re.compile(r'^[A-Za-z0-9_\-.:]+$')
TAG_VALUE_RE = re.compile(r'^[A-Za-z0-9_\-.:]*$')
RESERVED = ('list', 'status')

SECTOR = 512
MAX_SIZE = 16 * units.Ti - 4 * units.Mi
MAX_CLIENT_ID = 4095
DEFAULT_TEMPLATES = 'hybrid:3,ssd:2'

_POLICY_KEYS = ('placeAll', 'placeTail', 'placeHead', 'replication', 'bw',
                'iops', 'reuseServer', 'tags', 'limitType')
VOLUME_CREATE_KEYS = _POLICY_KEYS + ('name', 'size', 'parent', 'baseOn',
                                     'template')
VOLUME_UPDATE_KEYS = _POLICY_KEYS + ('rename', 'size', 'sizeAdd', 'template',
                                     'shrinkOk')
SNAPSHOT_CREATE_KEYS = ('name', 'bind', 'targetDeleteDate', 'deleteAfter',
                        'tags')
SNAPSHOT_UPDATE_KEYS = _POLICY_KEYS + ('rename', 'template', 'bind',
                                       'targetDeleteDate', 'deleteAfter')
REASSIGN_KEYS = ('volume', 'snapshot', 'detach', 'ro', 'rw', 'force',
                 'allowRemoteExported', 'onRemoteAttached', 'mcMode')


def is_int(value: typing.Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_keys(desc: typing.Any, allowed: typing.Iterable[str],
               what: str) -> dict:
    if desc is None:
        return {}
    if not isinstance(desc, dict):
        raise errors.invalid(f'{what}: expected a JSON object')
    unknown = set(desc) - set(allowed)
    if unknown:
        raise errors.invalid(f'{what}: unknown field(s) '
                             + ', '.join(sorted(unknown)))
    return desc


def check_name(name: typing.Any, kind: str) -> str:
    """Validate a volume/snapshot name as StorPool does (§5)."""
    regex = VOLUME_RE if kind == 'volume' else SNAPSHOT_RE
    if (not isinstance(name, str) or not regex.match(name) or
            len(name) >= NAME_MAX or name in RESERVED):
        raise errors.invalid(f'Invalid {kind} name {name!r}')
    return name


def check_size(size: typing.Any, what: str = 'size') -> int:
    if not is_int(size) or size <= 0 or size % SECTOR:
        raise errors.invalid(f'{what} must be a positive multiple of '
                             f'{SECTOR}, not {size!r}')
    if size > MAX_SIZE:
        raise errors.invalid(f'{what} {size} is too big')
    return size


def check_limit(value: typing.Any, what: str) -> int | str:
    if value == '-' or (is_int(value) and value >= 0):
        return value
    raise errors.invalid(f'{what} must be a non-negative integer or "-", '
                         f'not {value!r}')


def check_replication(value: typing.Any) -> int:
    if not is_int(value) or not 1 <= value <= 3:
        raise errors.invalid(f'replication must be 1-3, not {value!r}')
    return value


def check_tags(tags: typing.Any) -> dict[str, str]:
    if not isinstance(tags, dict):
        raise errors.invalid('tags must be an object')
    for key, value in tags.items():
        if (not TAG_NAME_RE.match(key) or len(key) >= NAME_MAX or
                not isinstance(value, str) or not TAG_VALUE_RE.match(value)
                or len(value) >= NAME_MAX):
            raise errors.invalid(f'Invalid tag {key!r}={value!r}')
    return tags


def client_ids(value: typing.Any, what: str) -> list[int]:
    """Client IDs as ints; the new clients send numeric strings."""
    if not isinstance(value, list):
        raise errors.invalid(f'{what} must be a list of client IDs')
    res = []
    for item in value:
        if isinstance(item, str) and item.isdigit():
            item = int(item)
        if not is_int(item) or not 1 <= item <= MAX_CLIENT_ID:
            raise errors.invalid(f'Invalid client ID {item!r} in {what}')
        res.append(item)
    return res


def parse_templates(spec: typing.Any) -> list[dict]:
    """``"hybrid:3,ssd:2"`` (or a list of such or of dicts) to dicts."""
    if spec is None:
        spec = DEFAULT_TEMPLATES
    if isinstance(spec, str):
        spec = [part for part in spec.split(',') if part.strip()]
    res = []
    for item in spec:
        if isinstance(item, dict):
            res.append(dict(item))
            continue
        parts = item.strip().split(':')
        tmpl = {'name': parts[0]}
        if len(parts) > 1 and parts[1]:
            tmpl['replication'] = int(parts[1])
        for key, val in zip(('placeAll', 'placeTail', 'placeHead'),
                            parts[2:]):
            tmpl[key] = val
        res.append(tmpl)
    return res
