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
"""Manage and unmanage: StorPool objects made outside Cinder, and back.

`manage_existing` takes a StorPool volume (by name or global id) into
Cinder with one VolumeUpdate: the Cinder name, the volume type's policy
and a size rounded up to whole GiB; `manage_existing_snapshot` renames a
snapshot. An object that is another Cinder volume's or snapshot's is
refused (managing it would rename it away from under that one).
`unmanage` renames the object out of the driver's namespace
(``<prefix>--unmanaged--volume-<id>``): it stays in StorPool with its
data. `get_manageable_volumes`/`_snapshots` list what StorPool has and
Cinder does not (one list call each).
"""

import math
from typing import Any

from cinder import context as cinder_context
from cinder import exception
from cinder.i18n import _
from cinder import objects
from cinder.volume import volume_utils
from oslo_log import log as logging
from oslo_utils import units

from storpool_openstack.cinder import policy
from storpool_openstack.cinder.translate import to_cinder
from storpool_openstack.cinder.translate import translated
from storpool_openstack.common import exception as sp_exc
from storpool_openstack.common import names

LOG = logging.getLogger(__name__)

MANAGE_FAILED = ('error_managing', 'error_managing_deleting')


def _gib(nbytes: int) -> int:
    return int(math.ceil(nbytes / units.Gi))


class ManageMixin:
    """Manage and unmanage for StorPoolDriver (see the module docstring).

    Uses the driver's `_api`, `_prefix`, `_vol_name`, `_snap_name`,
    `_volume_policy`, `_replication` and `_renamed_anyway`.
    """

    def _find(self, existing_ref: dict, own_id: str, *,
              snapshot: bool) -> dict:
        """The StorPool object that `source-name`/`source-id` names.

        Refused if it is another Cinder object's (`own_id` is the id of
        the one being managed).
        """
        kind = 'snapshot' if snapshot else 'volume'
        ref = (existing_ref or {}).get('source-name')
        gid = (existing_ref or {}).get('source-id')
        if not ref and gid:
            if not names.is_global_id(str(gid)):
                raise exception.ManageExistingInvalidReference(
                    existing_ref=existing_ref,
                    reason=_('source-id %s is not a StorPool global id '
                             '(like d.n.buy)') % gid)
            ref = names.global_id_ref(str(gid))
        if not ref:
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason=_('give the StorPool %s name as source-name or its '
                         'global id as source-id') % kind)
        try:
            found = self._api.snapshot(ref) if snapshot else \
                self._api.volume(ref)
        except sp_exc.NotFound:
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason=_('there is no StorPool %(kind)s %(ref)s') % {
                    'kind': kind, 'ref': ref})
        except sp_exc.StorPoolError as err:
            raise to_cinder(err, f'look up {kind} {ref} to manage it as')
        owner = self._owner(found['name'], own_id, snapshot=snapshot)
        if owner is not None:
            raise exception.ManageExistingAlreadyManaged(
                volume_ref=_('%(name)s (it holds Cinder %(kind)s %(owner)s)')
                % {'name': found['name'], 'kind': kind, 'owner': owner})
        return found

    def _owner(self, name: str, own_id: str, *,
               snapshot: bool) -> str | None:
        """The other Cinder volume/snapshot whose StorPool object it is.

        Managing it would rename it away from under that one.
        """
        ctxt = cinder_context.get_admin_context()
        if snapshot:
            parsed = names.parse_snapshot_name(name, self._prefix)
            if parsed is None or parsed[0] != names.SNAP_CINDER or \
                    parsed[2] == own_id:
                return None
            return parsed[2] if objects.Snapshot.exists(ctxt, parsed[2]) \
                else None
        vid = names.parse_volume_name(name, self._prefix)
        if vid is None or vid == own_id:
            return None
        # A volume whose manage failed has nothing: its delete must not
        # find the data again under its name.
        for filters in ({'id': vid}, {'_name_id': vid}):
            for user in objects.VolumeList.get_all(ctxt, filters=filters):
                if user.status not in MANAGE_FAILED:
                    return user.id
        return None

    def manage_existing_get_size(self, volume: Any,
                                 existing_ref: dict) -> int:
        found = self._find(existing_ref, volume.id, snapshot=False)
        return _gib(found['size'])

    def manage_existing(self, volume: Any, existing_ref: dict) -> None:
        """One VolumeUpdate: our name, the type's policy, whole GiB."""
        found = self._find(existing_ref, volume.id, snapshot=False)
        name = self._vol_name(volume)
        if found['name'] == name:
            return
        parsed = names.parse_volume_name(found['name'], self._prefix)
        if parsed is not None and parsed != volume.id:
            LOG.warning('Managing %(name)s, which was the volume of Cinder '
                        'volume %(other)s (no longer in Cinder)',
                        {'name': found['name'], 'other': parsed})
        size_gb = _gib(found['size'])
        pol = self._volume_policy(volume, size_gb)
        desc = policy.update_fields(policy.Policy(), pol,
                                    self._replication())
        if not pol.template:
            desc.pop('replication', None)
        desc['rename'] = name
        if size_gb * units.Gi != found['size']:
            desc['size'] = size_gb * units.Gi
        self._update_to_manage(found, desc, snapshot=False,
                               volume_id=volume.id)

    def _update_to_manage(self, found: dict, desc: dict, *, snapshot: bool,
                          **ids: str) -> None:
        """The one update (a rename, `desc['rename']`) that manages it."""
        update = (self._api.snapshot_update if snapshot
                  else self._api.volume_update)
        name = desc['rename']
        try:
            update(found['name'], desc)
        except sp_exc.StorPoolError as err:
            if not self._renamed_anyway(err, name, found.get('globalId'),
                                        snapshot=snapshot):
                kind = 'snapshot' if snapshot else 'volume'
                raise to_cinder(
                    err, f'manage StorPool {kind} {found["name"]} as',
                    sp_name=name, **ids) from err

    def unmanage(self, volume: Any) -> None:
        """Rename it out of our namespace: <prefix>--unmanaged--volume-<id>.

        The volume stays in StorPool with all its data; the new name says
        where it came from, and a volume of that id can never clash.
        """
        name = self._vol_name(volume)
        new = f'{self._prefix}--{names.UNMANAGED}--volume-{volume.id}'
        with translated('unmanage', volume_id=volume.id, sp_name=name):
            try:
                self._api.volume_update(name, {'rename': new})
            except sp_exc.NotFound:
                LOG.warning('Unmanaging volume %s: %s is not in StorPool',
                            volume.id, name)

    def manage_existing_snapshot_get_size(self, snapshot: Any,
                                          existing_ref: dict) -> int:
        found = self._find(existing_ref, snapshot.id, snapshot=True)
        return _gib(found['size'])

    def manage_existing_snapshot(self, snapshot: Any,
                                 existing_ref: dict) -> None:
        found = self._find(existing_ref, snapshot.id, snapshot=True)
        name = self._snap_name(snapshot)
        if found['name'] == name:
            return
        self._update_to_manage(found, {'rename': name}, snapshot=True,
                               snapshot_id=snapshot.id)

    def unmanage_snapshot(self, snapshot: Any) -> None:
        name = self._snap_name(snapshot)
        new = names.snapshot_name(snapshot.id, self._prefix,
                                  kind=names.UNMANAGED)
        with translated('unmanage', snapshot_id=snapshot.id, sp_name=name):
            try:
                self._api.snapshot_update(name, {'rename': new})
            except sp_exc.NotFound:
                LOG.warning('Unmanaging snapshot %s: %s is not in StorPool',
                            snapshot.id, name)

    def get_manageable_volumes(self, cinder_volumes: list, marker: Any,
                               limit: int, offset: int, sort_keys: list,
                               sort_dirs: list) -> list[dict]:
        """StorPool volumes not managed here (one VolumesList call)."""
        managed = _managed_ids(cinder_volumes)
        with translated('list the volumes of'):
            found = self._api.volumes_list()
        entries = []
        for vol in found:
            name = vol['name']
            if name.startswith('#'):
                continue
            vid = names.parse_volume_name(name, self._prefix)
            entry = {'reference': {'source-name': name},
                     'size': _gib(vol['size']), 'cinder_id': None,
                     'safe_to_manage': True, 'reason_not_safe': None,
                     'extra_info': 'globalId %s, template %s' % (
                         vol.get('globalId'), vol.get('templateName') or '-')}
            if vid is not None and vid in managed:
                entry.update(safe_to_manage=False, cinder_id=managed[vid],
                             reason_not_safe='already managed')
            entries.append(entry)
        return volume_utils.paginate_entries_list(
            entries, marker, limit, offset, sort_keys, sort_dirs)

    def get_manageable_snapshots(self, cinder_snapshots: list, marker: Any,
                                 limit: int, offset: int, sort_keys: list,
                                 sort_dirs: list) -> list[dict]:
        """StorPool snapshots not managed here (one SnapshotsList call)."""
        managed = _managed_ids(cinder_snapshots)
        with translated('list the snapshots of'):
            found = self._api.snapshots_list()
        entries = []
        for snap in found:
            name = snap['name']
            if snap.get('deleted') or snap.get('autoName') or \
                    snap.get('transient') or name.startswith('*'):
                continue
            entry = {'reference': {'source-name': name},
                     'size': _gib(snap['size']), 'cinder_id': None,
                     'safe_to_manage': True, 'reason_not_safe': None,
                     'source_reference': {'source-name':
                                          snap.get('onVolume') or None},
                     'extra_info': f'globalId {snap.get("globalId")}'}
            parsed = names.parse_snapshot_name(name, self._prefix)
            if parsed is not None:
                kind, _more, sid = parsed
                if kind == names.SNAP_CINDER and sid in managed:
                    entry.update(safe_to_manage=False,
                                 cinder_id=managed[sid],
                                 reason_not_safe='already managed')
                elif kind not in (names.SNAP_CINDER, names.UNMANAGED):
                    entry.update(safe_to_manage=False,
                                 reason_not_safe=f'used by the driver '
                                                 f'({kind})')
            entries.append(entry)
        return volume_utils.paginate_entries_list(
            entries, marker, limit, offset, sort_keys, sort_dirs)


def _managed_ids(objs: list) -> dict[str, str]:
    """{StorPool name id: Cinder id} of the volumes/snapshots Cinder has."""
    out = {}
    for obj in objs or []:
        out[obj['id']] = obj['id']
        name_id = obj.get('name_id') if hasattr(obj, 'get') else None
        if name_id:
            out[name_id] = obj['id']
    return out
