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

"""A concurrent Cinder workload through python-cinderclient.

Workers pick operations at random (create, create from an image, clone,
snapshot, volume from snapshot, extend, retype, group snapshot, delete) on
a shared pool of resources; a resource is used by one worker at a time.
Each operation is one REST call and a wait for a final state.
"""

import dataclasses
import random
import threading
import time
import typing

from cinderclient import client as cinder_client
from cinderclient import exceptions as cinder_exc
from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session

API_VERSION = '3.50'
FINAL = {'available', 'error', 'error_deleting', 'error_extending',
         'in-use', 'deleted', 'error_restoring'}
OPS = ('create', 'create_from_image', 'clone', 'snapshot', 'from_snapshot',
       'extend', 'retype', 'group_snapshot', 'delete_volume',
       'delete_snapshot')
MAX_SIZE = 3


def client(creds: typing.Dict[str, str]) -> typing.Any:
    auth = v3.Password(auth_url=creds['auth_url'],
                       username=creds['username'],
                       password=creds['password'],
                       project_name=creds['project_name'],
                       user_domain_name=creds['user_domain_name'],
                       project_domain_name=creds['project_domain_name'])
    return cinder_client.Client(API_VERSION,
                                session=ks_session.Session(auth=auth),
                                region_name=creds['region_name'])


class Stuck(Exception):
    """A resource did not reach a final state in time."""


def wait_final(get: typing.Callable[[], typing.Any], timeout: float
               ) -> str:
    """Poll until the status is final (or the resource is gone)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = get().status
        except cinder_exc.NotFound:
            return 'deleted'
        if status in FINAL:
            return status
        if time.monotonic() > deadline:
            raise Stuck(status)
        time.sleep(0.5)


@dataclasses.dataclass
class Result:
    ops: int = 0
    seconds: float = 0.0
    done: typing.Dict[str, int] = dataclasses.field(default_factory=dict)
    errors: typing.List[str] = dataclasses.field(default_factory=list)
    stuck: typing.List[str] = dataclasses.field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0


class Pool(object):
    """The resources the workers share; each taken by one at a time."""

    def __init__(self, volumes: typing.Dict[str, int],
                 groups: typing.List[str]) -> None:
        self.lock = threading.Lock()
        self.volumes = dict(volumes)            # id -> size
        self.snapshots: typing.Dict[str, typing.Tuple[str, int]] = {}
        self.groups = list(groups)
        self.snap_count: typing.Dict[str, int] = {}
        self.rng = random.Random(14)

    def take_volume(self, *, without_snapshots: bool = False
                    ) -> typing.Optional[typing.Tuple[str, int]]:
        with self.lock:
            ids = [v for v in self.volumes if not without_snapshots or
                   not self.snap_count.get(v)]
            if not ids:
                return None
            vid = self.rng.choice(sorted(ids))
            return vid, self.volumes.pop(vid)

    def put_volume(self, vid: str, size: int) -> None:
        with self.lock:
            self.volumes[vid] = size

    def take_snapshot(self) -> typing.Optional[typing.Tuple[str, str, int]]:
        with self.lock:
            if not self.snapshots:
                return None
            sid = self.rng.choice(sorted(self.snapshots))
            vid, size = self.snapshots.pop(sid)
            return sid, vid, size

    def put_snapshot(self, sid: str, vid: str, size: int,
                     new: bool = False) -> None:
        with self.lock:
            self.snapshots[sid] = (vid, size)
            if new:
                self.snap_count[vid] = self.snap_count.get(vid, 0) + 1

    def snapshot_gone(self, vid: str) -> None:
        with self.lock:
            self.snap_count[vid] -= 1

    def take_group(self) -> typing.Optional[str]:
        with self.lock:
            return self.groups.pop() if self.groups else None

    def put_group(self, gid: str) -> None:
        with self.lock:
            self.groups.append(gid)


class Workload(object):
    """`ops` operations by `workers` threads; see the module doc."""

    def __init__(self, creds: typing.Dict[str, str], pool: Pool,
                 images: typing.List[str], types: typing.List[str],
                 op_timeout: float = 180) -> None:
        self.creds = creds
        self.pool = pool
        self.images = images
        self.types = types
        self.op_timeout = op_timeout
        self.rng = random.Random(1414)

    def run(self, ops: int, workers: int,
            on_progress: typing.Optional[typing.Callable[[int], None]]
            = None) -> Result:
        result = Result()
        lock = threading.Lock()
        plan = [self.rng.choice(OPS) for _ in range(ops)]

        def worker() -> None:
            cinder = client(self.creds)
            while True:
                with lock:
                    if not plan:
                        return
                    op = plan.pop()
                try:
                    did = getattr(self, 'op_' + op)(cinder)
                except Stuck as exc:
                    with lock:
                        result.stuck.append('%s: %s' % (op, exc))
                    did = True
                except Exception as exc:
                    with lock:
                        result.errors.append('%s: %s: %s' % (
                            op, type(exc).__name__, exc))
                    did = True
                with lock:
                    if did:
                        result.ops += 1
                        result.done[op] = result.done.get(op, 0) + 1
                    else:
                        plan.append(self.rng.choice(OPS))
                    count = result.ops
                if on_progress is not None:
                    on_progress(count)

        threads = [threading.Thread(target=worker) for _ in range(workers)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        result.seconds = time.monotonic() - start
        return result

    # -- the operations: False when the pool had nothing to work on -------
    def _new_volume(self, cinder: typing.Any, size: int,
                    **kwargs: typing.Any) -> bool:
        vol = cinder.volumes.create(size, **kwargs)
        status = wait_final(lambda: cinder.volumes.get(vol.id),
                            self.op_timeout)
        if status != 'available':
            raise RuntimeError('volume %s: %s' % (vol.id, status))
        self.pool.put_volume(vol.id, size)
        return True

    def op_create(self, cinder: typing.Any) -> bool:
        return self._new_volume(cinder, 1,
                                volume_type=self.rng.choice(self.types))

    def op_create_from_image(self, cinder: typing.Any) -> bool:
        return self._new_volume(cinder, 1,
                                imageRef=self.rng.choice(self.images))

    def op_clone(self, cinder: typing.Any) -> bool:
        src = self.pool.take_volume()
        if src is None:
            return False
        try:
            return self._new_volume(cinder, src[1], source_volid=src[0])
        finally:
            self.pool.put_volume(*src)

    def op_snapshot(self, cinder: typing.Any) -> bool:
        src = self.pool.take_volume()
        if src is None:
            return False
        try:
            snap = cinder.volume_snapshots.create(src[0], force=True)
            status = wait_final(lambda: cinder.volume_snapshots.get(snap.id),
                                self.op_timeout)
            self.pool.put_snapshot(snap.id, src[0], src[1], new=True)
            if status != 'available':
                raise RuntimeError('snapshot %s: %s' % (snap.id, status))
            return True
        finally:
            self.pool.put_volume(*src)

    def op_from_snapshot(self, cinder: typing.Any) -> bool:
        snap = self.pool.take_snapshot()
        if snap is None:
            return False
        try:
            return self._new_volume(cinder, snap[2], snapshot_id=snap[0])
        finally:
            self.pool.put_snapshot(*snap)

    def op_extend(self, cinder: typing.Any) -> bool:
        vol = self.pool.take_volume()
        if vol is None:
            return False
        vid, size = vol
        try:
            if size < MAX_SIZE:
                cinder.volumes.extend(vid, size + 1)
                status = wait_final(lambda: cinder.volumes.get(vid),
                                    self.op_timeout)
                if status != 'available':
                    raise RuntimeError('extend %s: %s' % (vid, status))
                size += 1
            return True
        finally:
            self.pool.put_volume(vid, size)

    def op_retype(self, cinder: typing.Any) -> bool:
        vol = self.pool.take_volume()
        if vol is None:
            return False
        try:
            current = cinder.volumes.get(vol[0]).volume_type
            new = next(t for t in self.types if t != current)
            cinder.volumes.retype(vol[0], new, 'never')
            # "retyping" from the API on; back to "available" with the
            # old type when the retype failed.
            wait_final(lambda: cinder.volumes.get(vol[0]), self.op_timeout)
            got = cinder.volumes.get(vol[0])
            if got.volume_type != new:
                raise RuntimeError('retype %s to %s: still %s (%s)' % (
                    vol[0], new, got.volume_type, got.status))
            return True
        finally:
            self.pool.put_volume(*vol)

    def op_group_snapshot(self, cinder: typing.Any) -> bool:
        gid = self.pool.take_group()
        if gid is None:
            return False
        try:
            gsnap = cinder.group_snapshots.create(gid)
            status = wait_final(lambda: cinder.group_snapshots.get(gsnap.id),
                                self.op_timeout)
            if status != 'available':
                raise RuntimeError('group snapshot %s: %s' % (gsnap.id,
                                                              status))
            cinder.group_snapshots.delete(gsnap.id)
            wait_final(lambda: cinder.group_snapshots.get(gsnap.id),
                       self.op_timeout)
            return True
        finally:
            self.pool.put_group(gid)

    def op_delete_volume(self, cinder: typing.Any) -> bool:
        vol = self.pool.take_volume(without_snapshots=True)
        if vol is None:
            return False
        cinder.volumes.delete(vol[0])
        wait_final(lambda: cinder.volumes.get(vol[0]), self.op_timeout)
        return True

    def op_delete_snapshot(self, cinder: typing.Any) -> bool:
        snap = self.pool.take_snapshot()
        if snap is None:
            return False
        cinder.volume_snapshots.delete(snap[0])
        wait_final(lambda: cinder.volume_snapshots.get(snap[0]),
                   self.op_timeout)
        self.pool.snapshot_gone(snap[1])
        return True
