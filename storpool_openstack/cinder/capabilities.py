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
"""What the backend tells Cinder it can do, and why not where it cannot.

`multiattach_supported` is the one place that decides the ``multiattach``
capability (a transport that allows it, e.g. iSCSI, extends it). Cinder's
scheduler turns a type with ``multiattach='<is> True'`` on a backend
without the capability into "No valid backend" and a user message with no
reason (its messages come from a fixed list); the reason is published in
the backend's capabilities (``GET /v3/{project}/capabilities/{host}``,
``cinder get-capabilities``) under ``storpool:multiattach``, next to the
StorPool extra specs a volume type may set.
"""

from typing import Any

from cinder.common import constants

from storpool_openstack.cinder import policy

VENDOR = 'storpool'
NATIVE_PROTOCOL = constants.STORPOOL
MULTIATTACH_REASON = {
    NATIVE_PROTOCOL: 'StorPool does not support attaching one volume to '
                     'several hosts over its native block protocol; a '
                     'volume type with multiattach="<is> True" finds no '
                     'backend here',
}


def multiattach_supported(protocol: str) -> bool:
    """Can volumes over `protocol` be attached to several hosts at once?"""
    return protocol not in MULTIATTACH_REASON


def multiattach_reason(protocol: str) -> str | None:
    """Why not (None where it is supported)."""
    return MULTIATTACH_REASON.get(protocol)


class CapabilitiesMixin:
    """The StorPool properties in the driver's capabilities.

    The driver provides `_storage_protocol()`.
    """

    def _init_vendor_properties(self) -> tuple[dict, str]:
        props: dict[str, Any] = {}
        self._set_property(
            props, policy.QOS_CLASS_SPEC, 'QoS class',
            'The StorPool QoS class, set as the volume tag '
            f'{policy.QOS_CLASS_TAG}.', 'string')
        self._set_property(
            props, policy.VC_POLICY_SPEC, 'VolumeCare policy',
            f'Sets the volume tag {policy.VC_POLICY_TAG} for StorPool '
            'VolumeCare.', 'string')
        self._set_property(
            props, policy.TAG_SPEC_PREFIX + '<name>', 'StorPool tag',
            'Sets the volume tag <name>: letters, digits and "_-.:".',
            'string')
        reason = multiattach_reason(self._storage_protocol())
        if reason:
            self._set_property(
                props, f'{VENDOR}:multiattach', 'Multiattach (unsupported)',
                reason, 'boolean', enum=[False], default=False)
        return props, VENDOR
