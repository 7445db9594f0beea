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
"""The kept status counters agree with a full recount after any change."""

import os
import random

import fixtures
from oslotest import base as oslo_base

from storpool_openstack.emulator import errors
from storpool_openstack.emulator import model

MiB = 1024 * 1024


def recount(cl: model.Cluster) -> tuple[dict, int]:
    """Per template and raw usage, the slow way: stat every file."""
    def alloc(rec) -> int:
        path = cl.data.path(rec.data)
        return os.stat(path).st_blocks * 512 if path else 0
    per = {}
    for tmpl in cl.templates:
        vols = [v for v in cl.volumes.values() if v.template == tmpl]
        snaps = [s for s in cl.snapshots.values() if s.template == tmpl]
        per[tmpl] = {
            'volumesCount': len(vols), 'snapshotsCount': len(snaps),
            'removingSnapshotsCount': sum(1 for s in snaps if s.deleted),
            'size': sum(v.size for v in vols),
            'storedSize': sum(alloc(r) for r in vols + snaps)}
    repl = {rec.data: rec.replication for rec in cl.by_vid.values()}
    raw = 0
    for oid in cl.data.ids():
        path = cl.data.path(oid)
        used = os.stat(path).st_blocks * 512 if path else 0
        raw += used * repl.get(oid, 3)
    return per, raw


class AccountingTestCase(oslo_base.BaseTestCase):

    def setUp(self) -> None:
        super().setUp()
        tmp = self.useFixture(fixtures.TempDir()).path
        self.cl = model.Cluster(os.path.join(tmp, 'state'),
                                dev_dir=os.path.join(tmp, 'dev'),
                                device_mode='file',
                                templates='a:3:default,b:2:ssd')
        self.addCleanup(self.cl.close)

    def assert_counted(self) -> None:
        per, raw = recount(self.cl)
        got = {t['name']: {k: t[k] for k in per[t['name']]}
               for t in self.cl.templates_status()}
        self.assertEqual(per, got)
        self.assertEqual(raw, self.cl.by_vid.raw)

    def write(self, name: str, nbytes: int) -> None:
        """Write through the device, as a guest would."""
        path = self.cl.devices.get(name).target
        with open(path, 'r+b') as f:
            f.write(os.urandom(nbytes))

    def test_random_changes(self):
        rnd = random.Random(17)
        cl = self.cl
        for step in range(300):
            vols = sorted(cl.volumes)
            snaps = sorted(n for n, s in cl.snapshots.items()
                           if not s.deleted)
            op = rnd.choice(('create', 'create', 'snap', 'clone',
                             'delete', 'delsnap', 'retemplate', 'resize',
                             'revert', 'write'))
            try:
                if op == 'create' or not vols:
                    desc = {'name': f'v{step}', 'size': 4 * MiB}
                    if rnd.random() < 0.7:
                        desc['template'] = rnd.choice('ab')
                    cl.volume_create(desc)
                elif op == 'snap':
                    cl.volume_snapshot(rnd.choice(vols), {'name': f's{step}'})
                elif op == 'clone':
                    if snaps:
                        cl.volume_create({'name': f'c{step}',
                                          'parent': rnd.choice(snaps)})
                    else:
                        cl.volume_create({'name': f'c{step}',
                                          'baseOn': rnd.choice(vols)})
                elif op == 'delete':
                    cl.volume_delete(rnd.choice(vols))
                elif op == 'delsnap' and snaps:
                    cl.snapshot_delete(rnd.choice(snaps))
                elif op == 'retemplate':
                    cl.volume_update(rnd.choice(vols),
                                     {'template': rnd.choice('ab')})
                elif op == 'resize':
                    cl.volume_update(rnd.choice(vols), {'sizeAdd': MiB})
                elif op == 'revert' and snaps:
                    snap = cl.snapshots[rnd.choice(snaps)]
                    cl.volume_revert(snap.on_volume,
                                     {'toSnapshot': snap.name})
                elif op == 'write':
                    name = rnd.choice(vols)
                    cl.volumes_reassign([{'volume': name,
                                          'rw': [cl.client_id]}])
                    self.write(name, rnd.choice((4096, MiB)))
                    if rnd.random() < 0.5:
                        cl.volumes_reassign([{'volume': name,
                                              'detach': [cl.client_id]}])
            except errors.EmulatorError:
                pass  # refused (busy, has children...): nothing changed
            if step % 25 == 0:
                self.assert_counted()
        self.assert_counted()
        cl.reset()
        self.assert_counted()
        self.assertEqual(0, cl.by_vid.raw)


class PersistedCountersTestCase(AccountingTestCase):
    """emulator.persist with the kept counters (both merged at once)."""

    def test_save_and_restore_keep_the_counters(self):
        from storpool_openstack.emulator import persist
        cl = self.cl
        cl.volume_create({'name': 'v1', 'size': 4 * MiB, 'template': 'a'})
        cl.volumes_reassign([{'volume': 'v1', 'rw': [cl.client_id]}])
        self.write('v1', MiB)
        cl.volume_snapshot('v1', {'name': 's1'})
        cl.volume_create({'name': 'c1', 'parent': 's1', 'template': 'b'})
        # The records carry the index's bookkeeping; the saved state must
        # not (json.dumps of it failed and stopped the server loop).
        persist.save(cl, cl.state_dir)
        cl.volumes_reassign([{'volume': 'v1', 'detach': [cl.client_id]}])
        before = recount(cl)

        tmp = os.path.dirname(cl.state_dir)
        again = model.Cluster(cl.state_dir, dev_dir=os.path.join(tmp, 'd2'),
                              device_mode='file',
                              templates='a:3:default,b:2:ssd')
        self.addCleanup(again.close)
        self.assertTrue(persist.load(again, cl.state_dir))
        self.cl = again
        self.assert_counted()
        self.assertEqual(before[0], recount(again)[0])
        again.volume_delete('c1')
        self.assert_counted()
