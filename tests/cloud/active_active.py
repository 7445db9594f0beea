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

"""Active-active cinder-volume: two services, one cluster, real etcd.

One cloud (``tests.cloud.rig``) with etcd as Cinder's tooz backend and two
cinder-volume processes, hosts ``aa-1`` and ``aa-2`` in cluster ``aa``.
The workload (``aa_workload``) runs through python-cinderclient with
keystone auth: first with ``aa-2`` stopped, then with both, then with
``aa-2`` SIGKILLed in the middle. ``tox -e active-active``.

Not named test_*.py: ``tox -e cloud-functional`` discovers tests/cloud
and would run it too; ``tox -e active-active`` runs this module alone.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import typing

import testtools
import testtools.content

from cinderclient import exceptions as cinder_exc

from storpool_openstack.ops import doctor_cluster
from tests.cloud import aa_workload
from tests.cloud import base
from tests.cloud import rig

CLUSTER = 'aa'
HOSTS = ('aa-1', 'aa-2')
WORKERS = 8
OPS_PER_PHASE = 110     # three phases: >= 300 operations in all
IMAGES = 3
TRANSITIONAL = {'creating', 'extending', 'deleting', 'retyping',
                'downloading', 'uploading', 'attaching', 'detaching',
                'maintenance'}
UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                  r'[0-9a-f]{12}')
# What the volume manager logs when it has done an operation.
SERVED = re.compile(r'(Created volume successfully|Create snapshot completed'
                    r' successfully|Deleted volume successfully|Delete '
                    r'snapshot completed successfully|Extend volume completed'
                    r' successfully|Retype volume completed successfully|'
                    r'Retype volume request issued successfully)')


def _service_name(host: str) -> str:
    return 'cinder-volume-' + host


class ActiveActiveTest(base.CloudTestCase):
    """See the module doc; one cloud for the class."""

    WORK_PREFIX = 'active-active-'
    LOG_NAMES = tuple(_service_name(h) for h in HOSTS)
    LOG_LINES = 80

    @classmethod
    def make_cloud(cls, work: str) -> rig.Cloud:
        return rig.Cloud(work, etcd=True, backup=False, volume_services=[
            rig.VolumeService(h, cluster=CLUSTER) for h in HOSTS])

    def report(self, name: str, text: str) -> None:
        """A figure for the report: in the subunit stream and on stderr."""
        self.addDetailUniqueName(name, testtools.content.text_content(text))
        sys.stderr.write('%s: %s\n' % (name, text))

    # -- helpers -----------------------------------------------------------
    def openstack(self, command: str) -> str:
        res = subprocess.run(['bash', '-o', 'pipefail', '-c', command],
                             capture_output=True, text=True,
                             env=self.cloud.client_env(), timeout=300)
        if res.returncode:
            self.fail('%r failed (exit %d):\n%s%s' % (
                command, res.returncode, res.stdout, res.stderr))
        return res.stdout

    def upload_image(self, name: str) -> str:
        """A small qcow2 image with data of its own (its own hash)."""
        raw = os.path.join(self.work, name + '.raw')
        path = os.path.join(self.work, name + '.qcow2')
        with open(raw, 'wb') as fobj:
            fobj.truncate(32 * 1024 * 1024)
            fobj.write(os.urandom(1024 * 1024))
        subprocess.run(['qemu-img', 'convert', '-q', '-O', 'qcow2', raw,
                        path], check=True)
        out = self.openstack(
            'openstack image create --disk-format qcow2 --container-format '
            'bare --file %s -f json %s' % (path, name))
        return json.loads(out)['id']

    def log_offsets(self) -> typing.Dict[str, int]:
        return {h: os.path.getsize(self.cloud.log(_service_name(h)))
                for h in HOSTS}

    def served(self, since: typing.Dict[str, int]) -> typing.Dict[str, int]:
        """Operations each service finished since the offsets."""
        out = {}
        for host in HOSTS:
            with open(self.cloud.log(_service_name(host)),
                      errors='replace') as fobj:
                fobj.seek(since[host])
                out[host] = len(SERVED.findall(fobj.read()))
        return out

    def image_copies(self) -> int:
        """Images the services copied (the first volume of each)."""
        return sum(_count(self.cloud.log(_service_name(h)),
                          r'Volume \S+: image \S+ written') for h in HOSTS)

    def all_resources(self, cinder: typing.Any) -> typing.List[typing.Any]:
        search = {'all_tenants': 1}
        return (list(cinder.volumes.list(search_opts=search)) +
                list(cinder.volume_snapshots.list(search_opts=search)) +
                list(cinder.group_snapshots.list(search_opts=search)))

    def busy(self, cinder: typing.Any) -> typing.List[str]:
        return ['%s %s: %s' % (type(r).__name__, r.id, r.status)
                for r in self.all_resources(cinder)
                if r.status in TRANSITIONAL]

    def wait_service(self, host: str, up: bool, after: float = 0.0,
                     timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for svc in self.cloud.cinder_services():
                if svc['host'] != host + '@storpool':
                    continue
                updated = _ts(svc['updated_at'] or '1970-01-01T00:00:00')
                if (svc['state'] == 'up') == up and \
                        (not up or updated > after):
                    return
            self.assertLess(time.monotonic(), deadline,
                            'cinder-volume %s not %s' % (
                                host, 'up' if up else 'down'))
            time.sleep(1)

    def setup_resources(self, cinder: typing.Any
                        ) -> typing.Tuple[typing.List[str],
                                          aa_workload.Pool]:
        # The default quotas (10 volumes) would end the workload early.
        cinder.quotas.update(cinder.client.session.get_project_id(),
                             volumes=-1, snapshots=-1, gigabytes=-1,
                             groups=-1)
        types = []
        for template in ('hybrid', 'ssd'):
            vtype = cinder.volume_types.create('aa-' + template)
            vtype.set_keys({'volume_backend_name': 'storpool',
                            'storpool_template': template})
            types.append(vtype.name)
        gtype = cinder.group_types.create('aa-cg')
        gtype.set_keys({'consistent_group_snapshot_enabled': '<is> True'})
        groups, volumes = [], {}
        for i in range(2):
            group = cinder.groups.create(gtype.id, types[0],
                                         name='aa-group-%d' % i)
            aa_workload.wait_final(lambda: cinder.groups.get(group.id), 60)
            for _ in range(2):
                vol = cinder.volumes.create(1, volume_type=types[0],
                                            group_id=group.id)
                aa_workload.wait_final(lambda: cinder.volumes.get(vol.id),
                                       60)
            groups.append(group.id)
        for i in range(6):
            vol = cinder.volumes.create(1, volume_type=types[i % 2])
            aa_workload.wait_final(lambda: cinder.volumes.get(vol.id), 60)
            volumes[vol.id] = 1
        return types, aa_workload.Pool(volumes, groups)

    def delete_everything(self, cinder: typing.Any) -> None:
        search = {'all_tenants': 1}
        for gsnap in cinder.group_snapshots.list(search_opts=search):
            cinder.group_snapshots.delete(gsnap.id)
        self.wait_gone(lambda: cinder.group_snapshots.list(
            search_opts=search))
        for group in cinder.groups.list(search_opts=search):
            cinder.groups.delete(group.id, delete_volumes=True)
        for snap in cinder.volume_snapshots.list(search_opts=search):
            cinder.volume_snapshots.delete(snap.id)
        self.wait_gone(lambda: cinder.volume_snapshots.list(
            search_opts=search))
        for vol in cinder.volumes.list(search_opts=search):
            cinder.volumes.delete(vol.id, cascade=True)
        self.wait_gone(lambda: cinder.volumes.list(search_opts=search))
        self.wait_gone(lambda: cinder.groups.list(search_opts=search))

    def wait_gone(self, lister: typing.Callable[[], list],
                  timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while True:
            left = list(lister())
            if not left:
                return
            errors = [r for r in left if 'error' in r.status]
            self.assertEqual([], ['%s %s' % (r.id, r.status) for r in errors],
                             'a delete failed')
            self.assertLess(time.monotonic(), deadline, 'not deleted: %s' % (
                ['%s %s' % (r.id, r.status) for r in left],))
            time.sleep(1)

    def catch_in_flight(self, cinder: typing.Any,
                        emulator: typing.Any, host: str,
                        timeout: float = 240) -> typing.List[str]:
        """Hold StorPool calls until ``host`` waits in one; its volumes.

        The ids of the volumes Cinder shows "creating" on ``host`` that
        a held call names: ``host`` (the only one working on them) is
        blocked in that call until the faults are cleared, which the
        caller does after the kill.  Holds in rounds: when all the work
        in hand went to the other service, let it go on for a while.
        """
        deadline = time.monotonic() + timeout
        while True:
            emulator.hold()
            round_end = time.monotonic() + 20
            while time.monotonic() < round_end:
                caught = []
                named = set(UUID.findall(json.dumps(emulator.held())))
                for vid in sorted(named):
                    try:
                        vol = cinder.volumes.get(vid)
                    except cinder_exc.NotFound:
                        continue
                    on = getattr(vol, 'os-vol-host-attr:host', None) or ''
                    if vol.status == 'creating' and \
                            on.startswith(host + '@'):
                        caught.append(vid)
                if caught:
                    return caught
                time.sleep(0.5)
            emulator.clear_faults()
            self.assertLess(time.monotonic(), deadline, '%s was never '
                            'seen creating a volume in %d s' % (host,
                                                                timeout))
            time.sleep(3)

    # -- the tests ---------------------------------------------------------
    def test_doctor_cluster_checks(self) -> None:
        """The doctor on this cloud's cinder.conf with its cluster."""
        with open(self.cloud.cinder_conf) as fobj:
            text = fobj.read()
        self.assertIn('backend_url = etcd3+http://', text)
        conf = os.path.join(self.work, 'doctor-cinder.conf')
        with open(conf, 'w') as fobj:
            fobj.write(text.replace('[DEFAULT]\n', '[DEFAULT]\ncluster = %s\n'
                                    % CLUSTER, 1))
        status, message, _fix = doctor_cluster.check(conf)
        self.assertEqual('pass', status, message)
        self.assertIn('cluster aa: the coordination backend etcd3+http://',
                      message)
        # The same with nothing listening at the backend's port.
        with open(conf, 'w') as fobj:
            fobj.write(re.sub(r'etcd3\+http://127.0.0.1:\d+',
                              'etcd3+http://127.0.0.1:%d' % rig.free_port(),
                              text.replace('[DEFAULT]\n', '[DEFAULT]\ncluster'
                                           ' = %s\n' % CLUSTER, 1)))
        started = time.monotonic()
        status, message, fix = doctor_cluster.check(conf)
        self.assertEqual('fail', status, message)
        self.assertIn('cannot reach the coordination backend', message)
        self.assertIn('[coordination] backend_url', message)
        self.assertLess(time.monotonic() - started, 60, 'no short timeout')

    def test_image_copy_lock_on_etcd(self) -> None:
        """cluster.image_copy_lock excludes another service, through etcd.

        This process plays one service (Cinder's own coordinator on this
        cloud's etcd); a second tooz member, as another service would be,
        cannot take the same lock while it is held.
        """
        from cinder import coordination
        from oslo_config import cfg
        from tooz import coordination as tooz_coordination

        from storpool_openstack.cinder import cluster

        url = self.cloud.coordination_url
        cfg.CONF.set_override('backend_url', url, group='coordination')
        self.addCleanup(cfg.CONF.clear_override, 'backend_url',
                        group='coordination')
        coordination.COORDINATOR.start()
        self.addCleanup(coordination.COORDINATOR.stop)
        other = tooz_coordination.get_coordinator(url, b'other-service')
        other.start(start_heart=True)
        self.addCleanup(other.stop)
        name = b'cinder-storpool-image-abc-img1'
        with cluster.image_copy_lock('img1', 'abc'):
            self.assertFalse(other.get_lock(name).acquire(blocking=False))
            lock2 = other.get_lock(b'cinder-storpool-image-abc-img2')
            self.assertTrue(lock2.acquire(blocking=False))
            lock2.release()
        lock = other.get_lock(name)
        self.assertTrue(lock.acquire(blocking=False))
        lock.release()

    def test_workload_two_services_and_failover(self) -> None:
        creds = self.cloud.admin_credentials()
        cinder = aa_workload.client(creds)
        images = [self.upload_image('aa-image-%d' % i)
                  for i in range(IMAGES)]
        types, pool = self.setup_resources(cinder)
        work = aa_workload.Workload(creds, pool, images, types)

        # 1. One service: aa-2 stopped (the cluster's queue is aa-1's).
        self.cloud.kill(_service_name('aa-2'), signal.SIGTERM)
        since = self.log_offsets()
        one = work.run(OPS_PER_PHASE, WORKERS)
        served_one = self.served(since)
        self.assertEqual([], one.errors + one.stuck)
        self.assertEqual(0, served_one['aa-2'])

        # 2. Both services.
        restarted = time.time()
        self.cloud.restart(_service_name('aa-2'))
        self.wait_service('aa-2', True, after=restarted)
        since = self.log_offsets()
        two = work.run(OPS_PER_PHASE, WORKERS)
        served_two = self.served(since)
        self.assertEqual([], two.errors + two.stuck)
        self.assertGreater(served_two['aa-1'], 0, served_two)
        self.assertGreater(served_two['aa-2'], 0, served_two)
        self.report('ops per second', '%.2f with one service, %.2f with '
                    'two: ratio %.2f (%d and %d operations, %d workers); '
                    'served by aa-1/aa-2: %s' % (
                        one.rate, two.rate, two.rate / one.rate, one.ops,
                        two.ops, WORKERS, served_two))

        # Each image copied once, whichever service made its first
        # volume (the tooz lock), and one cache entry per image.
        cache = [n for n in self.cloud.emulator().state()['snapshots']
                 if '--image--' in n and not n.startswith('*')]
        self.assertEqual(len(cache), self.image_copies(), cache)
        self.assertLessEqual(len(cache), IMAGES)

        # 3. aa-2 SIGKILLed after a third of the operations, at a moment
        # it is sure to hold work: the emulator holds every StorPool call
        # (as a stalled StorPool would) until a held call names a volume
        # Cinder shows "creating" on aa-2; the kill comes while that call
        # still waits, so aa-2 cannot have finished that volume.
        killed: typing.List[float] = []
        kill_lock = threading.Lock()
        emulator = self.cloud.emulator()
        self.addCleanup(emulator.clear_faults)
        since = self.log_offsets()

        failover: typing.Dict[str, typing.Any] = {}

        def cleanup_after_kill() -> None:
            """Cinder's cleanup of aa-2's work, as soon as it is down."""
            try:
                watcher = aa_workload.client(creds)
                self.wait_service('aa-2', False, timeout=120)
                failover['left'] = self.busy(watcher)
                failover['answer'] = self.cloud.cinder(
                    '/workers/cleanup', 'POST', {
                        'cluster_name': '%s@storpool' % CLUSTER,
                        'host': 'aa-2@storpool',
                        'binary': 'cinder-volume'}, microversion='3.24')
                # What the cleanup covers: volumes creating, deleting,
                # downloading or uploading, snapshots creating.
                deadline = time.monotonic() + 180
                while [b for b in self.busy(watcher) if _cleanable(b)]:
                    self.assertLess(time.monotonic(), deadline,
                                    'the cleanup did not finish')
                    time.sleep(0.5)
                failover['cleaned'] = time.monotonic() - killed[0]
            except BaseException as exc:
                failover['error'] = exc

        def kill_in_flight() -> None:
            try:
                failover['hold'] = time.monotonic()
                failover['caught'] = self.catch_in_flight(
                    aa_workload.client(creds), emulator, 'aa-2')
                killed.append(time.monotonic())
                failover['hold'] = killed[0] - failover['hold']
                self.cloud.kill(_service_name('aa-2'))
            except BaseException as exc:
                failover['error'] = exc
                return
            finally:
                emulator.clear_faults()
            cleanup_after_kill()

        # Its own thread: the workers go on making work meanwhile.
        killer = threading.Thread(target=kill_in_flight)

        def progress(count: int) -> None:
            with kill_lock:
                if count >= OPS_PER_PHASE // 3 and not killer.ident:
                    killer.start()
        work.op_timeout = 60
        third = work.run(OPS_PER_PHASE, WORKERS, progress)
        killer.join(600)
        self.assertFalse(killer.is_alive(), 'the failover hangs')
        if 'error' in failover:
            raise failover['error']
        self.assertTrue(killed)
        # Each volume aa-2 was creating at the kill stayed "creating"
        # until Cinder's cleanup, which then put it in a final state.
        caught = failover['caught']
        left = ' '.join(failover['left'])
        self.assertEqual([], [v for v in caught if v not in left],
                         'caught in flight but not left busy: %s' % left)
        self.assertEqual(['error'] * len(caught),
                         [cinder.volumes.get(v).status for v in caught])
        self.assertEqual(['aa-2@storpool'], [
            s['host'] for s in failover['answer']['cleaning']], failover)
        served_third = self.served(since)
        self.assertGreater(served_third['aa-1'], 0)
        busy = self.busy(cinder)
        # What it does not cover (an extend, a retype, a snapshot delete
        # or a group snapshot the dead service had taken): the operator's
        # reset-state, as Cinder's documentation says.
        for item in self.all_resources(cinder):
            if item.status not in TRANSITIONAL:
                continue
            item.reset_state('error')
        self.assertEqual([], self.busy(cinder))
        self.report('failover', 'aa-2 SIGKILLed after %d of %d operations;'
                    ' %d finished with an error, %d waited past %d s; '
                    'caught creating on aa-2 (after %.1f s of held '
                    'StorPool calls): %s; left in flight: %s; '
                    'the cleanup put every '
                    'volume and snapshot it covers in a final state %.1f s '
                    'after the kill (service_down_time 30 s); reset by '
                    'hand, outside what the cleanup covers: %s' % (
                        OPS_PER_PHASE // 3, third.ops, len(third.errors),
                        len(third.stuck), work.op_timeout,
                        failover['hold'], caught, failover['left'],
                        failover['cleaned'], busy or 'none'))

        # 4. Everything deleted through Cinder; StorPool holds no garbage.
        # A volume or snapshot in an error state after the kill (Cinder's
        # cleanup sets what was "creating" to "error") deletes too.
        self.delete_everything(cinder)
        state = self.cloud.emulator().state()
        self.assertEqual({}, state['volumes'])
        snaps = [n for n in state['snapshots'] if not n.startswith('*')]
        deferred = [n for n in snaps if '--deleted--' in n]
        cache = [n for n in snaps if '--image--' in n]
        self.assertEqual([], sorted(set(snaps) - set(deferred) -
                                    set(cache)))
        per_image = {i: [n for n in cache if n.endswith(i)] for i in images}
        self.assertEqual([], [n for n in per_image.values() if len(n) > 1],
                         'duplicate image-cache entries')
        copies = self.image_copies()
        self.report('image cache', '%d entries for %d images, %d image '
                    'copies in all; %d deferred-deletion snapshots' % (
                        len(cache), len(images), copies, len(deferred)))
        self.assertEqual([], self.busy(cinder))


def _cleanable(busy: str) -> bool:
    kind, rest = busy.split(' ', 1)
    status = rest.split(': ', 1)[1]
    if kind == 'Volume':
        return status in ('creating', 'deleting', 'downloading',
                          'uploading')
    return kind == 'Snapshot' and status == 'creating'


def _count(path: str, pattern: str) -> int:
    with open(path, errors='replace') as fobj:
        return len(re.findall(pattern, fobj.read()))


def _ts(value: str) -> float:
    import datetime
    stamp = datetime.datetime.fromisoformat(value.split('.')[0])
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()
