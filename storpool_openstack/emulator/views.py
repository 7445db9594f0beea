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

"""The read-only API calls: the cluster's state as StorPool's JSON.

As moto keeps rendering in its responses layer, the cluster model
(``model.Cluster``) holds the state and changes it, and this mixin turns
that state into the answers of the ``GET`` calls (``VolumesList``,
``SnapshotDescribe``, ``VolumeTemplatesStatus``, ``DisksList``, ...) and
the control API's state dump. Nothing here changes the cluster.
"""

import math
import threading

from oslo_utils import units

from storpool_openstack.emulator import accounting
from storpool_openstack.emulator import data as sp_data
from storpool_openstack.emulator import hosts
from storpool_openstack.emulator import iscsi as sp_iscsi
from storpool_openstack.emulator import records
from storpool_openstack.emulator import validate

OBJECT_SIZE = 32 * units.Mi
AG_SIZE = 512 * units.Mi


class ClusterViews:
    """The JSON views of :class:`model.Cluster` (a mixin of it).

    It reads only the cluster's state below and its lookups
    (``get_volume``, ``get_snapshot``, ``get_template``).
    """

    lock: threading.RLock
    generation: int
    client_id: int
    started: int
    data: sp_data.DataStore
    devices: hosts.LocalClients
    volumes: dict[str, records.Record]
    snapshots: dict[str, records.Record]
    by_vid: accounting.Index
    attachments: dict[tuple[int, int], dict]
    clients: dict[int, str]
    disks: dict[int, dict]
    placement_groups: dict[str, dict]
    templates: dict[str, dict]
    iscsi: sp_iscsi.ISCSIConfig

    def _visible_parent(self, rec: records.Record
                        ) -> records.Record | None:
        vid = rec.parent
        while vid is not None:
            parent = self.by_vid.get(vid)
            if parent is None:
                return None
            if not parent.deleted:
                return parent
            vid = parent.parent
        return None

    # -- responses ---------------------------------------------------------
    def summary(self, rec: records.Record) -> dict:
        parent = self._visible_parent(rec)
        res = {
            'name': rec.name, 'size': rec.size, 'globalId': rec.gid,
            'visibleVolumeId': rec.vid, 'id': rec.vid,
            'creationTimestamp': rec.created,
            'parentName': parent.name if parent else '',
            'parentVolumeId': parent.vid if parent else 0,
            'templateName': rec.template, 'replication': rec.replication,
            'placeAll': rec.place_all, 'placeTail': rec.place_tail,
            'placeHead': rec.place_head, 'iops': rec.iops, 'bw': rec.bw,
            'objectsCount': int(math.ceil(rec.size / OBJECT_SIZE)),
            'reuseServer': rec.reuse_server, 'tags': dict(rec.tags),
        }
        if rec.limit_type:
            res['limitType'] = rec.limit_type
        if rec.is_snapshot:
            res.update({'onVolume': rec.on_volume, 'autoName': rec.auto_name,
                        'bound': rec.bound, 'deleted': rec.deleted,
                        'transient': rec.transient,
                        'recoveringFromRemote': False})
            if rec.target_delete_date is not None:
                res['targetDeleteDate'] = rec.target_delete_date
        return res

    def _disk_sets(self, rec: records.Record) -> list[list[int]]:
        head = self.placement_groups[rec.place_head]['disks']
        all_ = self.placement_groups[rec.place_all]['disks']
        tail = self.placement_groups[rec.place_tail]['disks']
        sets = []
        for idx in range(min(3, max(len(all_), 1))):
            chosen = [head[idx % len(head)]]
            for pool in [all_] * (rec.replication - 2) + [tail]:
                for disk in pool[idx:] + pool[:idx]:
                    if disk not in chosen:
                        chosen.append(disk)
                        break
            sets.append(chosen[:rec.replication])
        return sets

    def _info(self, rec: records.Record) -> dict:
        res = self.summary(rec)
        sets = self._disk_sets(rec)
        per_disk: dict[str, int] = {}
        objects = res['objectsCount']
        for idx in range(objects):
            for disk in sets[idx % len(sets)]:
                per_disk[str(disk)] = per_disk.get(str(disk), 0) + 1
        res.update({'disksCount': len(per_disk),
                    'objectsPerDisk': per_disk,
                    'objectsPerChain': [], 'objectsPerDiskSet': [
                        {'disks': s, 'count': (objects + len(sets) - 1 - i)
                         // len(sets)} for i, s in enumerate(sets)]})
        return res

    def _describe(self, rec: records.Record) -> dict:
        res = self.summary(rec)
        sets = self._disk_sets(rec)
        res['targetDiskSets'] = sets
        res['objects'] = [sets[i % len(sets)]
                          for i in range(res['objectsCount'])]
        return res

    def _stored(self, rec: records.Record) -> int:
        return self.data.allocated(rec.data)

    # -- read-only calls ---------------------------------------------------
    def volumes_list(self) -> list[dict]:
        with self.lock:
            return [self.summary(v) for v in self._sorted(self.volumes)]

    @staticmethod
    def _sorted(recs: dict[str, records.Record]
                ) -> list[records.Record]:
        return sorted(recs.values(), key=lambda r: r.vid)

    def volume(self, ref: str) -> list[dict]:
        with self.lock:
            return [self.summary(self.get_volume(ref))]

    def volume_describe(self, ref: str) -> dict:
        with self.lock:
            return self._describe(self.get_volume(ref))

    def volume_info(self, ref: str) -> dict:
        with self.lock:
            return self._info(self.get_volume(ref))

    def snapshots_list(self) -> list[dict]:
        with self.lock:
            return [self.summary(s) for s in self._sorted(self.snapshots)
                    if not s.deleted]

    def snapshot(self, ref: str) -> list[dict]:
        with self.lock:
            return [self.summary(self.get_snapshot(ref))]

    def snapshot_describe(self, ref: str) -> dict:
        with self.lock:
            return self._describe(self.get_snapshot(ref))

    def snapshot_info(self, ref: str) -> dict:
        with self.lock:
            return self._info(self.get_snapshot(ref))

    def volume_list_snapshots(self, ref: str) -> list[dict]:
        """The parent chain of a volume, nearest first."""
        with self.lock:
            rec = self.get_volume(ref)
            res = []
            parent = self._visible_parent(rec)
            while parent is not None:
                res.append(self.summary(parent))
                parent = self._visible_parent(parent)
            return res

    def volumes_space(self) -> list[dict]:
        with self.lock:
            self._refresh_written()
            res = []
            for rec in self._sorted(self.volumes):
                item = self.summary(rec)
                stored = self._chain_stored(rec)
                item['storedSize'] = stored
                item['spaceUsed'] = stored * rec.replication
                res.append(item)
            return res

    def _chain_stored(self, rec: records.Record) -> int:
        total = self._stored(rec)
        parent = self.by_vid.get(rec.parent) if rec.parent else None
        while parent is not None:
            total += self._stored(parent)
            parent = self.by_vid.get(parent.parent) if parent.parent \
                else None
        return min(total, rec.size)

    def snapshots_space(self) -> list[dict]:
        with self.lock:
            self._refresh_written()
            res = []
            for rec in self._sorted(self.snapshots):
                if rec.deleted:
                    continue
                item = self.summary(rec)
                stored = self._stored(rec)
                item['storedSize'] = stored
                item['spaceUsed'] = stored * rec.replication
                res.append(item)
            return res

    def volumes_status(self) -> dict[str, dict]:
        with self.lock:
            self._refresh_written()
            res = {}
            recs = self._sorted(self.volumes) + [
                s for s in self._sorted(self.snapshots) if not s.deleted]
            for rec in recs:
                item = self.summary(rec)
                stored = self._stored(rec)
                item.update({
                    'status': 'up', 'snapshot': rec.is_snapshot,
                    'migrating': False, 'decreasedRedundancy': False,
                    'balancerBlocked': False, 'syncingDataBytes': 0,
                    'syncingMetaObjects': 0, 'downBytes': 0,
                    'upSoonChainsCount': 0, 'downDrives': [],
                    'missingDrives': [], 'missingTargetDrives': [],
                    'softEjectingDrives': [], 'storedSize': stored,
                    'onDiskSize': stored * rec.replication})
                res[rec.name] = item
            return res

    def attachments_list(self) -> list[dict]:
        with self.lock:
            res = []
            for (vid, client), att in sorted(self.attachments.items()):
                rec = self.by_vid[vid]
                res.append({'volume': rec.name,
                            'snapshot': rec.is_snapshot, 'client': client,
                            'rights': att['rights'], 'pos': att['pos'],
                            'globalId': rec.gid})
            return res

    def templates_list(self) -> list[dict]:
        with self.lock:
            return [dict(t) for t in sorted(self.templates.values(),
                                            key=lambda t: t['id'])]

    def template_describe(self, name: str) -> dict:
        with self.lock:
            return dict(self.get_template(name))

    def _pg_space(self, pg: str, disks: dict[str, dict]
                  ) -> tuple[int, int]:
        cap = free = 0
        for did in self.placement_groups[pg]['disks']:
            disk = disks[str(did)]
            cap += disk['agCount'] * AG_SIZE
            free += disk['agFree'] * AG_SIZE
        return cap, free

    def _refresh_written(self) -> None:
        """Re-read the allocation of the data files devices can write."""
        for name in self.devices.names():
            rec = self.volumes.get(name) or self.snapshots.get(name)
            if rec is not None:
                self.data.refresh(rec.data)

    def templates_status(self) -> list[dict]:
        """From kept counters (accounting.py), as StorPool answers it."""
        with self.lock:
            self._refresh_written()
            disks = self.disks_list()
            res = []
            for tmpl in self.templates_list():
                counters = self.by_vid.templates[tmpl['name']]
                repl = tmpl['replication']
                factor = repl if repl != '-' else 3
                size = counters.volumes_size
                stored = counters.stored
                item = {
                    'id': tmpl['id'], 'name': tmpl['name'],
                    'placeAll': tmpl['placeAll'],
                    'placeTail': tmpl['placeTail'],
                    'placeHead': tmpl['placeHead'], 'replication': repl,
                    'volumesCount': counters.volumes,
                    'snapshotsCount': counters.snapshots,
                    'removingSnapshotsCount': counters.removing,
                    'size': size, 'totalSize': size * factor,
                    'storedSize': stored, 'onDiskSize': stored * factor,
                }
                stored_est = {}
                for key in ('placeAll', 'placeTail', 'placeHead'):
                    cap, free = self._pg_space(tmpl[key], disks)
                    suffix = key[len('place'):]
                    item['capacityPlace' + suffix] = cap
                    item['availablePlace' + suffix] = free
                    stored_est[key] = {'capacity': cap // factor,
                                       'free': free // factor}
                cap, free = self._pg_space(tmpl['placeAll'], disks)
                stored_est.update({'capacity': cap // factor,
                                   'free': free // factor})
                item['stored'] = stored_est
                res.append(item)
            return res

    def disks_list(self) -> dict[str, dict]:
        """Complete UpDiskSummary objects; usage follows the data files."""
        with self.lock:
            self._refresh_written()
            raw = self.by_vid.raw  # kept: accounting.py
            per_disk = raw / max(len(self.disks), 1)
            nobjs = len(self.by_vid)
            res = {}
            for did, disk in sorted(self.disks.items()):
                ag_count = disk['agCount']
                ag_alloc = min(ag_count, int(math.ceil(per_disk / AG_SIZE)))
                objs_count = ag_count * (AG_SIZE // OBJECT_SIZE)
                objs_alloc = min(objs_count, int(math.ceil(
                    per_disk / OBJECT_SIZE)) + nobjs)
                entries_count = objs_count * 64
                entries_alloc = min(entries_count,
                                    int(math.ceil(per_disk / (128 * 1024))))
                res[str(did)] = {
                    'id': did, 'serverId': disk['serverId'],
                    'ssd': disk['ssd'], 'generationLeft': -1,
                    'model': 'EMU-SSD' if disk['ssd'] else 'EMU-HDD',
                    'serial': f'EMU-{did}', 'description': '',
                    'softEject': 'off',
                    'sectorsCount': ag_count * AG_SIZE // validate.SECTOR,
                    'empty': raw == 0, 'noFua': False, 'noFlush': False,
                    'noTrim': False, 'isWbc': False, 'journaled': False,
                    'device': f'/dev/emu{did}',
                    'agCount': ag_count, 'agAllocated': ag_alloc,
                    'agFree': ag_count - ag_alloc,
                    'entriesCount': entries_count,
                    'entriesAllocated': entries_alloc,
                    'entriesFree': entries_count - entries_alloc,
                    'objectsCount': objs_count,
                    'objectsAllocated': objs_alloc,
                    'objectsFree': objs_count - objs_alloc,
                    'objectsOnDiskSize': int(per_disk),
                    'scrubbingStartedBefore': 0, 'scrubbedBytes': 0,
                    'scrubbingBW': 0, 'scrubbingFinishAfter': 0,
                    'scrubbingPausedFor': 0, 'scrubbingPaused': False,
                    'lastScrubCompleted': 0,
                }
            return res

    def placement_groups_list(self) -> dict[str, dict]:
        with self.lock:
            return {name: {'id': pg['id'], 'name': name,
                           'disks': list(pg['disks'])}
                    for name, pg in self.placement_groups.items()}

    def services_list(self) -> dict:
        with self.lock:
            version = '21.0.0.emulator'
            start = self.started
            clients = {str(cid): {'id': cid, 'status': status,
                                  'version': version,
                                  'startTime': start if status == 'running'
                                  else None, 'nodeId': cid}
                       for cid, status in sorted(self.clients.items())}
            servers = {str(sid): {'id': sid, 'status': 'running',
                                  'version': version, 'startTime': start,
                                  'nodeId': sid, 'missingDisks': [],
                                  'pendingDisks': []}
                       for sid in sorted({d['serverId']
                                          for d in self.disks.values()})}
            mgmt = {'1': {'id': 1, 'status': 'running', 'active': True,
                          'version': version, 'startTime': start,
                          'nodeId': 1, 'prio': 0}}
            return {'clusterStatus': 'running', 'clients': clients,
                    'servers': servers, 'mgmt': mgmt, 'bridges': {},
                    'iscsiTargets': {}}

    def clients_config_dump(self) -> list[dict]:
        with self.lock:
            return [{'id': cid, 'generation': self.generation,
                     'clientGeneration': self.generation if st == 'running'
                     else 0,
                     'configStatus': 'ok' if st == 'running' else 'down',
                     'delay': 0}
                    for cid, st in sorted(self.clients.items())]

    def dump(self) -> dict:
        """Everything, for tests: volumes, snapshots, attachments, ..."""
        with self.lock:
            self._refresh_written()

            def full(rec: records.Record) -> dict:
                item = self.summary(rec)
                item['dataObject'] = self.data.describe(rec.data)
                item['storedSize'] = self._stored(rec)
                return item
            return {
                'generation': self.generation,
                'clientId': self.client_id,
                'deviceMode': self.devices.mode,
                'devDir': self.devices.dev_dir,
                'volumes': {n: full(r) for n, r in self.volumes.items()},
                'snapshots': {s.name: full(s)
                              for s in self.snapshots.values()},
                'attachments': self.attachments_list(),
                'devices': self.devices.describe(),
                'templates': {n: dict(t)
                              for n, t in self.templates.items()},
                'placementGroups': self.placement_groups_list(),
                'clients': {str(c): s for c, s in self.clients.items()},
                'tags': {r.name: dict(r.tags) for r in self.by_vid.values()
                         if r.tags},
                'dataObjects': [self.data.describe(o)
                                for o in self.data.ids()],
                'iscsi': self.iscsi.info(),
            }
