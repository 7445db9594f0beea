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
"""The emulated cluster saved in, and loaded from, its state directory.

``STATE_DIR/cluster.json`` holds the volumes, snapshots (with their
parents, templates, tags and policies), templates, the other clients'
attachments and the data objects' bookkeeping; the data itself stays in
``STATE_DIR/data/*.raw``.  It is rewritten atomically (a temp file, then
rename) after every request that changed the cluster, so a restart with
the same ``--state-dir`` shows the same cluster.

This host's own attachments are not kept: their devices go away with the
emulator process, as a StorPool client's do when it stops.
"""

import json
import os

from oslo_log import log as logging

from storpool_openstack.emulator import accounting
from storpool_openstack.emulator import data as sp_data
from storpool_openstack.emulator import model
from storpool_openstack.emulator import records

LOG = logging.getLogger(__name__)

FILE = 'cluster.json'
VERSION = 1


class StateError(Exception):
    """The saved state cannot be loaded; the message says why."""


def path(state_dir: str) -> str:
    return os.path.join(state_dir, FILE)


def _objects(store: sp_data.DataStore) -> dict:
    return {oid: {'file': os.path.basename(obj.path) if obj.path else None,
                  'base': obj.base, 'size': obj.size,
                  'children': obj.children, 'frozen': obj.frozen,
                  'released': obj.released}
            for oid, obj in store._objs.items()}


def _public(rec: records.Record) -> dict:
    """A record's own fields (not the bookkeeping of accounting.Index)."""
    return {k: v for k, v in vars(rec).items() if not k.startswith('_')}


def dump(cluster: model.Cluster) -> dict:
    """The cluster as plain JSON data (under its lock)."""
    with cluster.lock:
        return {
            'version': VERSION,
            'generation': cluster.generation,
            'nextVolumeId': cluster._next_vid,
            'records': [_public(rec) for rec in cluster.by_vid.values()],
            'templates': list(cluster.templates.values()),
            'clients': {str(c): s for c, s in cluster.clients.items()
                        if c != cluster.client_id},
            'attachments': [
                {'vid': vid, 'client': client, **att}
                for (vid, client), att in cluster.attachments.items()
                if client != cluster.client_id],
            'data': {'seq': cluster.data._seq,
                     'objects': _objects(cluster.data)},
        }


def save(cluster: model.Cluster, state_dir: str) -> None:
    """Write the state file atomically."""
    text = json.dumps(dump(cluster), indent=1, sort_keys=True)
    target = path(state_dir)
    tmp = target + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as fobj:
        fobj.write(text)
        fobj.flush()
        os.fsync(fobj.fileno())
    os.replace(tmp, target)


def load(cluster: model.Cluster, state_dir: str) -> bool:
    """Restore a saved cluster into a fresh `cluster`; False if none."""
    target = path(state_dir)
    try:
        with open(target, encoding='utf-8') as fobj:
            state = json.load(fobj)
    except FileNotFoundError:
        return False
    except (OSError, ValueError) as exc:
        raise StateError(f'cannot load the saved cluster {target}: {exc}; '
                         f'move it away to start with an empty cluster')
    if not isinstance(state, dict) or state.get('version') != VERSION:
        raise StateError(f'{target} is not a state file of this emulator '
                         f'(version {VERSION}); move it away to start '
                         f'with an empty cluster')
    try:
        _restore(cluster, state)
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(f'{target} is damaged ({type(exc).__name__}: '
                         f'{exc}); move it away to start with an empty '
                         f'cluster')
    return True


def _restore(cluster: model.Cluster, state: dict) -> None:
    store = cluster.data
    objects: dict[str, sp_data._Obj] = {}
    for oid, item in state['data']['objects'].items():
        fname = item['file']
        obj = sp_data._Obj(oid, os.path.join(store.root, fname)
                           if fname else None, item['base'], item['size'])
        obj.children = item['children']
        obj.frozen = item['frozen']
        obj.released = item['released']
        if obj.path is not None and not os.path.exists(obj.path):
            raise ValueError(f'data file {obj.path} is missing')
        objects[oid] = obj
    with cluster.lock:
        store._objs = objects
        store._seq = int(state['data']['seq'])
        store.on_alloc = None
        for oid in objects:
            store.refresh(oid)
        cluster.volumes, cluster.snapshots = {}, {}
        # Counters from scratch, as Cluster._init_state makes them: every
        # object first counts as unowned, then as its record's.
        cluster.by_vid = accounting.Index(store.allocated, store.ids())
        store.on_alloc = cluster.by_vid.alloc_changed
        for item in state['records']:
            rec = records.Record(item['kind'], item['name'], item['vid'],
                                 item['gid'], item['size'], item['data'])
            for key, value in item.items():
                if not key.startswith('_'):
                    setattr(rec, key, value)
            cluster.by_vid[rec.vid] = rec
            if rec.is_snapshot:
                cluster.snapshots[rec.name] = rec
            else:
                cluster.volumes[rec.name] = rec
        cluster.templates = {t['name']: t for t in state['templates']}
        for client, status in state['clients'].items():
            cluster.clients[int(client)] = status
        cluster.attachments = {
            (att.pop('vid'), att.pop('client')): att
            for att in (dict(a) for a in state['attachments'])}
        cluster._next_vid = int(state['nextVolumeId'])
        cluster.generation = int(state['generation'])


class Saver:
    """Saves the cluster whenever its generation moved.

    Polled cheaply from the server loop between requests, and once at
    the end.
    """

    def __init__(self, cluster: model.Cluster, state_dir: str) -> None:
        self.cluster = cluster
        self.state_dir = state_dir
        self.saved = cluster.generation

    def __call__(self) -> None:
        if self.cluster.generation == self.saved:
            return
        try:
            with self.cluster.lock:
                generation = self.cluster.generation
                save(self.cluster, self.state_dir)
        except Exception:
            # Runs in the server loop: an exception here would stop the
            # emulator answering.  Log it and try again after the next
            # change.
            LOG.exception('could not save the cluster in %s',
                          self.state_dir)
            return
        self.saved = generation
