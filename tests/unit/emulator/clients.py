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

"""The two real client generations behind one small interface.

The scenario table in test_clients runs every step through
``storpool.spapi.Api`` (plain and multi-cluster paths) and os-brick's
``storpool_utils.StorPoolAPI`` so that both see the same emulator.
"""

import typing
from unittest import mock

from os_brick.initiator import storpool_utils
from storpool import spapi
from storpool import sptypes

CLIENTS = ('spapi', 'spapi_mc', 'brick')


def _plain(obj: typing.Any) -> typing.Any:
    if hasattr(obj, 'to_json'):
        return {k: _plain(v) for k, v in obj.to_json().items()}
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


class SpapiClient(object):
    """storpool.spapi.Api 7.3.0."""

    errors = (spapi.ApiError,)
    has_group_snapshot = True
    ids_as_strings = False

    def __init__(self, emu: typing.Any, multi: bool,
                 retries: int = 0) -> None:
        self.multi = multi
        self.api = spapi.Api(emu.host, emu.port, emu.token,
                             transientRetries=retries,
                             transientSleep=lambda retry: 0,
                             multiCluster=multi)

    def mc(self, query: str) -> bool:
        """Does this client send ``query`` under MultiCluster/?"""
        return self.multi and query not in (
            'DisksList', 'SnapshotUpdate', 'VolumeTemplatesList')

    def client_id(self, cid: int) -> typing.Any:
        return cid

    def create(self, desc: dict) -> None:
        self.api.volumeCreate(desc)

    def volume(self, name: str) -> dict:
        res = self.api.volumeList(name)
        assert len(res) == 1, res
        assert isinstance(res[0], sptypes.VolumeSummary)
        return _plain(res[0])

    def info(self, name: str) -> dict:
        return _plain(self.api.volumeInfo(name))

    def names(self) -> typing.List[str]:
        return [v.name for v in self.api.volumesList()]

    def update(self, name: str, desc: dict) -> None:
        self.api.volumeUpdate(name, desc)

    def delete(self, name: str) -> None:
        self.api.volumeDelete(name)

    def snapshot(self, volume: str, desc: dict) -> None:
        self.api.snapshotCreate(volume, desc)

    def snapshot_update(self, name: str, desc: dict) -> None:
        self.api.snapshotUpdate(name, desc)

    def snapshot_delete(self, name: str) -> None:
        self.api.snapshotDelete(name)

    def revert(self, name: str, snapshot: str) -> None:
        self.api.volumeRevert(name, {'toSnapshot': snapshot})

    def reassign(self, items: list) -> None:
        self.api.volumesReassign(json=items)

    def reassign_wait(self, desc: dict) -> None:
        self.api.volumesReassignWait(desc)

    def group_snapshot(self, desc: dict) -> dict:
        return _plain(self.api.snapshotCreateGroup(desc))

    def templates(self) -> typing.List[str]:
        return [t.name for t in self.api.volumeTemplatesList()]

    def disks(self) -> typing.Dict[int, dict]:
        res = self.api.disksList()
        for disk in res.values():
            # A missing field would silently make it a DownDiskSummary.
            assert isinstance(disk, sptypes.UpDiskSummary), disk
        return {int(k): _plain(v) for k, v in res.items()}


class BrickClient(object):
    """os_brick.initiator.storpool_utils.StorPoolAPI (os-brick 7.1)."""

    errors = (storpool_utils.StorPoolAPIError,)
    has_group_snapshot = False
    ids_as_strings = True

    def __init__(self, emu: typing.Any, retries: int = 0) -> None:
        self.api = storpool_utils.StorPoolAPI(
            emu.host, str(emu.port), emu.token, transient_retries=retries)

    def mc(self, query: str) -> bool:
        return query not in ('DisksList', 'SnapshotUpdate',
                             'VolumeTemplatesList')

    def client_id(self, cid: int) -> typing.Any:
        # os-brick sends SP_OURID as read from the config: a string.
        return str(cid)

    def create(self, desc: dict) -> None:
        self.api.volume_create(desc)

    def volume(self, name: str) -> dict:
        res = self.api.volume(name)
        assert len(res) == 1, res
        return res[0]

    def info(self, name: str) -> dict:
        return self.api.volume_get_info(name)

    def names(self) -> typing.List[str]:
        return [v['name'] for v in self.api.volumes_list()]

    def update(self, name: str, desc: dict) -> None:
        self.api.volume_update(name, desc)

    def delete(self, name: str) -> None:
        self.api.volume_delete(name)

    def snapshot(self, volume: str, desc: dict) -> None:
        self.api.snapshot_create(volume, desc)

    def snapshot_update(self, name: str, desc: dict) -> None:
        self.api.snapshot_update(name, desc)

    def snapshot_delete(self, name: str) -> None:
        self.api.snapshot_delete(name)

    def revert(self, name: str, snapshot: str) -> None:
        self.api.volume_revert(name, {'toSnapshot': snapshot})

    def reassign(self, items: list) -> None:
        self.api.volumes_reassign(items)

    def reassign_wait(self, desc: dict) -> None:
        self.api.volumes_reassign_wait(desc)

    def group_snapshot(self, desc: dict) -> dict:
        raise NotImplementedError('storpool_utils has no group snapshot')

    def templates(self) -> typing.List[str]:
        return [t['name'] for t in self.api.volume_templates_list()]

    def disks(self) -> typing.Dict[int, dict]:
        return {int(k): v for k, v in self.api.disks_list().items()}


def make(kind: str, emu: typing.Any, retries: int = 0) -> typing.Any:
    if kind == 'brick':
        return BrickClient(emu, retries)
    return SpapiClient(emu, kind == 'spapi_mc', retries)


def no_brick_sleep() -> typing.Any:
    """storpool_utils sleeps 2**n s between retries and has no knob."""
    return mock.patch.object(storpool_utils, 'time',
                             mock.Mock(sleep=lambda secs: None))
