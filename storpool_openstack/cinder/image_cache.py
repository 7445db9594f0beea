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
"""The driver's image cache: names, tags, upkeep, listing and purging.

A cached image is a StorPool snapshot
`<prefix>--image--<hash>--snapshot-<image id>`; every later volume from
that image is a copy-on-write child of it. The driver's image mixin
(`image`, which needs Cinder) adds entries, records their use and trims
the cache with the functions here; the operator's CLI lists and purges
with them, anywhere.
"""

import contextlib
import time

from oslo_log import log as logging

from storpool_openstack.common import exception as sp_exception
from storpool_openstack.common import names

LOG = logging.getLogger(__name__)

TAG_IMAGE = 'image'
TAG_HASH = 'imghash'
TAG_USED = 'lastuse'
HASH_LEN = 16
# A cache hit writes its "last used" tag at most this often, so that the
# usual hit is a single VolumeCreate call.
LRU_RESOLUTION = 600


def image_hash(image_meta: dict) -> str | None:
    """A short, name-safe digest of the image data, or None if unknown."""
    value = image_meta.get('os_hash_value') or image_meta.get('checksum')
    if not value:
        return None
    value = ''.join(c for c in str(value).lower() if c.isalnum())
    return value[:HASH_LEN] or None


def cache_snapshot_name(image_id: str, digest: str,
                        prefix: str = names.DEFAULT_PREFIX) -> str:
    return names.snapshot_name(image_id, prefix, kind=names.SNAP_IMAGE,
                               more=digest)


def parse_cache_name(name: str, prefix: str) -> tuple[str, str] | None:
    """(image id, hash) of an image cache snapshot name, else None."""
    parsed = names.parse_snapshot_name(name, prefix)
    if not parsed or parsed[0] != names.SNAP_IMAGE or not parsed[1]:
        return None
    return parsed[2], parsed[1]


def list_image_cache(api, prefix: str = names.DEFAULT_PREFIX) -> list[dict]:
    """The cached image snapshots, least recently used first.

    Each entry: name, image_id, hash, last_used (epoch seconds or 0),
    size (bytes).
    """
    entries = []
    for snap in api.snapshots_list():
        parsed = parse_cache_name(snap.get('name', ''), prefix)
        if parsed is None:
            continue
        tags = snap.get('tags') or {}
        try:
            last_used = int(tags.get(TAG_USED, 0))
        except ValueError:
            last_used = 0
        entries.append({'name': snap['name'], 'image_id': parsed[0],
                        'hash': parsed[1], 'last_used': last_used,
                        'size': snap.get('size')})
    entries.sort(key=lambda entry: (entry['last_used'], entry['name']))
    return entries


def purge_image_cache(api, prefix: str = names.DEFAULT_PREFIX, *,
                      image_id: str | None = None, keep: int = 0,
                      dry_run: bool = False,
                      failed: list[tuple[str, str]] | None = None
                      ) -> list[str]:
    """Delete cached image snapshots; return the names deleted.

    With image_id, only that image's entries; with keep=N, the N most
    recently used entries stay; with dry_run, nothing is deleted and the
    names that would be are returned. Volumes made from an entry keep
    working: StorPool frees the snapshot's data only when its last child
    is gone. With a `failed` list, an entry StorPool will not delete is
    added to it as (name, error) and the purge goes on with the others;
    without one, the error is raised.
    """
    entries = list_image_cache(api, prefix)
    if image_id is not None:
        entries = [e for e in entries if e['image_id'] == image_id]
    if keep > 0:
        entries = entries[:-keep] if len(entries) > keep else []
    if dry_run:
        return [entry['name'] for entry in entries]
    deleted = []
    for entry in entries:
        try:
            api.snapshot_delete(entry['name'])
        except sp_exception.NotFound:
            continue
        except sp_exception.StorPoolError as err:
            if failed is None:
                raise
            LOG.warning('Image cache: could not delete %s: %s',
                        entry['name'], err)
            failed.append((entry['name'], str(err)))
            continue
        deleted.append(entry['name'])
        LOG.info('Image cache: deleted %s (image %s)', entry['name'],
                 entry['image_id'])
    return deleted


# Upkeep by the driver


def touch(api, snap: str, touched: dict[str, float]) -> None:
    """Record a use of entry `snap` in its tag, at most every LRU_RESOLUTION.

    `touched`: when this process last tagged each entry (the caller keeps
    it); a failure is only logged.
    """
    now = time.time()
    if now - touched.get(snap, 0) < LRU_RESOLUTION:
        return
    try:
        info = api.snapshot(snap)
        tags = dict(info.get('tags') or {})
        tags[TAG_USED] = str(int(now))
        api.snapshot_update(snap, {'tags': tags})
        touched[snap] = now
    except sp_exception.StorPoolError as exc:
        LOG.debug('Could not tag %s as used: %s', snap, exc)


def add(api, volume: str, image_id: str, digest: str, prefix: str,
        touched: dict[str, float]) -> str | None:
    """Snapshot StorPool `volume` (exactly the image) as the image's entry.

    Its name, or None if none was made (it is there already, or StorPool
    refused: logged). `touched` as for `touch`.
    """
    snap = cache_snapshot_name(image_id, digest, prefix)
    now = int(time.time())
    tags = {TAG_IMAGE: image_id, TAG_HASH: digest, TAG_USED: str(now)}
    try:
        api.snapshot_create(volume, {'name': snap, 'tags': tags})
    except sp_exception.AlreadyExists:
        LOG.debug('Image cache entry %s already exists', snap)
        return None
    except sp_exception.StorPoolError as exc:
        LOG.warning('Could not cache image %(image)s: %(err)s',
                    {'image': image_id, 'err': exc})
        return None
    touched[snap] = now
    LOG.info('Image cache: %(snap)s keeps image %(image)s', {
        'snap': snap, 'image': image_id})
    return snap


def trim(api, prefix: str, image_id: str, keep_name: str,
         limit: int) -> None:
    """Drop stale entries of this image and the least recently used.

    Every entry of `image_id` but `keep_name` goes; then, with `limit` >
    0, the least recently used others until `limit` are left. A failure
    is only logged.
    """
    try:
        entries = list_image_cache(api, prefix)
        doomed = [e for e in entries if e['image_id'] == image_id
                  and e['name'] != keep_name]
        rest = [e for e in entries if e not in doomed]
        if limit > 0 and len(rest) > limit:
            others = [e for e in rest if e['name'] != keep_name]
            doomed += others[:len(rest) - limit]
        for entry in doomed:
            with contextlib.suppress(sp_exception.NotFound):
                api.snapshot_delete(entry['name'])
            LOG.info('Image cache: dropped %(snap)s (image %(image)s)',
                     {'snap': entry['name'], 'image': entry['image_id']})
    except sp_exception.StorPoolError as exc:
        LOG.warning('Could not trim the image cache: %s', exc)
