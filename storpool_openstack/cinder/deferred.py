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
"""Deferred deletion: a deleted volume survives a while as a snapshot.

With ``storpool_deferred_delete_hours`` > 0 the driver turns a deleted
volume into a read-only StorPool snapshot named
``<prefix>--deleted--<unix time>--snapshot-<volume id>`` and tagged
``deleted-at=<unix time>`` and ``keep-until=<unix time>``, then deletes
the volume. The driver's purge task (reaper.py) deletes the snapshots
whose time is up (a bounded number per run), and an operator can list them
(`list_deferred`) or bring a volume back from one with StorPool's own
tools before then.

The time is up at ``keep-until``: the window of the backend that deleted
the volume, so another backend on the same cluster with a shorter window,
or a window shortened later, does not cut it short. Snapshots from before
that tag expire ``hours`` after ``deleted-at``, by the reaping backend's
window.
"""

import time
from typing import Any

from oslo_log import log as logging

from storpool_openstack.common import api as sp_api
from storpool_openstack.common import exception as sp_exc
from storpool_openstack.common import names

LOG = logging.getLogger(__name__)

TAG = 'deleted-at'
TAG_UNTIL = 'keep-until'
REAP_LIMIT = 100  # storpool_deferred_delete_purge_batch's default


def snapshot_name(volume_id: str, prefix: str, deleted_at: int) -> str:
    return names.snapshot_name(volume_id, prefix, kind=names.SNAP_DEFERRED,
                               more=str(int(deleted_at)))


def defer(api: sp_api.StorPoolAPI, volume: str, volume_id: str,
          prefix: str, now: float | None = None,
          hours: int | None = None) -> str | None:
    """Snapshot `volume` as a deferred deletion; None if it is not there.

    `hours`: how long it is kept (the ``keep-until`` tag).
    """
    deleted_at = int(time.time() if now is None else now)
    name = snapshot_name(volume_id, prefix, deleted_at)
    tags = {TAG: str(deleted_at)}
    if hours is not None:
        tags[TAG_UNTIL] = str(deleted_at + int(hours) * 3600)
    try:
        api.snapshot_create(volume, {'name': name, 'tags': tags})
    except sp_exc.NotFound:
        return None
    except sp_exc.AlreadyExists:
        # A retried delete within the same second: it is there already.
        pass
    return name


def list_deferred(api: sp_api.StorPoolAPI, prefix: str,
                  hours: int | None = None) -> list[dict[str, Any]]:
    """The pending deferred deletions, oldest first (one API call).

    Each entry: name, volume_id, deleted_at, expires_at (the
    ``keep-until`` tag; without it `hours` after deleted_at, or None
    without `hours`), size (bytes) and globalId.
    """
    found = []
    for snap in api.snapshots_list():
        parsed = names.parse_snapshot_name(snap.get('name', ''), prefix)
        if (parsed is None or parsed[0] != names.SNAP_DEFERRED or
                snap.get('deleted')):
            continue
        tags = snap.get('tags') or {}
        raw = tags.get(TAG, parsed[1])
        try:
            deleted_at = int(raw)
            until = tags.get(TAG_UNTIL)
            expires_at = (int(until) if until is not None
                          else None if hours is None
                          else deleted_at + int(hours) * 3600)
        except (TypeError, ValueError):
            LOG.warning('Deferred-deletion snapshot %s has no valid %s or '
                        '%s tag (%r, %r); leaving it alone', snap['name'],
                        TAG, TAG_UNTIL, raw, tags.get(TAG_UNTIL))
            continue
        found.append({
            'name': snap['name'], 'volume_id': parsed[2],
            'deleted_at': deleted_at, 'expires_at': expires_at,
            'size': snap.get('size'), 'globalId': snap.get('globalId')})
    found.sort(key=lambda item: (item['deleted_at'], item['name']))
    return found


def reap(api: sp_api.StorPoolAPI, prefix: str, hours: int,
         now: float | None = None, limit: int = REAP_LIMIT) -> list[str]:
    """Delete up to `limit` expired deferred deletions; their names.

    A failure is logged and the next run tries again.
    """
    now = time.time() if now is None else now
    done: list[str] = []
    due = sorted((item for item in list_deferred(api, prefix, hours)
                  if item['expires_at'] <= now),
                 key=lambda item: (item['expires_at'], item['name']))
    for item in due:
        if len(done) >= limit:
            break
        try:
            api.snapshot_delete(item['name'])
        except sp_exc.NotFound:
            pass
        except sp_exc.StorPoolError as err:
            LOG.warning('Could not delete the expired deferred-deletion '
                        'snapshot %s: %s', item['name'], err)
            continue
        LOG.info('Deleted volume %s for good (deferred deletion expired)',
                 item['volume_id'])
        done.append(item['name'])
    return done
