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

"""The StorPool API calls: query name -> model method.

Kept apart from the HTTP code so the routing table is easy to read and
to extend; each entry says the verb, how many path arguments the call
takes and whether it has a JSON body.
"""

import typing

from storpool_openstack.emulator import errors
from storpool_openstack.emulator import model
from storpool_openstack.emulator import validate

Handler = typing.Callable[[model.Cluster, list[str], typing.Any],
                          typing.Any]


class Call(typing.NamedTuple):
    verb: str
    nargs: int
    body: bool
    func: Handler
    mutating: bool


def _get(nargs: int, func: Handler) -> Call:
    return Call('GET', nargs, False, func, False)


def _post(nargs: int, body: bool, func: Handler) -> Call:
    return Call('POST', nargs, body, func, True)


def _client_wait(cl: model.Cluster, args: list[str],
                 _body: typing.Any) -> list[dict]:
    cid = validate.client_ids([args[0]], 'clientId')[0]
    return [c for c in cl.clients_config_dump() if c['id'] == cid]


def _pg_describe(cl: model.Cluster, args: list[str],
                 _body: typing.Any) -> dict:
    pgs = cl.placement_groups_list()
    if args[0] not in pgs:
        raise errors.does_not_exist('PlacementGroup', args[0])
    return pgs[args[0]]


def _reassign(cl: model.Cluster, _args: list[str],
              body: typing.Any) -> dict:
    with cl.lock:
        cl.volumes_reassign(body)
        return {'ok': True, 'generation': cl.generation}


def _template_create(cl: model.Cluster, _args: list[str],
                     body: typing.Any) -> dict:
    if not isinstance(body, dict):
        raise errors.invalid('VolumeTemplateCreate: expected an object')
    with cl.lock:
        cl.add_template(body)
        return {'ok': True, 'generation': cl.generation}


CALLS: dict[str, Call] = {
    'VolumesList': _get(0, lambda c, a, b: c.volumes_list()),
    'Volume': _get(1, lambda c, a, b: c.volume(a[0])),
    'VolumeDescribe': _get(1, lambda c, a, b: c.volume_describe(a[0])),
    'VolumeGetInfo': _get(1, lambda c, a, b: c.volume_info(a[0])),
    'VolumeListSnapshots': _get(
        1, lambda c, a, b: c.volume_list_snapshots(a[0])),
    'SnapshotsList': _get(0, lambda c, a, b: c.snapshots_list()),
    'Snapshot': _get(1, lambda c, a, b: c.snapshot(a[0])),
    'SnapshotDescribe': _get(1, lambda c, a, b: c.snapshot_describe(a[0])),
    'SnapshotGetInfo': _get(1, lambda c, a, b: c.snapshot_info(a[0])),
    'AttachmentsList': _get(0, lambda c, a, b: c.attachments_list()),
    'VolumeTemplatesList': _get(0, lambda c, a, b: c.templates_list()),
    'VolumeTemplatesStatus': _get(0, lambda c, a, b: c.templates_status()),
    'VolumeTemplateDescribe': _get(
        1, lambda c, a, b: c.template_describe(a[0])),
    'DisksList': _get(0, lambda c, a, b: c.disks_list()),
    'VolumesSpace': _get(0, lambda c, a, b: c.volumes_space()),
    'SnapshotsSpace': _get(0, lambda c, a, b: c.snapshots_space()),
    'VolumesGetStatus': _get(0, lambda c, a, b: c.volumes_status()),
    'PlacementGroupsList': _get(
        0, lambda c, a, b: c.placement_groups_list()),
    'PlacementGroupDescribe': _get(1, _pg_describe),
    'ServicesList': _get(0, lambda c, a, b: c.services_list()),
    'ServersList': _get(0, lambda c, a, b: c.services_list()),
    'ClientsConfigDump': _get(0, lambda c, a, b: c.clients_config_dump()),
    'ClientConfigWait': _get(1, _client_wait),
    'VolumeCreate': _post(0, True, lambda c, a, b: c.volume_create(b)),
    'VolumeUpdate': _post(1, True, lambda c, a, b: c.volume_update(a[0], b)),
    'VolumeDelete': _post(1, False, lambda c, a, b: c.volume_delete(a[0])),
    'VolumeRevert': _post(1, True, lambda c, a, b: c.volume_revert(a[0], b)),
    'VolumeSnapshot': _post(
        1, True, lambda c, a, b: c.volume_snapshot(a[0], b)),
    'SnapshotUpdate': _post(
        1, True, lambda c, a, b: c.snapshot_update(a[0], b)),
    'SnapshotDelete': _post(
        1, False, lambda c, a, b: c.snapshot_delete(a[0])),
    'VolumesGroupSnapshot': _post(
        0, True, lambda c, a, b: c.volumes_group_snapshot(b)),
    'VolumesReassign': _post(0, True, _reassign),
    'VolumesReassignWait': _post(
        0, True, lambda c, a, b: c.volumes_reassign_wait(b)),
    'VolumeTemplateCreate': _post(0, True, _template_create),
}


def _iscsi_change(cl: model.Cluster, _args: list[str],
                  body: typing.Any) -> dict:
    with cl.lock:
        cl.iscsi.change(body)
        return cl.ok()


CALLS['iSCSIConfig'] = _get(0, lambda c, a, b: c.iscsi.describe())
# A query that takes both verbs: GET reads, POST changes (iSCSIConfig).
BY_VERB: dict[tuple[str, str], Call] = {
    ('POST', 'iSCSIConfig'): _post(0, True, _iscsi_change),
}


def dispatch(cluster: model.Cluster, verb: str, query: str,
             args: list[str], body: typing.Any) -> typing.Any:
    """Run one API call; raises EmulatorError for anything refused."""
    call = BY_VERB.get((verb, query)) or CALLS.get(query)
    if call is None:
        raise errors.EmulatorError('invalidParam',
                                   f'Unknown API call {query!r}', 404)
    if verb != call.verb:
        raise errors.EmulatorError(
            'invalidParam',
            f'{query} must be called with {call.verb}, not {verb}', 405)
    if len(args) != call.nargs:
        raise errors.invalid(f'{query} takes {call.nargs} path '
                             f'argument(s), got {len(args)}')
    if call.verb == 'POST' and not call.body and body is not None:
        raise errors.invalid(f'{query} takes no JSON body')
    return call.func(cluster, args, body)
