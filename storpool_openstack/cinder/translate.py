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
"""StorPool errors -> the cinder.exception classes the manager expects.

The volume manager acts on the class: VolumeIsBusy keeps a volume
'available' instead of 'error_deleting', SnapshotNotFound on delete is
success, and so on. The message always says what the driver was doing,
to which Cinder object, under which StorPool name, and what StorPool said.
"""

import contextlib
from typing import Iterator

from cinder import exception

from storpool_openstack.common import exception as sp_exc


def to_cinder(err: Exception, action: str, *,
              volume_id: str | None = None,
              snapshot_id: str | None = None,
              sp_name: str | None = None,
              missing: str | None = None) -> exception.CinderException:
    """The Cinder exception for StorPool error `err`.

    `missing` says which object a "does not exist" answer is about
    ('volume' or 'snapshot'; by default the snapshot if one is named;
    anything else, e.g. 'template', for neither).
    """
    what = []
    if volume_id:
        what.append(f'volume {volume_id}')
    if snapshot_id:
        what.append(f'snapshot {snapshot_id}')
    subject = ' / '.join(what) or 'StorPool'
    named = f' (StorPool {sp_name})' if sp_name else ''
    msg = f'Could not {action} {subject}{named}: {err}'
    if missing is None:
        missing = 'snapshot' if snapshot_id else 'volume'
    if isinstance(err, sp_exc.NotFound):
        if missing == 'snapshot' and snapshot_id:
            return exception.SnapshotNotFound(message=msg,
                                              snapshot_id=snapshot_id)
        if missing == 'volume' and volume_id:
            return exception.VolumeNotFound(message=msg, volume_id=volume_id)
    if isinstance(err, sp_exc.Busy):
        if snapshot_id and not volume_id:
            return exception.SnapshotIsBusy(
                message=msg, snapshot_name=sp_name or snapshot_id)
        return exception.VolumeIsBusy(message=msg,
                                      volume_name=sp_name or volume_id)
    return exception.VolumeBackendAPIException(data=msg)


@contextlib.contextmanager
def translated(action: str, **kwargs: str | None) -> Iterator[None]:
    """Raise every StorPool error inside as `to_cinder(...)` would."""
    try:
        yield
    except sp_exc.StorPoolError as err:
        raise to_cinder(err, action, **kwargs) from err
