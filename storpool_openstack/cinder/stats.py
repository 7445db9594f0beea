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
"""What the backend reports to the scheduler: capabilities and capacity.

`backend_stats` is the capability dict of the backend and of its one pool
(``default``, see driver.py's docstring for why one); the pool's capacity
comes from two StorPool answers:

DisksList gives the raw space of the cluster (only disks that are up,
``generationLeft == -1``, count); the allocation groups are 512 MiB and
4096 of every 4224 bytes hold data. Divided by storpool_replication this
is what a volume without a template can use, which is the capacity of the
backend's pool (as the in-tree driver reports it).

VolumeTemplatesStatus gives, per template, StorPool's own estimate of the
client data capacity and free space (``stored``: placement groups and
replication already accounted for) and the bytes provisioned to its
volumes; these appear per template in the pool's ``storpool_templates``
capability.

``provisioned_capacity_gb`` is the sum of the templates' provisioned bytes
when the backend has a default template (``storpool_template``): every
volume it makes then has a template, and the sum also counts the volumes
others made in the same templates, which share the same disks.  Without a
default template the volumes of untyped volume types have none, no
template status counts them, and the sum would tell the scheduler that
nothing is provisioned (max_over_subscription_ratio would never apply):
the pool then reports no figure and Cinder takes its own
allocated_capacity_gb, which counts every volume of this backend.
"""

from typing import Any

from oslo_utils import units

from storpool_openstack.cinder import capabilities

# The backend's one pool.
POOL = 'default'
AG_SIZE = 512 * units.Mi
DATA_RATIO = 4096 / (4096 + 128)


def _gib(value: float) -> float:
    return round(value / units.Gi, 2)


def cluster_space(disks: dict) -> tuple[int, int, int]:
    """(total, used, free) raw bytes on the disks that are up."""
    total = used = free = 0
    for disk in disks.values():
        if disk.get('generationLeft', -1) != -1:
            continue
        total += int(disk.get('agCount') or 0) * AG_SIZE
        used += int(disk.get('agAllocated') or 0) * AG_SIZE
        free += int((disk.get('agFree') or 0) * AG_SIZE * DATA_RATIO)
    return total, used, free


def templates_space(status: list[dict]) -> dict[str, dict[str, Any]]:
    """Per template: total/free/provisioned GiB from VolumeTemplatesStatus."""
    out = {}
    for tmpl in status:
        stored = tmpl.get('stored') or {}
        provisioned = tmpl.get('volumesSize', tmpl.get('size')) or 0
        out[tmpl['name']] = {
            'total_capacity_gb': _gib(stored.get('capacity') or 0),
            'free_capacity_gb': _gib(stored.get('free') or 0),
            'provisioned_capacity_gb': _gib(provisioned),
            'volumes': int(tmpl.get('volumesCount') or 0),
        }
    return out


def pool_capacity(disks: dict, status: list[dict], replication: int, *,
                  all_templated: bool) -> dict[str, Any]:
    """The capacity keys of the pool (see the module docstring).

    ``all_templated``: every volume of the backend has a template (it
    has a default one), so the templates' sum is what it provisioned.
    """
    total, used, free = cluster_space(disks)
    per_template = templates_space(status)
    keys = {
        'total_capacity_gb': _gib(total / replication),
        'free_capacity_gb': _gib(free / replication),
        'storpool_raw_used_gb': _gib(used),
        'storpool_template': sorted(per_template),
        'storpool_templates': per_template,
    }
    if all_templated:
        keys['provisioned_capacity_gb'] = round(sum(
            t['provisioned_capacity_gb'] for t in per_template.values()), 2)
    return keys


def backend_stats(backend: str, version: str, protocol: str, *,
                  reserved_percentage: int,
                  max_over_subscription_ratio: Any) -> dict[str, Any]:
    """The backend's capabilities and its one pool's, without capacity.

    The pool's capacity keys (`pool_capacity`, or `capacity_unknown`) go
    into ``stats['pools'][0]``.
    """
    # Off over the native protocol; on when every initiator gets iSCSI
    # (capabilities.multiattach_supported decides).
    multiattach = capabilities.multiattach_supported(protocol)
    pool = {
        'pool_name': POOL,
        'reserved_percentage': reserved_percentage,
        'max_over_subscription_ratio': max_over_subscription_ratio,
        'thin_provisioning_support': True,
        'thick_provisioning_support': False,
        'multiattach': multiattach,
        'QoS_support': True,
        'consistent_group_snapshot_enabled': True,
        'online_extend_support': True,
        'backend_state': 'up',
    }
    return {
        'volume_backend_name': backend,
        'vendor_name': 'StorPool',
        'driver_version': version,
        'storage_protocol': protocol,
        'clone_across_pools': True,
        'sparse_copy_volume': True,
        'consistent_group_snapshot_enabled': True,
        'online_extend_support': True,
        'QoS_support': True,
        'thin_provisioning_support': True,
        'thick_provisioning_support': False,
        'multiattach': multiattach,
        'pools': [pool],
    }


def capacity_unknown(last_stats: dict | None) -> dict[str, Any]:
    """The pool's capacity keys when StorPool does not answer.

    The last known total and templates, nothing free, and the pool down,
    so the scheduler places nothing here until StorPool answers again.
    """
    old = ((last_stats or {}).get('pools') or [{}])[0]
    return {'total_capacity_gb': old.get('total_capacity_gb', 0),
            'free_capacity_gb': 0,
            'storpool_template': old.get('storpool_template', []),
            'backend_state': 'down'}
