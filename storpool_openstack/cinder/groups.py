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
"""Consistent group snapshots of the StorPool driver.

Only groups of a consistent-snapshot group type are the driver's (Cinder
handles the others generically): a group snapshot is one
VolumesGroupSnapshot call, so every member is taken at the same instant;
a group from a group snapshot or from a source group is one VolumeCreate
per member, the latter through a consistent snapshot of the source taken
for it and deleted afterwards.  A group itself is Cinder's bookkeeping:
nothing of it exists in StorPool.
"""

import time
from typing import Any

from cinder import exception
from cinder.i18n import _
from cinder.volume import volume_utils
from oslo_log import log as logging

from storpool_openstack.cinder.translate import translated
from storpool_openstack.common import exception as sp_exc
from storpool_openstack.common import names

LOG = logging.getLogger(__name__)


class GroupsMixin:
    """Groups for StorPoolDriver (see the module docstring).

    Uses the driver's `_api`, `_prefix`, `_vol_name`, `_snap_name`,
    `_snapshot_vol_name`, `_volume_create_desc`, `delete_volume`,
    `delete_snapshot`, `_try_delete_volume` and `_try_delete_snapshot`.
    """

    def create_group(self, context: Any, group: Any) -> dict:
        _require_cg(group)
        return {'status': 'available'}

    def update_group(self, context: Any, group: Any, add_volumes: Any = None,
                     remove_volumes: Any = None) -> tuple:
        """Nothing in StorPool: the group is Cinder's bookkeeping."""
        _require_cg(group)
        return None, None, None

    def delete_group(self, context: Any, group: Any,
                     volumes: list) -> tuple[dict, list[dict]]:
        _require_cg(group)
        return _delete_each(volumes, self.delete_volume,
                            f'Group {group.id}')

    def create_group_snapshot(self, context: Any, group_snapshot: Any,
                              snapshots: list) -> tuple[dict, list[dict]]:
        """All the snapshots at one instant: one VolumesGroupSnapshot."""
        _require_cg(group_snapshot)
        specs = [{'volume': self._snapshot_vol_name(snap),
                  'name': self._snap_name(snap)} for snap in snapshots]
        if specs:
            with translated(f'snapshot group {group_snapshot.group_id} as',
                            snapshot_id=group_snapshot.id):
                self._group_snapshot(specs)
        return ({'status': 'available'},
                [{'id': snap.id, 'status': 'available'}
                 for snap in snapshots])

    def _group_snapshot(self, specs: list[dict]) -> None:
        """One VolumesGroupSnapshot; done if a lost first attempt did it.

        The names hold unique Cinder ids: if StorPool says one exists and
        every one is there, of its own volume, the lost attempt made them.
        """
        try:
            self._api.group_snapshot(specs)
        except sp_exc.AlreadyExists:
            for spec in specs:
                try:
                    found = self._api.snapshot(spec['name'])
                except sp_exc.NotFound:
                    found = {}
                if found.get('onVolume') != spec['volume']:
                    raise

    def delete_group_snapshot(self, context: Any, group_snapshot: Any,
                              snapshots: list) -> tuple[dict, list[dict]]:
        _require_cg(group_snapshot)
        return _delete_each(snapshots, self.delete_snapshot,
                            f'Group snapshot {group_snapshot.id}')

    def create_group_from_src(self, context: Any, group: Any, volumes: list,
                              group_snapshot: Any = None,
                              snapshots: list | None = None,
                              source_group: Any = None,
                              source_vols: list | None = None
                              ) -> tuple[dict, list[dict]]:
        """Every volume from its snapshot in one VolumeCreate each.

        From a source group: from a consistent snapshot of it taken for
        this and deleted afterwards. On a failure everything made so far
        is removed.
        """
        _require_cg(group)
        temp: list[str] = []
        if group_snapshot is not None and snapshots:
            parents = [self._snap_name(snap) for snap in snapshots]
        elif source_group is not None and source_vols:
            stamp = str(int(time.time()))
            parents = [names.snapshot_name(vol.id, self._prefix,
                                           kind=names.SNAP_GROUP, more=stamp)
                       for vol in volumes]
            # Removed whatever happens, even if the call seemed to fail.
            temp = parents
            try:
                with translated(
                        f'snapshot source group {source_group.id} for',
                        volume_id=group.id):
                    self._group_snapshot([
                        {'volume': self._vol_name(src), 'name': parent}
                        for src, parent in zip(source_vols, parents)])
            except Exception:
                for name in temp:
                    self._try_delete_snapshot(name)
                raise
        else:
            raise exception.InvalidInput(
                reason=_('create_group_from_src needs a group snapshot or '
                         'a source group with volumes'))
        created: list[str] = []
        try:
            for volume, parent in zip(volumes, parents):
                desc = self._volume_create_desc(volume, derived=True)
                desc['parent'] = parent
                with translated('create (group from source)',
                                volume_id=volume.id, sp_name=desc['name']):
                    self._api.volume_create(desc)
                created.append(desc['name'])
        except Exception:
            for name in created:
                self._try_delete_volume(name)
            raise
        finally:
            for name in temp:
                self._try_delete_snapshot(name)
        return ({'status': 'available'},
                [{'id': vol.id, 'status': 'available'} for vol in volumes])


def _delete_each(objs: list, delete: Any,
                 what: str) -> tuple[dict, list[dict]]:
    """Delete every member; the group's and each member's status.

    One failure does not stop the others; it makes the group
    error_deleting, as the volume manager expects.
    """
    updates = []
    for obj in objs:
        try:
            delete(obj)
            updates.append({'id': obj.id, 'status': 'deleted'})
        except exception.CinderException as err:
            LOG.error('%(what)s: %(err)s', {'what': what, 'err': err})
            updates.append({'id': obj.id, 'status': 'error_deleting'})
    failed = any(u['status'] == 'error_deleting' for u in updates)
    return {'status': 'error_deleting' if failed else 'deleted'}, updates


def _require_cg(group: Any) -> None:
    """Only consistent-snapshot groups are ours; Cinder does the rest."""
    if not volume_utils.is_group_a_cg_snapshot_type(group):
        raise NotImplementedError()
