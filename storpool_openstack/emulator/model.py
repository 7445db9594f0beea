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

"""The emulated cluster: volumes, snapshots, templates, disks, attachments.

Pure Python, usable without HTTP: the methods take and return the JSON
shapes of the StorPool API (request ``*Desc`` dicts in, response objects
out) and raise :class:`EmulatorError` for anything StorPool would refuse.
One re-entrant lock makes every call atomic.

The parts around it: ``validate`` (what StorPool accepts), ``records``
(a volume or snapshot), ``views`` (the read-only calls' JSON) and
``attachments`` (``VolumesReassign`` and the clients), the last two as
mixins of :class:`Cluster`. What stays here (volumes, snapshots and
templates, a little over 600 lines) stays together: each of those calls
changes the same records, parents and data objects under the one lock.
"""

import os
import threading
import time
import typing

from oslo_log import log as logging

from storpool_openstack.emulator import accounting
from storpool_openstack.emulator import attachments as sp_attachments
from storpool_openstack.emulator import data as sp_data
from storpool_openstack.emulator import devices as sp_devices
from storpool_openstack.emulator import errors
from storpool_openstack.emulator.errors import EmulatorError  # noqa: F401
from storpool_openstack.emulator import hosts
from storpool_openstack.emulator import iscsi as sp_iscsi
from storpool_openstack.emulator import records
from storpool_openstack.emulator import validate
from storpool_openstack.emulator import views

LOG = logging.getLogger(__name__)


def _b36(num: int) -> str:
    digits = '0123456789abcdefghijklmnopqrstuvwxyz'
    out = ''
    while True:
        num, rem = divmod(num, 36)
        out = digits[rem] + out
        if not num:
            return out


class Cluster(sp_attachments.ClusterAttachments, views.ClusterViews):
    """One emulated StorPool cluster and this host's client on it.

    The state and the calls that change it; attach and detach
    (``VolumesReassign``) are :class:`attachments.ClusterAttachments`, the
    read-only calls and their JSON :class:`views.ClusterViews`.
    """

    def __init__(self, state_dir: str, dev_dir: str | None = None,
                 device_mode: str = 'file', client_id: int = 1,
                 templates: typing.Any = None,
                 cluster_id: str = 'e.m',
                 iscsi_target: str = 'auto') -> None:
        self.lock = threading.RLock()
        self.state_dir = state_dir
        self.client_id = int(client_id)
        self.cluster_id = cluster_id
        self.data = sp_data.DataStore(os.path.join(state_dir, 'data'))
        if dev_dir is None:
            dev_dir = os.path.join(state_dir, 'dev')
        # The own client's devices, and those of any extra local client.
        self.devices = hosts.LocalClients(sp_devices.DeviceManager(
            dev_dir, device_mode, self.client_id))
        self.generation = 1
        self._next_vid = 1
        self._initial_templates = validate.parse_templates(templates)
        self.started = int(time.time())
        self._init_state()
        # iSCSIConfig and the tgtd behind it (emulator/iscsi.py).
        self.iscsi = sp_iscsi.ISCSIConfig(self, iscsi_target)
        self.devices.ignored_holders = self.iscsi.daemon_pids

    # -- set-up ------------------------------------------------------------
    def _init_state(self) -> None:
        self.volumes: dict[str, records.Record] = {}
        self.snapshots: dict[str, records.Record] = {}
        # Keeps the status counters (accounting.py) as records come and go.
        self.by_vid = accounting.Index(self.data.allocated, self.data.ids())
        self.data.on_alloc = self.by_vid.alloc_changed
        # (vid, client) -> {'rights': 'rw'|'ro', 'pos': int}
        self.attachments: dict[tuple[int, int], dict] = {}
        self.clients: dict[int, str] = {
            c: 'running' for c in self.devices.clients()}
        self.disks = {}
        for server in (1, 2, 3):
            for base, ssd in ((100, True), (200, False)):
                did = base + server
                self.disks[did] = {'id': did, 'serverId': server,
                                   'ssd': ssd, 'agCount': 1024}
        ssds = sorted(d for d in self.disks if self.disks[d]['ssd'])
        hdds = sorted(d for d in self.disks if not self.disks[d]['ssd'])
        self.placement_groups = {}
        for pgid, (name, disks) in enumerate(
                (('default', sorted(self.disks)), ('ssd', ssds),
                 ('hdd', hdds)), 1):
            self.placement_groups[name] = {'id': pgid, 'name': name,
                                           'disks': disks}
        self.templates: dict[str, dict] = {}
        for tmpl in self._initial_templates:
            self._add_template(tmpl)

    def _bump(self) -> int:
        self.generation += 1
        return self.generation

    def ok(self, **extra: typing.Any) -> dict:
        """An ApiOk for a mutating call (bumps the generation)."""
        res = {'ok': True, 'generation': self._bump()}
        res.update(extra)
        return res

    def _new_ids(self) -> tuple[int, str]:
        vid = self._next_vid
        self._next_vid += 1
        return vid, f'{self.cluster_id}.{_b36(vid + 1000)}'

    # -- lookups -----------------------------------------------------------
    def _find_gid(self, gid: str) -> records.Record | None:
        for rec in self.by_vid.values():
            if rec.gid == gid:
                return rec
        return None

    def get_volume(self, ref: typing.Any) -> records.Record:
        if isinstance(ref, str) and ref.startswith('~'):
            if not validate.GLOBAL_ID_RE.match(ref[1:]):
                raise errors.invalid(f'Invalid global ID {ref!r}')
            rec = self._find_gid(ref[1:])
            if rec is None or rec.is_snapshot:
                raise errors.does_not_exist('Volume', ref)
            return rec
        validate.check_name(ref, 'volume')
        rec = self.volumes.get(ref)
        if rec is None:
            raise errors.does_not_exist('Volume', ref)
        return rec

    def get_snapshot(self, ref: typing.Any) -> records.Record:
        if isinstance(ref, str) and ref.startswith('~'):
            if not validate.GLOBAL_ID_RE.match(ref[1:]):
                raise errors.invalid(f'Invalid global ID {ref!r}')
            rec = self._find_gid(ref[1:])
            if rec is None or not rec.is_snapshot or rec.deleted:
                raise errors.does_not_exist('Snapshot', ref)
            return rec
        validate.check_name(ref, 'snapshot')
        rec = self.snapshots.get(ref)
        if rec is None or rec.deleted:
            raise errors.does_not_exist('Snapshot', ref)
        return rec

    def get_template(self, name: typing.Any) -> dict:
        if not isinstance(name, str) or not validate.PG_RE.match(name):
            raise errors.invalid(f'Invalid template name {name!r}')
        tmpl = self.templates.get(name)
        if tmpl is None:
            raise errors.does_not_exist('VolumeTemplate', name)
        return tmpl

    def _check_pg(self, name: typing.Any) -> str:
        if not isinstance(name, str) or not validate.PG_RE.match(name):
            raise errors.invalid(f'Invalid placement group {name!r}')
        if name not in self.placement_groups:
            raise errors.does_not_exist('PlacementGroup', name)
        return name

    def _check_free_name(self, name: str) -> None:
        if name in self.volumes:
            raise errors.exists('Volume', name)
        if name in self.snapshots:
            raise errors.exists('Snapshot', name)

    # -- templates ---------------------------------------------------------
    def _add_template(self, desc: dict) -> dict:
        name = desc.get('name')
        if not isinstance(name, str) or not validate.PG_RE.match(name):
            raise errors.invalid(f'Invalid template name {name!r}')
        default_pg = name if name in self.placement_groups else 'default'
        if name == 'hybrid':
            defaults = ('hdd', 'ssd', 'hdd')
        else:
            defaults = (default_pg,) * 3
        tmpl = {'id': len(self.templates) + 1, 'name': name,
                'parentName': '', 'size': '-', 'replication': '-',
                'iops': '-', 'bw': '-', 'reuseServer': False}
        for key, dflt in zip(('placeAll', 'placeTail', 'placeHead'),
                             defaults):
            tmpl[key] = self._check_pg(desc.get(key, dflt))
        if desc.get('replication', '-') != '-':
            tmpl['replication'] = validate.check_replication(
                desc['replication'])
        if desc.get('size', '-') != '-':
            tmpl['size'] = validate.check_size(desc['size'])
        for key in ('iops', 'bw'):
            if key in desc:
                tmpl[key] = validate.check_limit(desc[key], key)
        unknown = set(desc) - set(tmpl)
        if unknown:
            raise errors.invalid('unknown template field(s) '
                                 + ', '.join(sorted(unknown)))
        if name in self.templates:
            tmpl['id'] = self.templates[name]['id']
        self.templates[name] = tmpl
        return tmpl

    def add_template(self, desc: dict) -> dict:
        """Add or replace a template (control API and CLI)."""
        with self.lock:
            tmpl = self._add_template(desc)
            self._bump()
            return dict(tmpl)

    def _apply_template(self, rec: records.Record, tmpl: dict) -> None:
        rec.template = tmpl['name']
        if tmpl['replication'] != '-':
            rec.replication = tmpl['replication']
        rec.place_all = tmpl['placeAll']
        rec.place_tail = tmpl['placeTail']
        rec.place_head = tmpl['placeHead']
        rec.iops = tmpl['iops']
        rec.bw = tmpl['bw']

    def _apply_policy(self, rec: records.Record, desc: dict) -> None:
        """The explicit policy fields of a create/update request."""
        if 'replication' in desc:
            rec.replication = validate.check_replication(desc['replication'])
        for key, attr in (('placeAll', 'place_all'),
                          ('placeTail', 'place_tail'),
                          ('placeHead', 'place_head')):
            if key in desc:
                setattr(rec, attr, self._check_pg(desc[key]))
        for key in ('iops', 'bw'):
            if key in desc:
                setattr(rec, key, validate.check_limit(desc[key], key))
        if 'limitType' in desc:
            if desc['limitType'] not in ('total', 'perGiB'):
                raise errors.invalid(
                    f"Invalid limitType {desc['limitType']!r}")
            rec.limit_type = desc['limitType']
        if 'reuseServer' in desc:
            rec.reuse_server = bool(desc['reuseServer'])
        if 'tags' in desc:
            for key, value in validate.check_tags(desc['tags']).items():
                if value == '':
                    rec.tags.pop(key, None)
                else:
                    rec.tags[key] = value

    def _validate_policy(self, desc: dict) -> None:
        """Check policy fields before anything is changed."""
        scratch = records.Record('volume', 'x', 0, 'x.x.x', validate.SECTOR,
                                 '')
        self._apply_policy(scratch, desc)

    # -- volumes -----------------------------------------------------------
    def volume_create(self, desc: dict) -> dict:
        with self.lock:
            desc = validate.check_keys(desc, validate.VOLUME_CREATE_KEYS,
                                       'VolumeCreate')
            auto = 'name' not in desc
            name = (None if auto
                    else validate.check_name(desc['name'], 'volume'))
            if 'parent' in desc and 'baseOn' in desc:
                raise errors.invalid('parent and baseOn are exclusive')
            parent = source = tmpl = None
            if 'parent' in desc:
                parent = self.get_snapshot(desc['parent'])
            if 'baseOn' in desc:
                source = self.get_volume(desc['baseOn'])
            if 'template' in desc:
                tmpl = self.get_template(desc['template'])
            origin = parent or source
            size = desc.get('size')
            if size is None:
                if origin is not None:
                    size = origin.size
                elif tmpl is not None and tmpl['size'] != '-':
                    size = tmpl['size']
                else:
                    raise errors.invalid('No size given for the volume')
            validate.check_size(size)
            if origin is not None and size < origin.size:
                raise errors.invalid(
                    f'Size {size} is smaller than the size {origin.size} '
                    f'of {origin.name}')
            self._validate_policy(desc)
            if name is not None:
                self._check_free_name(name)
            vid, gid = self._new_ids()
            if name is None:
                name = '#' + gid
            if parent is not None:
                oid = self.data.clone(parent.data, size)
            elif source is not None:
                frozen = self.data.freeze(source.data,
                                          self._in_use(source))
                oid = self.data.clone(frozen, size)
                self.data.release(frozen)
            else:
                try:
                    oid = self.data.create(size)
                except OSError as exc:
                    raise errors.invalid(f'Cannot create volume: {exc}')
            rec = records.Record('volume', name, vid, gid, size, oid)
            if origin is not None:
                rec.copy_policy(origin)
            if parent is not None:
                rec.parent = parent.vid
            elif source is not None:
                rec.parent = source.parent
            if tmpl is not None:
                self._apply_template(rec, tmpl)
            self._apply_policy(rec, desc)
            self.volumes[name] = rec
            self.by_vid[vid] = rec
            extra = {'globalId': gid}
            if auto:
                extra['name'] = name
            return self.ok(**extra)

    def _in_use(self, rec: records.Record) -> bool:
        """Does a device use this record's data file (flushed if so)?"""
        if self.devices.get(rec.name) is None:
            # An iSCSI target (tgtd) writes into the file too.
            return self.iscsi.exported(rec.name)
        self.devices.flush(rec.name)
        return True

    def volume_update(self, ref: str, desc: dict) -> dict:
        with self.lock:
            rec = self.get_volume(ref)
            desc = validate.check_keys(desc, validate.VOLUME_UPDATE_KEYS,
                                       'VolumeUpdate')
            tmpl = None
            if 'template' in desc:
                tmpl = self.get_template(desc['template'])
            new_name = None
            if 'rename' in desc:
                new_name = validate.check_name(desc['rename'], 'volume')
                if new_name != rec.name:
                    self._check_free_name(new_name)
            size = rec.size
            if 'size' in desc:
                size = validate.check_size(desc['size'])
            if 'sizeAdd' in desc:
                size += validate.check_size(desc['sizeAdd'], 'sizeAdd')
            validate.check_size(size)
            if size < rec.size and not desc.get('shrinkOk'):
                raise errors.invalid(
                    f'Volume {rec.name}: cannot shrink from {rec.size} to '
                    f'{size} without shrinkOk')
            self._validate_policy(desc)
            if tmpl is not None:
                self._apply_template(rec, tmpl)
            self._apply_policy(rec, desc)
            if size != rec.size:
                self.data.resize(rec.data, size)
                rec.size = size
                self.devices.resize(rec.name)
            if new_name is not None and new_name != rec.name:
                old = rec.name
                del self.volumes[old]
                rec.name = new_name
                self.volumes[new_name] = rec
                for snap in self.snapshots.values():
                    if snap.on_volume == old:
                        snap.on_volume = new_name
                self.devices.rename(old, new_name)
                self.iscsi.volume_renamed(old, new_name)
            return self.ok()

    def volume_delete(self, ref: str) -> dict:
        with self.lock:
            rec = self.get_volume(ref)
            attached = self._attached(rec)
            if attached:
                raise errors.invalid(f'Volume {rec.name} is attached to '
                                     f'client {attached[0][0]}')
            self.iscsi.check_no_target(rec.name, 'delete')
            del self.volumes[rec.name]
            del self.by_vid[rec.vid]
            self.data.release(rec.data)
            self._gc()
            return self.ok()

    def volume_revert(self, ref: str, desc: dict) -> dict:
        with self.lock:
            rec = self.get_volume(ref)
            desc = validate.check_keys(desc, ('toSnapshot',), 'VolumeRevert')
            if 'toSnapshot' not in desc:
                raise errors.invalid('VolumeRevert: toSnapshot is required')
            snap = self.get_snapshot(desc['toSnapshot'])
            ancestors = set()
            vid = rec.parent
            while vid is not None and vid in self.by_vid:
                ancestors.add(vid)
                vid = self.by_vid[vid].parent
            if snap.vid not in ancestors and snap.on_volume != rec.name:
                raise errors.invalid(f'Snapshot {snap.name} is not a '
                                     f'snapshot of volume {rec.name}')
            attached = self._attached(rec)
            if attached:
                raise errors.invalid(f'Volume {rec.name} is attached to '
                                     f'client {attached[0][0]}')
            self.iscsi.check_no_target(rec.name, 'revert')
            old = rec.data
            rec.data = self.data.clone(snap.data, snap.size)
            rec.size = snap.size
            rec.parent = snap.vid
            self.data.release(old)
            self._gc()
            return self.ok()

    # -- snapshots ---------------------------------------------------------
    def _make_snapshot(self, vol: records.Record, name: str | None,
                       tags: dict | None) -> records.Record:
        vid, gid = self._new_ids()
        auto = name is None
        if auto:
            name = '*' + gid
        frozen = self.data.freeze(vol.data, self._in_use(vol))
        snap = records.Record('snapshot', name, vid, gid, vol.size, frozen)
        snap.copy_policy(vol)
        snap.parent = vol.parent
        snap.on_volume = vol.name
        snap.auto_name = auto
        if tags:
            snap.tags = {k: v for k, v in tags.items() if v != ''}
        self.snapshots[name] = snap
        self.by_vid[vid] = snap
        vol.parent = vid
        return snap

    def _snapshot_opts(self, snap: records.Record, desc: dict) -> None:
        if 'bind' in desc:
            snap.bound = bool(desc['bind'])
        if 'targetDeleteDate' in desc:
            if not validate.is_int(desc['targetDeleteDate']):
                raise errors.invalid('targetDeleteDate must be an integer')
            snap.target_delete_date = desc['targetDeleteDate'] or None
        if 'deleteAfter' in desc:
            if not validate.is_int(desc['deleteAfter']):
                raise errors.invalid('deleteAfter must be an integer')
            snap.target_delete_date = (int(time.time()) +
                                       desc['deleteAfter'])

    def volume_snapshot(self, ref: str, desc: dict) -> dict:
        with self.lock:
            vol = self.get_volume(ref)
            desc = validate.check_keys(desc, validate.SNAPSHOT_CREATE_KEYS,
                                       'VolumeSnapshot')
            name = desc.get('name')
            if name is not None:
                validate.check_name(name, 'snapshot')
                self._check_free_name(name)
            tags = validate.check_tags(desc.get('tags', {}))
            scratch = records.Record('snapshot', 'x', 0, 'x.x.x',
                                     validate.SECTOR, '')
            self._snapshot_opts(scratch, desc)
            snap = self._make_snapshot(vol, name, tags)
            self._snapshot_opts(snap, desc)
            extra = {'snapshotGlobalId': snap.gid,
                     'snapshotVisibleVolumeId': snap.vid}
            if snap.auto_name:
                extra['autoName'] = snap.name
            return self.ok(**extra)

    def volumes_group_snapshot(self, desc: dict) -> dict:
        with self.lock:
            desc = validate.check_keys(desc, ('volumes', 'tags'),
                                       'VolumesGroupSnapshot')
            specs = desc.get('volumes', [])
            common = validate.check_tags(desc.get('tags', {}))
            if not isinstance(specs, list) or not specs:
                raise errors.invalid('volumes must be a non-empty list')
            plan = []
            names = set()
            for spec in specs:
                spec = validate.check_keys(spec, ('volume', 'name', 'tags'),
                                           'GroupSnapshotSpec')
                if 'volume' not in spec:
                    raise errors.invalid('GroupSnapshotSpec: no volume')
                vol = self.get_volume(spec['volume'])
                name = spec.get('name')
                if name is not None:
                    validate.check_name(name, 'snapshot')
                    self._check_free_name(name)
                    if name in names:
                        raise errors.exists('Snapshot', name)
                    names.add(name)
                tags = dict(common)
                tags.update(validate.check_tags(spec.get('tags', {})))
                plan.append((vol, name, tags))
            res = []
            for vol, name, tags in plan:
                snap = self._make_snapshot(vol, name, tags)
                res.append({'volume': vol.name, 'volumeGlobalId': vol.gid,
                            'snapshot': snap.name,
                            'snapshotGlobalId': snap.gid,
                            'remoteId': snap.gid})
            self._bump()
            return {'snapshots': res}

    def snapshot_update(self, ref: str, desc: dict) -> dict:
        with self.lock:
            snap = self.get_snapshot(ref)
            desc = validate.check_keys(desc, validate.SNAPSHOT_UPDATE_KEYS,
                                       'SnapshotUpdate')
            tmpl = None
            if 'template' in desc:
                tmpl = self.get_template(desc['template'])
            new_name = None
            if 'rename' in desc:
                new_name = validate.check_name(desc['rename'], 'snapshot')
                if new_name != snap.name:
                    self._check_free_name(new_name)
            self._validate_policy(desc)
            scratch = records.Record('snapshot', 'x', 0, 'x.x.x',
                                     validate.SECTOR, '')
            self._snapshot_opts(scratch, desc)
            if tmpl is not None:
                self._apply_template(snap, tmpl)
            self._apply_policy(snap, desc)
            self._snapshot_opts(snap, desc)
            if new_name is not None and new_name != snap.name:
                old = snap.name
                del self.snapshots[old]
                snap.name = new_name
                snap.auto_name = False
                self.snapshots[new_name] = snap
                self.devices.rename(old, new_name)
            return self.ok()

    def _children(self, rec: records.Record) -> tuple[
            list[records.Record], list[records.Record]]:
        vols = [v for v in self.volumes.values() if v.parent == rec.vid]
        snaps = [s for s in self.snapshots.values() if s.parent == rec.vid]
        return vols, snaps

    def _remove_snapshot(self, snap: records.Record) -> None:
        _vols, snaps = self._children(snap)
        for child in snaps:
            child.parent = snap.parent
        del self.snapshots[snap.name]
        del self.by_vid[snap.vid]
        self.data.release(snap.data)

    def _gc(self) -> None:
        """Drop deleted snapshots whose last child volume went away."""
        again = True
        while again:
            again = False
            for snap in list(self.snapshots.values()):
                if snap.deleted and not self._children(snap)[0]:
                    self._remove_snapshot(snap)
                    again = True

    def snapshot_delete(self, ref: str) -> dict:
        with self.lock:
            snap = self.get_snapshot(ref)
            attached = self._attached(snap)
            if attached:
                raise errors.invalid(
                    f'Snapshot {snap.name} is attached to client '
                    f'{attached[0][0]}')
            vols, _snaps = self._children(snap)
            if vols:
                # StorPool keeps it (marked deleted) while children need it.
                del self.snapshots[snap.name]
                snap.deleted = True
                snap.name = '*deleted-' + snap.gid
                self.snapshots[snap.name] = snap
            else:
                self._remove_snapshot(snap)
            self._gc()
            return self.ok()

    # -- state -------------------------------------------------------------
    def read_data(self, ref: str, offset: int, length: int,
                  snapshot: bool = False) -> bytes:
        """Content of a volume/snapshot, without attaching it."""
        with self.lock:
            rec = (self.get_snapshot(ref) if snapshot
                   else self.get_volume(ref))
            if self.devices.get(rec.name) is not None:
                self.devices.flush(rec.name)
            return self.data.read(rec.data, offset, length)

    def reset(self) -> None:
        """Back to the initial cluster (the generation keeps counting)."""
        with self.lock:
            self.iscsi.reset()
            self.devices.close()
            for rec in list(self.by_vid.values()):
                self.data.release(rec.data)
            self._init_state()
            self._bump()

    def close(self) -> None:
        """Remove every device node this cluster created; stop tgtd."""
        with self.lock:
            self.iscsi.close()
            self.devices.close()
