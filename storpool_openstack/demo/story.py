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
"""The demo's story: real Cinder services, StorPoolDriver, the emulator.

`Story.run()` starts the StorPool emulator (a child process) and Cinder's
API, scheduler and volume service (`cloud`, in this process), then runs
the steps in order.  Each step talks to Cinder's REST API through
python-cinderclient, as a user would; checks StorPool's side through the
emulator's control endpoint (not counted as API calls); and reports its
time and the StorPool API calls it caused.

Importing this module monkey-patches the process with eventlet (through
`cloud`), as Cinder's services need.
"""

from storpool_openstack.demo import cloud  # noqa: I100 (eventlet first)

import logging  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from typing import Callable  # noqa: E402
import uuid  # noqa: E402

from cinderclient import client as cinder_client  # noqa: E402
from cinderclient.contrib import noauth  # noqa: E402
from cinderclient import exceptions as cinder_exc  # noqa: E402
from keystoneauth1 import session as ks_session  # noqa: E402

from storpool_openstack.brick import connector as sp_connector  # noqa: E402
from storpool_openstack.common import config as sp_config  # noqa: E402
from storpool_openstack.common import names  # noqa: E402
from storpool_openstack.demo import results  # noqa: E402
from storpool_openstack.emulator import process  # noqa: E402

LOG = logging.getLogger(__name__)

# name:replication; '-': the template sets no replication.
TEMPLATES = 'ssd:-,hdd:-'
GiB = 1 << 30
PATTERN = 64 * 1024
TIMEOUT = 60.0
ERROR_STATES = ('error', 'error_deleting', 'error_extending',
                'error_restoring')


def pattern(seed: int) -> bytes:
    """PATTERN bytes that differ for each seed (and are not zeros)."""
    block = bytes((seed * 31 + i * 7) % 251 + 1 for i in range(4096))
    return block * (PATTERN // len(block))


class StepFailed(Exception):
    """What a step found wrong (shown to the user)."""


class Story:
    """The demo's steps against the emulator and Cinder's services."""

    def __init__(self, work_dir: str, *, device_mode: str,
                 report: Callable[[results.StepResult], None],
                 add_secret: Callable[[str], None]):
        self.work_dir = work_dir
        self.device_mode = device_mode
        self.report = report
        self.add_secret = add_secret
        self.failed = False
        self.vol = self.snap = None
        self.volumes: list[str] = []

    # Services

    def run(self) -> None:
        """Start everything, run the steps, stop everything."""
        started = time.monotonic()
        emulator = process.EmulatorProcess(
            os.path.join(self.work_dir, 'emulator'),
            device_mode=self.device_mode, templates=TEMPLATES)
        self.add_secret(emulator.token)
        with emulator:
            self.emulator = emulator
            self.report(results.StepResult(
                f'start the StorPool emulator ({emulator.device_mode} '
                f'devices)', results.OK, time.monotonic() - started, []))
            try:
                self._run_on_cinder()
            finally:
                leftovers = emulator.leftovers()
        if leftovers:
            raise StepFailed('the emulator left devices behind: '
                             + ', '.join(leftovers))

    def _run_on_cinder(self) -> None:
        started = time.monotonic()
        host_dir = os.path.join(self.work_dir, 'host')
        os.makedirs(host_dir)
        self.attach_state_file = os.path.join(host_dir,
                                              'openstack-attach.json')
        with open(self.attach_state_file, 'w') as fobj:
            fobj.write('{}')
        self.services = cloud.Cinder(
            os.path.join(self.work_dir, 'cinder'),
            storpool_conf=self.emulator.conf_path,
            dev_root=self.emulator.dev_dir,
            attach_state_file=self.attach_state_file)
        try:
            self.services.start()
            self.images = self.services.images
            # noauth: the token names the user and the project (Cinder
            # wants a hex project id in its URLs); the user is an admin.
            auth = noauth.CinderNoAuthPlugin(
                'demo', uuid.uuid4().hex, endpoint=self.services.endpoint)
            self.cinder = cinder_client.Client(
                cloud.API_VERSION, session=ks_session.Session(auth=auth))
            self.report(results.StepResult(
                'start Cinder: API, scheduler, volume service with '
                'StorPoolDriver', results.OK, time.monotonic() - started,
                self.queries()))
            self.steps()
        finally:
            self.services.stop()

    # Step machinery

    def queries(self) -> list[str]:
        return self.emulator.control.queries()

    def state(self) -> dict:
        return self.emulator.control.state()

    def step(self, title: str, func, requires: tuple = ()) -> None:
        if self.failed:
            self.report(results.StepResult(
                title, results.SKIPPED, 0.0, [],
                'not run after the failure above'))
            return
        for attr, what in requires:
            if getattr(self, attr, None) is None:
                self.report(results.StepResult(
                    title, results.SKIPPED, 0.0, [], f'needs {what}'))
                return
        mark = len(self.queries())
        started = time.monotonic()
        status, detail = results.OK, ''
        try:
            detail = func() or ''
        except results.StepSkipped as exc:
            status, detail = results.SKIPPED, str(exc)
        except Exception as exc:
            LOG.error('demo step "%s" failed:\n%s', title,
                      traceback.format_exc())
            status = results.FAILED
            detail = f'{type(exc).__name__}: {exc}'
            self.failed = True
        seconds = time.monotonic() - started
        self.report(results.StepResult(
            title, status, seconds, self.queries()[mark:], detail))

    @staticmethod
    def expect(condition: bool, message: str) -> None:
        if not condition:
            raise StepFailed(message)

    # REST helpers

    def wait(self, get, ident: str, *, field: str = 'status',
             want='available', timeout: float = TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            item = get(ident)
            if getattr(item, field) == want:
                return item
            status = getattr(item, 'status', None)
            if status in ERROR_STATES:
                raise StepFailed(f'{ident} went to {status}; see the '
                                 f'Cinder log')
            if time.monotonic() > deadline:
                raise StepFailed(f'{ident}: {field} is still '
                                 f'{getattr(item, field)!r} after '
                                 f'{timeout} s')
            time.sleep(0.05)

    def wait_gone(self, get, ident: str, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = get(ident)
            except cinder_exc.NotFound:
                return
            status = getattr(item, 'status', None)
            if status in ERROR_STATES or time.monotonic() > deadline:
                raise StepFailed(f'{ident} was not deleted: {status}')
            time.sleep(0.05)

    def create_volume(self, size: int, **kwargs) -> str:
        kwargs.setdefault('volume_type', 'storpool-ssd')
        vol = self.cinder.volumes.create(size, **kwargs)
        self.wait(self.cinder.volumes.get, vol.id, timeout=TIMEOUT * 2)
        return vol.id

    def vol_name(self, volume_id: str) -> str:
        return names.volume_name(volume_id, self.emulator.volume_prefix)

    def snap_name(self, snapshot_id: str) -> str:
        return names.snapshot_name(snapshot_id,
                                   self.emulator.volume_prefix)

    def sp_volume(self, volume_id: str) -> dict:
        volumes = self.state()['volumes']
        name = self.vol_name(volume_id)
        self.expect(name in volumes, f'StorPool has no volume {name}')
        return volumes[name]

    def data(self, volume_id: str) -> bytes:
        return self.emulator.control.read(self.vol_name(volume_id), 0,
                                          PATTERN)

    # The connector (what nova-compute does on a host)

    @property
    def connector_props(self) -> dict:
        return {'host': platform.node(), 'platform': 'x86_64',
                'os_type': 'linux', 'multipath': False,
                'initiator': 'iqn.2026-11.demo:host'}

    def connector(self) -> sp_connector.StorPoolConnector:
        conf = sp_config.load(config_file=self.emulator.conf_path,
                              config_dir=self.emulator.conf_path + '.d',
                              use_env=False)
        return sp_connector.StorPoolConnector(
            None, storpool_config=conf, dev_root=self.emulator.dev_dir,
            attach_state_file=self.attach_state_file)

    def with_device(self, volume_id: str, work) -> str:
        """initialize_connection, connect, work(path), disconnect."""
        info = self.cinder.volumes.initialize_connection(
            volume_id, self.connector_props)
        self.expect(info['driver_volume_type'] == 'storpool',
                    f'driver_volume_type {info["driver_volume_type"]}')
        conn = self.connector()
        path = conn.connect_volume(info['data'])['path']
        try:
            work(path)
        finally:
            conn.disconnect_volume(info['data'], None)
            self.cinder.volumes.terminate_connection(volume_id,
                                                     self.connector_props)
        return path

    # The story

    def steps(self) -> None:
        self.step('create the volume types storpool-ssd and storpool-hdd '
                  '(templates ssd, hdd)', self.s_types)
        self.step('create a 1 GiB volume of type storpool-ssd',
                  self.s_create)
        self.step('extend it to 2 GiB', self.s_extend,
                  requires=[('vol', 'a volume')])
        self.step('attach it through the connector, write and read',
                  self.s_attach, requires=[('vol', 'a volume')])
        self.step('snapshot it', self.s_snapshot,
                  requires=[('vol', 'a volume')])
        self.step('clone it', self.s_clone, requires=[('vol', 'a volume')])
        self.step('create a volume from the snapshot', self.s_from_snapshot,
                  requires=[('snap', 'a snapshot')])
        self.step('create a volume from a qcow2 image', self.s_from_image)
        self.step('retype it to storpool-hdd', self.s_retype,
                  requires=[('vol', 'a volume')])
        self.step('revert it to the snapshot', self.s_revert,
                  requires=[('snap', 'a snapshot')])
        self.step('group snapshot of a consistency group of two volumes',
                  self.s_group_snapshot)
        self.step('delete the volumes and the snapshot', self.s_delete)

    def s_types(self) -> str:
        self.type_ids = {}
        for name, template in (('storpool-ssd', 'ssd'),
                               ('storpool-hdd', 'hdd')):
            vtype = self.cinder.volume_types.create(name)
            vtype.set_keys({'storpool_template': template,
                            'volume_backend_name': cloud.BACKEND})
            self.type_ids[name] = vtype.id
        return ''

    def s_create(self) -> str:
        self.vol = self.create_volume(1, name='demo-volume')
        self.volumes = [self.vol]
        spv = self.sp_volume(self.vol)
        self.expect(spv['size'] == GiB, f'StorPool size {spv["size"]}')
        self.expect(spv.get('templateName') == 'ssd',
                    f'template {spv.get("templateName")}')
        return f'StorPool volume {self.vol_name(self.vol)}, template ssd'

    def s_extend(self) -> str:
        self.cinder.volumes.extend(self.vol, 2)
        self.wait(self.cinder.volumes.get, self.vol, field='size', want=2)
        self.wait(self.cinder.volumes.get, self.vol)
        size = self.sp_volume(self.vol)['size']
        self.expect(size == 2 * GiB, f'StorPool size {size}')
        return ''

    def s_attach(self) -> str:
        data = pattern(1)

        def work(path: str) -> None:
            with open(path, 'r+b') as dev:
                dev.write(data)
                dev.flush()
                os.fsync(dev.fileno())
            with open(path, 'rb') as dev:
                self.expect(dev.read(PATTERN) == data,
                            'read back other bytes than written')
            self.expect(len(self.state()['attachments']) == 1,
                        'StorPool shows no attachment')

        path = self.with_device(self.vol, work)
        self.expect(self.data(self.vol) == data,
                    'StorPool holds other bytes than written')
        state = self.state()
        self.expect(not state['attachments'],
                    f'still attached: {state["attachments"]}')
        with open(self.attach_state_file) as fobj:
            self.expect(fobj.read().strip() == '{}',
                        'attach-state file not empty after detach')
        shown = os.path.relpath(path, self.emulator.dev_dir)
        return (f'{shown} ({self.emulator.device_mode} device): 64 KiB '
                f'written, read back, detached')

    def s_snapshot(self) -> str:
        snap = self.cinder.volume_snapshots.create(self.vol,
                                                   name='demo-snapshot')
        self.wait(self.cinder.volume_snapshots.get, snap.id)
        self.snap = snap.id
        name = self.snap_name(snap.id)
        self.expect(name in self.state()['snapshots'],
                    f'StorPool has no snapshot {name}')
        return f'StorPool snapshot {name}'

    def s_clone(self) -> str:
        vol = self.create_volume(2, source_volid=self.vol,
                                 name='demo-clone')
        self.volumes.append(vol)
        self.expect(self.data(vol) == pattern(1),
                    'the clone holds other data')
        return 'same data as its source'

    def s_from_snapshot(self) -> str:
        vol = self.create_volume(2, snapshot_id=self.snap,
                                 name='demo-from-snapshot')
        self.volumes.append(vol)
        self.expect(self.data(vol) == pattern(1),
                    'the new volume holds other data than the snapshot')
        return 'same data as the snapshot'

    def s_from_image(self) -> str:
        qemu_img = shutil.which('qemu-img')
        if qemu_img is None:
            raise results.StepSkipped('qemu-img is not installed')
        raw = os.path.join(self.work_dir, 'image.raw')
        with open(raw, 'wb') as fobj:
            fobj.write(pattern(2))
            fobj.truncate(16 << 20)
        qcow2 = os.path.join(self.work_dir, 'image.qcow2')
        subprocess.run([qemu_img, 'convert', '-f', 'raw', '-O', 'qcow2',
                        raw, qcow2], check=True, capture_output=True)
        image = self.images.add_image(qcow2, disk_format='qcow2',
                                      name='demo-image')
        vol = self.create_volume(1, imageRef=image['id'],
                                 name='demo-from-image')
        self.volumes.append(vol)
        self.expect(self.data(vol) == pattern(2),
                    'the volume holds other data than the image')
        return f'qcow2 image of {os.path.getsize(qcow2)} bytes converted'

    def s_retype(self) -> str:
        self.cinder.volumes.retype(self.vol, 'storpool-hdd', 'never')
        self.wait(self.cinder.volumes.get, self.vol, field='volume_type',
                  want='storpool-hdd')
        self.wait(self.cinder.volumes.get, self.vol)
        template = self.sp_volume(self.vol).get('templateName')
        self.expect(template == 'hdd', f'StorPool template {template}')
        return 'StorPool template ssd -> hdd, in place'

    def s_revert(self) -> str:
        def work(path: str) -> None:
            with open(path, 'r+b') as dev:
                dev.write(pattern(3))
                dev.flush()
                os.fsync(dev.fileno())

        self.with_device(self.vol, work)
        self.expect(self.data(self.vol) == pattern(3), 'write lost')
        self.cinder.volumes.revert_to_snapshot(self.vol, self.snap)
        self.wait(self.cinder.volumes.get, self.vol)
        self.expect(self.data(self.vol) == pattern(1),
                    'the volume does not hold the snapshot\'s data')
        return 'data written after the snapshot is gone'

    def s_group_snapshot(self) -> str:
        gtype = self.cinder.group_types.create('demo-consistency-group')
        gtype.set_keys({'consistent_group_snapshot_enabled': '<is> True'})
        group = self.cinder.groups.create(
            gtype.id, self.type_ids['storpool-ssd'], name='demo-group')
        self.wait(self.cinder.groups.get, group.id)
        members = [self.create_volume(1, group_id=group.id,
                                      name=f'demo-group-{i}')
                   for i in (1, 2)]
        mark = len(self.queries())
        gsnap = self.cinder.group_snapshots.create(
            group.id, name='demo-group-snapshot')
        self.wait(self.cinder.group_snapshots.get, gsnap.id)
        calls = self.queries()[mark:]
        self.expect(calls.count('VolumesGroupSnapshot') == 1,
                    f'expected one VolumesGroupSnapshot call, got {calls}')
        self.cinder.group_snapshots.delete(gsnap.id)
        self.wait_gone(self.cinder.group_snapshots.get, gsnap.id)
        self.cinder.groups.delete(group.id, delete_volumes=True)
        self.wait_gone(self.cinder.groups.get, group.id)
        for member in members:
            self.wait_gone(self.cinder.volumes.get, member)
        return ('2 volumes snapshotted in one VolumesGroupSnapshot call; '
                'group deleted')

    def s_delete(self) -> str:
        for volume_id in reversed(self.volumes[1:]):
            self.cinder.volumes.delete(volume_id)
            self.wait_gone(self.cinder.volumes.get, volume_id)
        if self.snap:
            self.cinder.volume_snapshots.delete(self.snap)
            self.wait_gone(self.cinder.volume_snapshots.get, self.snap)
        if self.vol:
            self.cinder.volumes.delete(self.vol)
            self.wait_gone(self.cinder.volumes.get, self.vol)
        state = self.state()
        left = list(state['volumes'])
        self.expect(not left, f'StorPool volumes left: {left}')
        self.expect(not state['attachments'],
                    f'attachments left: {state["attachments"]}')
        kept = sorted(state['snapshots'])
        if kept:
            return (f'StorPool: no volumes; {len(kept)} snapshot(s) kept '
                    f'by the driver (image cache or deferred deletion)')
        return 'StorPool: no volumes, no snapshots, no attachments'
