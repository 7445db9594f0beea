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

`DemoStory` is built on `cinder.tests.functional`'s `_FunctionalTestBase`
(shipped with Cinder), which starts the REST API, the scheduler and the
volume service in this process.  `test_story` runs the steps in order;
each one talks REST to Cinder (as a user would), checks StorPool's side
through the emulator's control endpoint (not counted as API calls), and
reports its time and the StorPool API calls it caused.  A step whose
driver feature is not in this build says so and is skipped.
"""

import logging as std_logging
import os
import platform
import shutil
import subprocess
import time
import traceback

import fixtures

from cinder.tests.functional.api import client

from storpool_openstack.cinder import driver as sp_driver
from storpool_openstack.common import config as sp_config
from storpool_openstack.common import names
from storpool_openstack.emulator import fixture as emu_fixture
from tests.functional import harness
from storpool_openstack.demo import runner as demo_mod

LOG = std_logging.getLogger(__name__)

BACKEND = 'storpool'
TEMPLATES = ['ssd', 'hdd']
GiB = 1 << 30
PATTERN = 64 * 1024
TIMEOUT = 60.0
ERROR_STATES = ('error', 'error_deleting', 'error_extending',
                'error_restoring')


def missing_feature(*methods: str) -> str | None:
    """The first driver method this build does not implement itself."""
    for method in methods:
        if not any(method in vars(klass) and
                   klass.__module__.startswith('storpool_openstack')
                   for klass in sp_driver.StorPoolDriver.__mro__):
            return method
    return None


def pattern(seed: int) -> bytes:
    """PATTERN bytes that differ for each seed (and are not zeros)."""
    block = bytes((seed * 31 + i * 7) % 251 + 1 for i in range(4096))
    return block * (PATTERN // len(block))


class DemoStory(harness.StorPoolServicesBase):
    """One test, `test_story`; `demo` is set by the runner."""

    demo: demo_mod.Demo

    # Services

    def _get_flags(self):
        # Runs after Cinder's logging fixtures and before the services
        # start: the log file then sees the driver's setup too.
        started = time.monotonic()
        handler = std_logging.FileHandler(self.demo.log_path)
        handler.setLevel(std_logging.DEBUG)
        handler.setFormatter(std_logging.Formatter(
            '%(asctime)s %(levelname)s [%(name)s] %(message)s'))
        self.useFixture(fixtures.LogHandler(handler, nuke_handlers=False))
        root = std_logging.getLogger()
        self.addCleanup(root.setLevel, root.level)
        root.setLevel(std_logging.DEBUG)

        self.emulator = self.useFixture(emu_fixture.EmulatorFixture(
            templates=TEMPLATES, device_mode=self.demo.device_mode))
        self.demo.console.add_secret(self.emulator.token)
        self.emulator_seconds = time.monotonic() - started
        self.host_dir = os.path.join(self.demo.tmp, 'host')
        os.makedirs(os.path.join(self.host_dir, 'conversion'))
        self.attach_state_file = os.path.join(self.host_dir,
                                              'openstack-attach.json')
        with open(self.attach_state_file, 'w') as fobj:
            fobj.write('{}')

        flags = super()._get_flags()
        self.images = self.storpool_flags(
            flags, self.emulator, self.host_dir,
            attach_state_file=self.attach_state_file, api_retries=1)
        self.services_started = time.monotonic()
        return flags

    # Step machinery

    def queries(self) -> list[str]:
        return self.emulator.control.queries()

    def state(self) -> dict:
        return self.emulator.control.state()

    def step(self, title: str, func, needs: tuple = (),
             requires: tuple = ()) -> None:
        if self.failed:
            self.demo.report(demo_mod.StepResult(
                title, demo_mod.SKIPPED, 0.0, [],
                'not run after the failure above'))
            return
        missing = missing_feature(*needs)
        if missing:
            self.demo.report(demo_mod.StepResult(
                title, demo_mod.SKIPPED, 0.0, [],
                f'not built (StorPoolDriver has no {missing}())'))
            return
        for attr, what in requires:
            if getattr(self, attr, None) is None:
                self.demo.report(demo_mod.StepResult(
                    title, demo_mod.SKIPPED, 0.0, [], f'needs {what}'))
                return
        mark = len(self.queries())
        started = time.monotonic()
        status, detail = demo_mod.OK, ''
        try:
            detail = func() or ''
        except demo_mod.StepSkipped as exc:
            status, detail = demo_mod.SKIPPED, str(exc)
        except Exception as exc:
            LOG.error('demo step "%s" failed:\n%s', title,
                      traceback.format_exc())
            status = demo_mod.FAILED
            detail = f'{type(exc).__name__}: {exc}'
            self.failed = True
        seconds = time.monotonic() - started
        self.demo.report(demo_mod.StepResult(
            title, status, seconds, self.queries()[mark:], detail))

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            raise AssertionError(message)

    # REST helpers

    def wait(self, get, ident: str, *, field: str = 'status',
             want: str = 'available', timeout: float = TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            item = get(ident)
            if item[field] == want:
                return item
            if item.get('status') in ERROR_STATES:
                raise AssertionError(f'{ident} went to {item["status"]}; '
                                     f'see the Cinder log')
            if time.monotonic() > deadline:
                raise AssertionError(f'{ident}: {field} is still '
                                     f'{item[field]!r} after {timeout} s')
            time.sleep(0.05)

    def wait_gone(self, get, ident: str, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = get(ident)
            except client.OpenStackApiException404:
                return
            if item.get('status') in ERROR_STATES or \
                    time.monotonic() > deadline:
                raise AssertionError(f'{ident} was not deleted: '
                                     f'{item.get("status")}')
            time.sleep(0.05)

    def create_volume(self, **body) -> dict:
        body.setdefault('volume_type', 'storpool-ssd')
        vol = self.api.post_volume({'volume': body})
        return self.wait(self.api.get_volume, vol['id'],
                         timeout=TIMEOUT * 2)

    def action(self, volume_id: str, body: dict, status=(202,)) -> dict:
        return self.api.api_post(f'/volumes/{volume_id}/action', body,
                                 check_response_status=list(status))

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

    def connector(self):
        from storpool_openstack.brick import connector as sp_connector
        cfg_ = sp_config.load(config_file=self.emulator.conf_path,
                              config_dir=self.emulator.conf_path + '.d',
                              use_env=False)
        return sp_connector.StorPoolConnector(
            None, storpool_config=cfg_, dev_root=self.emulator.dev_dir,
            attach_state_file=self.attach_state_file)

    def with_device(self, volume_id: str, work) -> str:
        """initialize_connection, connect, work(path), disconnect."""
        info = self.action(volume_id, {'os-initialize_connection': {
            'connector': self.connector_props}}, status=(200,))
        info = info['connection_info']
        self.expect(info['driver_volume_type'] == 'storpool',
                    f'driver_volume_type {info["driver_volume_type"]}')
        conn = self.connector()
        path = conn.connect_volume(info['data'])['path']
        try:
            work(path)
        finally:
            conn.disconnect_volume(info['data'], None)
            self.action(volume_id, {'os-terminate_connection': {
                'connector': self.connector_props}})
        return path

    # The story

    def test_story(self):
        self.failed = False
        # Cinder's image copies probe every os-brick transport for the
        # host's connector properties (NVMe needs privsep); a StorPool
        # attach needs only what the driver's own properties carry.
        self.use_driver_connector_properties()
        self.publish_capabilities()
        startup = self.queries()
        self.demo.report(demo_mod.StepResult(
            f'start the StorPool emulator ({self.emulator.device_mode} '
            f'devices)', demo_mod.OK, self.emulator_seconds, []))
        self.demo.report(demo_mod.StepResult(
            'start Cinder: API, scheduler, volume service with '
            'StorPoolDriver', demo_mod.OK,
            time.monotonic() - self.services_started, startup))

        self.vol = self.snap = None
        self.step('create the volume types storpool-ssd and storpool-hdd '
                  '(templates ssd, hdd)', self.s_types)
        self.step('create a 1 GiB volume of type storpool-ssd',
                  self.s_create, needs=('create_volume',))
        self.step('extend it to 2 GiB', self.s_extend,
                  needs=('extend_volume',), requires=[('vol', 'a volume')])
        self.step('attach it through the connector, write and read',
                  self.s_attach, needs=('initialize_connection',),
                  requires=[('vol', 'a volume')])
        self.step('snapshot it', self.s_snapshot,
                  needs=('create_snapshot',), requires=[('vol', 'a volume')])
        self.step('clone it', self.s_clone, needs=('create_cloned_volume',),
                  requires=[('vol', 'a volume')])
        self.step('create a volume from the snapshot', self.s_from_snapshot,
                  needs=('create_volume_from_snapshot',),
                  requires=[('snap', 'a snapshot')])
        self.step('create a volume from a qcow2 image', self.s_from_image,
                  needs=('copy_image_to_volume',))
        self.step('retype it to storpool-hdd', self.s_retype,
                  needs=('retype',), requires=[('vol', 'a volume')])
        self.step('revert it to the snapshot', self.s_revert,
                  needs=('revert_to_snapshot',),
                  requires=[('snap', 'a snapshot')])
        self.step('group snapshot of a consistency group of two volumes',
                  self.s_group_snapshot, needs=('create_group_snapshot',))
        self.step('delete the volumes and the snapshot', self.s_delete,
                  needs=('delete_volume',))

    def s_types(self) -> str:
        self.type_ids = {}
        for name, template in (('storpool-ssd', 'ssd'),
                               ('storpool-hdd', 'hdd')):
            vtype = self.api.create_type(name)
            self.type_ids[name] = vtype['id']
            self.api.create_volume_type_extra_specs(vtype['id'], {
                'storpool_template': template,
                'volume_backend_name': BACKEND})
        return ''

    def s_create(self) -> str:
        vol = self.create_volume(size=1, name='demo-volume')
        self.vol = vol['id']
        self.volumes = [vol['id']]
        spv = self.sp_volume(vol['id'])
        self.expect(spv['size'] == GiB, f'StorPool size {spv["size"]}')
        self.expect(spv.get('templateName') == 'ssd',
                    f'template {spv.get("templateName")}')
        return f'StorPool volume {self.vol_name(vol["id"])}, template ssd'

    def s_extend(self) -> str:
        self.action(self.vol, {'os-extend': {'new_size': 2}})
        self.wait(self.api.get_volume, self.vol, field='size', want=2)
        self.wait(self.api.get_volume, self.vol)
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
        snap = self.api.post_snapshot({'snapshot': {
            'volume_id': self.vol, 'name': 'demo-snapshot'}})
        self.wait(self.api.get_snapshot, snap['id'])
        self.snap = snap['id']
        name = self.snap_name(snap['id'])
        self.expect(name in self.state()['snapshots'],
                    f'StorPool has no snapshot {name}')
        return f'StorPool snapshot {name}'

    def s_clone(self) -> str:
        vol = self.create_volume(size=2, source_volid=self.vol,
                                 name='demo-clone')
        self.volumes.append(vol['id'])
        self.expect(self.data(vol['id']) == pattern(1),
                    'the clone holds other data')
        return 'same data as its source'

    def s_from_snapshot(self) -> str:
        vol = self.create_volume(size=2, snapshot_id=self.snap,
                                 name='demo-from-snapshot')
        self.volumes.append(vol['id'])
        self.expect(self.data(vol['id']) == pattern(1),
                    'the new volume holds other data than the snapshot')
        return 'same data as the snapshot'

    def s_from_image(self) -> str:
        qemu_img = shutil.which('qemu-img')
        if qemu_img is None:
            raise demo_mod.StepSkipped('qemu-img is not installed')
        raw = os.path.join(self.demo.tmp, 'image.raw')
        with open(raw, 'wb') as fobj:
            fobj.write(pattern(2))
            fobj.truncate(16 << 20)
        qcow2 = os.path.join(self.demo.tmp, 'image.qcow2')
        subprocess.run([qemu_img, 'convert', '-f', 'raw', '-O', 'qcow2',
                        raw, qcow2], check=True, capture_output=True)
        image = self.images.add_image(qcow2, disk_format='qcow2',
                                      name='demo-image')
        vol = self.create_volume(size=1, imageRef=image['id'],
                                 name='demo-from-image')
        self.volumes.append(vol['id'])
        self.expect(self.data(vol['id']) == pattern(2),
                    'the volume holds other data than the image')
        return f'qcow2 image of {os.path.getsize(qcow2)} bytes converted'

    def s_retype(self) -> str:
        self.action(self.vol, {'os-retype': {
            'new_type': 'storpool-hdd', 'migration_policy': 'never'}})
        self.wait(self.api.get_volume, self.vol, field='volume_type',
                  want='storpool-hdd')
        self.wait(self.api.get_volume, self.vol)
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
        self.action(self.vol, {'revert': {'snapshot_id': self.snap}})
        self.wait(self.api.get_volume, self.vol)
        self.expect(self.data(self.vol) == pattern(1),
                    'the volume does not hold the snapshot\'s data')
        return 'data written after the snapshot is gone'

    def s_group_snapshot(self) -> str:
        # Not the client's create_group_type(): it puts group_specs beside
        # the group type, where the API refuses them.
        gtype = self.api.api_post('/group_types', {'group_type': {
            'name': 'demo-consistency-group',
            'group_specs': {
                'consistent_group_snapshot_enabled': '<is> True'}}})[
            'group_type']
        group = self.api.post_group({'group': {
            'name': 'demo-group', 'group_type': gtype['id'],
            'volume_types': [self.type_ids['storpool-ssd']]}})
        self.wait(self.api.get_group, group['id'])
        members = [self.create_volume(size=1, group_id=group['id'],
                                      name=f'demo-group-{i}')['id']
                   for i in (1, 2)]
        mark = len(self.queries())
        gsnap = self.api.post_group_snapshot({'group_snapshot': {
            'group_id': group['id'], 'name': 'demo-group-snapshot'}})
        self.wait(self.api.get_group_snapshot, gsnap['id'])
        calls = self.queries()[mark:]
        self.expect(calls.count('VolumesGroupSnapshot') == 1,
                    f'expected one VolumesGroupSnapshot call, got {calls}')
        self.api.delete_group_snapshot(gsnap['id'])
        self.wait_gone(self.api.get_group_snapshot, gsnap['id'])
        self.api.delete_group(group['id'],
                              {'delete': {'delete-volumes': True}})
        self.wait_gone(self.api.get_group, group['id'])
        for member in members:
            self.wait_gone(self.api.get_volume, member)
        return ('2 volumes snapshotted in one VolumesGroupSnapshot call; '
                'group deleted')

    def s_delete(self) -> str:
        for volume_id in reversed(self.volumes[1:]):
            self.api.delete_volume(volume_id)
            self.wait_gone(self.api.get_volume, volume_id)
        if self.snap:
            self.api.delete_snapshot(self.snap)
            self.wait_gone(self.api.get_snapshot, self.snap)
        if self.vol:
            self.api.delete_volume(self.vol)
            self.wait_gone(self.api.get_volume, self.vol)
        state = self.state()
        ours = [n for n in state['volumes']]
        self.expect(not ours, f'StorPool volumes left: {ours}')
        self.expect(not state['attachments'],
                    f'attachments left: {state["attachments"]}')
        kept = sorted(state['snapshots'])
        if kept:
            return (f'StorPool: no volumes; {len(kept)} snapshot(s) kept '
                    f'by the driver (image cache or deferred deletion)')
        return 'StorPool: no volumes, no snapshots, no attachments'
