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
"""What a Cinder volume type asks of StorPool, and the requests for it.

A type's extra specs and back-end QoS specs become one `Policy`: the
StorPool template (extra spec ``storpool_template``), the QoS class (extra
spec ``storpool:qos_class``, set as the volume tag ``qc``), other volume
tags (``storpool:vc_policy`` for VolumeCare's ``vc-policy`` tag, and
``storpool:tag:<name>=<value>`` for any other) and the iops and bandwidth
limits. The functions below turn a policy into the policy fields
of a VolumeCreate or a VolumeUpdate, so that every operation that places
or changes a volume does it in the one request it makes anyway.

Units: Cinder's ``*_bytes_sec`` are bytes per second; StorPool's ``bw``
limit is in KiB per second (storpool.sptypes documents VolumeLimits.bw as
"Bandwidth limit in KB"), so bytes are divided by 1024, rounding up.
"""

import dataclasses
import math
import re
from typing import Any

from cinder import exception
from cinder.volume import volume_types
from oslo_log import log as logging
from oslo_utils import units

LOG = logging.getLogger(__name__)

TEMPLATE_SPEC = 'storpool_template'
QOS_CLASS_SPEC = 'storpool:qos_class'
QOS_CLASS_TAG = 'qc'
UNLIMITED = '-'
VC_POLICY_SPEC = 'storpool:vc_policy'
VC_POLICY_TAG = 'vc-policy'
TAG_SPEC_PREFIX = 'storpool:tag:'
# StorPool's rules for tag names and values (a value may be empty).
_TAG_NAME = re.compile(r'^[A-Za-z0-9_\-.:]+$')
_TAG_VALUE = re.compile(r'^[A-Za-z0-9_\-.:]*$')
TAG_MAX = 199
# Tags that others set on a volume: a type must not set or clear them.
RESERVED_TAGS = {
    QOS_CLASS_TAG: f'set it with the extra spec {QOS_CLASS_SPEC}',
    'osvm': 'os-brick and Nova set it on attach',
    'disk': 'os-brick and Nova set it on attach',
    'deleted-at': 'deferred deletion sets it',
    'keep-until': 'deferred deletion sets it',
    'transient': 'StorPool clients use it for temporary snapshots',
}
BW_UNIT = units.Ki

# Cinder QoS keys -> StorPool limit fields.
_LIMITS = (('total_iops_sec', 'iops', 1),
           ('total_bytes_sec', 'bw', BW_UNIT))
_BACKEND_CONSUMERS = ('back-end', 'both')


@dataclasses.dataclass(frozen=True)
class Policy:
    """The StorPool settings of one volume of some type and size."""

    template: str | None = None
    qos_class: str | None = None
    iops: int | None = None
    bw: int | None = None
    per_gb: bool = False
    # Other volume tags, sorted (name, value) pairs.
    tags: tuple[tuple[str, str], ...] = ()


def _number(specs: dict, key: str) -> float:
    raw = specs[key]
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if value < 0 or math.isnan(value) or math.isinf(value):
        raise exception.InvalidQoSSpecs(
            reason=f'{key}={raw!r} is not a non-negative number')
    return value


def _limit(specs: dict, key: str, size_gb: int) -> tuple[float | None, bool]:
    """The total value of Cinder QoS key `key`, and if it depends on size.

    The per-GB form is ``<key>_per_gb`` times the size, at least
    ``<key>_per_gb_min`` and at most ``<key>_max``, as Cinder computes it
    for front-end QoS.
    """
    per_gb_key = key + '_per_gb'
    if per_gb_key in specs:
        value = _number(specs, per_gb_key) * size_gb
        if per_gb_key + '_min' in specs:
            value = max(value, _number(specs, per_gb_key + '_min'))
        if key + '_max' in specs:
            value = min(value, _number(specs, key + '_max'))
        return value, True
    if key in specs:
        return _number(specs, key), False
    return None, False


def limits_from_qos(specs: dict, size_gb: int) -> tuple[
        int | None, int | None, bool]:
    """(iops, bw in KiB/s, depends on size) from back-end QoS specs.

    A limit of 0 means "no limit", as it does for libvirt.
    """
    out: dict[str, int | None] = {}
    per_gb = False
    for key, field, unit in _LIMITS:
        value, sized = _limit(specs, key, size_gb)
        per_gb = per_gb or sized
        if value is None or value == 0:
            out[field] = None
        else:
            out[field] = max(1, int(math.ceil(value / unit)))
    ignored = sorted(k for k in specs if k.startswith(('read_', 'write_')))
    if ignored:
        LOG.warning('StorPool limits the total iops and bandwidth of a '
                    'volume only; QoS specs %s are ignored',
                    ', '.join(ignored))
    return out['iops'], out['bw'], per_gb


def type_extra_specs(type_id: str | None) -> dict:
    """The extra specs of a volume type id (one lookup; no QoS specs)."""
    if not type_id:
        return {}
    return dict(volume_types.get_volume_type_extra_specs(type_id) or {})


def type_specs(type_id: str | None) -> tuple[dict, dict]:
    """(extra specs, back-end QoS specs) of a volume type id."""
    if not type_id:
        return {}, {}
    extra = type_extra_specs(type_id)
    qos = (volume_types.get_volume_type_qos_specs(type_id) or {}).get(
        'qos_specs')
    return extra, _qos_consumer_specs(qos)


def _loaded_type(volume: Any) -> Any:
    """The volume type Cinder loaded with `volume`, if it is that volume's.

    Cinder reads a volume with its type and the type's extra specs (one
    joined query) and hands the object to the driver for the operation;
    asking the database again would only repeat that. Anything else (a
    type not loaded, or one that is not the volume's volume_type_id) is
    None, and the caller looks the type up by id.
    """
    is_set = getattr(volume, 'obj_attr_is_set', None)
    if is_set is None or not is_set('volume_type'):
        return None
    vtype = volume.volume_type
    if vtype is None or vtype.get('id') != volume.volume_type_id:
        return None
    return vtype


def _qos_consumer_specs(qos: Any) -> dict:
    if qos and qos.get('consumer') in _BACKEND_CONSUMERS:
        return dict(qos.get('specs') or {})
    return {}


def volume_qos(volume: Any) -> dict:
    """The back-end QoS specs of `volume`'s type.

    No database query when Cinder loaded the type and it has no QoS specs
    (``qos_specs_id`` is None); one when it has some.
    """
    type_id = volume.volume_type_id
    if not type_id:
        return {}
    vtype = _loaded_type(volume)
    if vtype is not None and vtype.obj_attr_is_set('qos_specs_id'):
        if not vtype.qos_specs_id:
            return {}
        if vtype.obj_attr_is_set('qos_specs') and vtype.qos_specs and \
                vtype.qos_specs.id == vtype.qos_specs_id:
            return _qos_consumer_specs(vtype.qos_specs)
    return _qos_consumer_specs(
        (volume_types.get_volume_type_qos_specs(type_id) or {}).get(
            'qos_specs'))


def volume_specs(volume: Any) -> tuple[dict, dict]:
    """(extra specs, back-end QoS specs) of `volume`'s type.

    From what Cinder loaded with the volume where it did (see
    `_loaded_type`), else as `type_specs` looks them up.
    """
    type_id = volume.volume_type_id
    if not type_id:
        return {}, {}
    vtype = _loaded_type(volume)
    if vtype is None or not vtype.obj_attr_is_set('extra_specs'):
        return type_specs(type_id)
    return dict(vtype.extra_specs or {}), volume_qos(volume)


def for_volume(volume: Any, size_gb: int, *,
               default_template: str | None,
               default_qos_class: str | None) -> Policy:
    """The policy of `volume` (its type) at `size_gb` GiB."""
    extra, qos = volume_specs(volume)
    return from_specs(extra, qos, size_gb, default_template=default_template,
                      default_qos_class=default_qos_class)


def for_type(type_id: str | None, size_gb: int, *,
             default_template: str | None,
             default_qos_class: str | None) -> Policy:
    """The policy of a volume of type `type_id` and `size_gb` GiB."""
    extra, qos = type_specs(type_id)
    return from_specs(extra, qos, size_gb, default_template=default_template,
                      default_qos_class=default_qos_class)


def _bad_tag(spec: str, why: str) -> exception.InvalidVolumeType:
    return exception.InvalidVolumeType(
        reason=f'extra spec {spec}: {why}')


def tags_from_specs(extra: dict) -> dict[str, str]:
    """{tag: value} from ``storpool:vc_policy`` and ``storpool:tag:*``.

    Checked against StorPool's rules (letters, digits and ``_-.:``; a name
    that is not empty, under 200 characters each), so that a type StorPool
    would refuse fails with the extra spec's name before any call.
    """
    tags: dict[str, str] = {}
    set_by: dict[str, str] = {}
    for spec in sorted(extra):
        if spec == VC_POLICY_SPEC:
            name = VC_POLICY_TAG
        elif spec.startswith(TAG_SPEC_PREFIX):
            name = spec[len(TAG_SPEC_PREFIX):]
        else:
            continue
        value = extra[spec]
        if not isinstance(value, str):
            raise _bad_tag(spec, 'the value must be a string')
        value = value.strip()
        if not _TAG_NAME.match(name) or len(name) > TAG_MAX:
            raise _bad_tag(spec, f'StorPool refuses the tag name {name!r}: '
                                 f'use 1-{TAG_MAX} letters, digits and '
                                 f'"_-.:"')
        if name in RESERVED_TAGS:
            raise _bad_tag(spec, f'the tag {name!r} is not set through a '
                                 f'volume type: {RESERVED_TAGS[name]}')
        if not value or not _TAG_VALUE.match(value) or \
                len(value) > TAG_MAX:
            raise _bad_tag(spec, f'StorPool refuses the tag value '
                                 f'{value!r}: use 1-{TAG_MAX} letters, '
                                 f'digits and "_-.:"')
        if name in tags and tags[name] != value:
            raise _bad_tag(spec, f'the tag {name!r} is also set to '
                                 f'{tags[name]!r} by the extra spec '
                                 f'{set_by[name]}')
        tags[name] = value
        set_by[name] = spec
    return tags


def from_specs(extra: dict, qos: dict, size_gb: int, *,
               default_template: str | None,
               default_qos_class: str | None) -> Policy:
    iops, bw, per_gb = limits_from_qos(qos, size_gb)
    return Policy(
        template=extra.get(TEMPLATE_SPEC) or default_template or None,
        qos_class=extra.get(QOS_CLASS_SPEC) or default_qos_class or None,
        iops=iops, bw=bw, per_gb=per_gb,
        tags=tuple(sorted(tags_from_specs(extra).items())))


def _tag_fields(new: Policy, old_names: set[str] | None) -> dict[str, str]:
    """The ``tags`` of a request: the new policy's, and '' for old ones.

    `old_names`: the other tags the object has (or may have, copied from
    its source); each that the new type does not set is cleared.
    """
    tags = dict(new.tags)
    for name in sorted(old_names or ()):
        tags.setdefault(name, '')
    return tags


def tag_names(extra: dict) -> set[str]:
    """The tag names that extra specs set (unchecked: a source's type)."""
    names = {spec[len(TAG_SPEC_PREFIX):] for spec in extra
             if spec.startswith(TAG_SPEC_PREFIX)}
    if VC_POLICY_SPEC in extra:
        names.add(VC_POLICY_TAG)
    return {name for name in names
            if _TAG_NAME.match(name) and name not in RESERVED_TAGS}


def create_fields(pol: Policy, replication: int, *,
                  derived: bool = False,
                  source_tags: set[str] | None = None) -> dict[str, Any]:
    """Policy fields of a VolumeCreate.

    A derived volume (a clone or a volume from a snapshot) inherits its
    source's settings in StorPool, tags included; whatever the new type
    does not set is reset here, so the new volume follows its own type.
    `source_tags` are the tags the source volume's type sets (see
    `tag_names`); each is cleared unless the new type sets it too, and so
    is VolumeCare's ``vc-policy`` always.
    """
    desc: dict[str, Any] = {}
    if pol.template:
        desc['template'] = pol.template
    else:
        desc['replication'] = replication
    for field in ('iops', 'bw'):
        value = getattr(pol, field)
        if value is not None:
            desc[field] = value
        elif derived and not pol.template:
            desc[field] = UNLIMITED
    old = None
    if derived:
        old = {VC_POLICY_TAG} | set(source_tags or ())
    tags = _tag_fields(pol, old)
    if pol.qos_class:
        tags[QOS_CLASS_TAG] = pol.qos_class
    elif derived:
        tags[QOS_CLASS_TAG] = ''
    if tags:
        desc['tags'] = tags
    return desc


def update_fields(old: Policy, new: Policy,
                  replication: int) -> dict[str, Any]:
    """The VolumeUpdate fields that turn a volume of `old` into `new`.

    Only what changes is sent. Re-applying a template resets the limits
    to the template's, so explicit limits are always sent with it. Other
    tags (os-brick's ``disk``/``osvm``) are kept: StorPool merges tags.
    """
    desc: dict[str, Any] = {}
    if new.template != old.template:
        if new.template:
            desc['template'] = new.template
        else:
            desc['replication'] = replication
    tags = {name: value for name, value in _tag_fields(
        new, {name for name, _v in old.tags}).items()
        if dict(old.tags).get(name, '') != value}
    if new.qos_class != old.qos_class:
        tags[QOS_CLASS_TAG] = new.qos_class or ''
    if tags:
        desc['tags'] = tags
    for field in ('iops', 'bw'):
        value = getattr(new, field)
        if value == getattr(old, field):
            continue
        if value is not None:
            desc[field] = value
        elif new.template:
            # Re-applying the template restores its own limit.
            desc['template'] = new.template
        else:
            desc[field] = UNLIMITED
    if 'template' in desc:
        for field in ('iops', 'bw'):
            value = getattr(new, field)
            if value is not None:
                desc[field] = value
    return desc


def size_fields(pol: Policy, size_gb: int) -> dict[str, Any]:
    """VolumeUpdate fields for a new size: the size and per-GB limits."""
    desc: dict[str, Any] = {'size': size_gb * units.Gi}
    if pol.per_gb:
        for field in ('iops', 'bw'):
            value = getattr(pol, field)
            desc[field] = UNLIMITED if value is None else value
    return desc
