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

"""The README's operator guide and SIGKILLed services, on a real cloud.

One cloud (``tests.cloud.rig``) for the whole class: its start costs about
a minute. ``tox -e cloud-functional``.
"""

import configparser
import datetime
import json
import os
import subprocess
import time
import typing

from tests.cloud import base
from tests.cloud import guide

# Volume, snapshot and backup states Cinder leaves on its own.
TRANSITIONAL = {'creating', 'extending', 'deleting', 'backing-up',
                'restoring-backup', 'retyping', 'reverting', 'downloading',
                'uploading', 'attaching', 'detaching', 'awaiting-transfer'}
FINAL = {'available', 'error', 'error_deleting', 'error_restoring',
         'error_extending', 'in-use'}

# The README's commands that this cloud cannot run, and why. The guide test
# fails when the README's list of them changes, so a new command is
# either run or added here with its reason.
NOT_RUN = {
    'openstack server create --flavor m1.tiny --network net --volume v4 '
    'vm1': 'no Nova in this cloud',
    'openstack server delete vm1': 'no Nova in this cloud',
    'storpool attach list': 'the StorPool CLI; the emulator is asked '
                            'instead, and without Nova nothing is attached',
    'storpool volume list | grep os--volume-':
        'the StorPool CLI; the test asks the emulator for the same names',
}


class CloudTest(base.CloudTestCase):
    """Tests on one cloud of separate services; see the module doc."""

    WORK_PREFIX = 'cloud-functional-'
    LOG_NAMES = ('cinder-volume', 'cinder-backup', 'cinder-api')

    def setUp(self) -> None:
        super().setUp()
        self.emulator = self.cloud.emulator()
        self.addCleanup(self.emulator.clear_faults)
        # One admin token per test (valid for an hour): the waits below
        # poll Cinder every second.
        self.token = self.cloud.admin_token()[0]

    # -- helpers -----------------------------------------------------------
    def openstack(self, command: str) -> str:
        """Run one shell command line as an operator would."""
        res = subprocess.run(['bash', '-o', 'pipefail', '-c', command],
                             capture_output=True, text=True,
                             env=self.cloud.client_env(), timeout=300)
        if res.returncode:
            self.fail('%r failed (exit %d):\n%s%s' % (
                command, res.returncode, res.stdout, res.stderr))
        return res.stdout

    def api(self, path: str, method: str = 'GET',
            body: typing.Optional[dict] = None) -> dict:
        """One Cinder REST call with this test's admin token."""
        return self.cloud.cinder(path, method, body, token=self.token)

    def resources(self) -> typing.Dict[str, typing.List[dict]]:
        """Every volume, snapshot and backup of every project."""
        out = {}
        for kind in ('volumes', 'snapshots', 'backups'):
            out[kind] = self.api('/%s/detail?all_tenants=1' % kind)[kind]
        return out

    def wait_settled(self, timeout: float = 300) -> dict:
        """Wait until nothing is in a transitional state."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.resources()
            busy = ['%s %s: %s' % (kind[:-1], item['id'], item['status'])
                    for kind, items in found.items() for item in items
                    if item['status'] in TRANSITIONAL]
            if not busy:
                return found
            if time.monotonic() > deadline:
                self.fail('still busy after %d s: %s' % (timeout,
                                                         ', '.join(busy)))
            time.sleep(1)

    def by_name(self, kind: str, name: str) -> dict:
        items = [i for i in self.resources()[kind] if i['name'] == name]
        self.assertEqual(1, len(items), '%s named %s' % (kind, name))
        return items[0]

    def storpool(self) -> dict:
        return self.emulator.state()

    def assert_storpool_known(self) -> None:
        """StorPool holds nothing Cinder does not know."""
        found = self.resources()
        volumes = {v['id'] for v in found['volumes']}
        snapshots = {s['id'] for s in found['snapshots']}
        state = self.storpool()
        unknown = [n for n in state['volumes']
                   if n.split('--volume-')[-1] not in volumes]
        # '*...': a snapshot StorPool keeps deleted while a child needs it.
        unknown += [n for n in state['snapshots']
                    if '--image--' not in n and not n.startswith('*') and
                    n.split('--snapshot-')[-1] not in snapshots]
        self.assertEqual([], unknown, 'StorPool volumes and snapshots no '
                         'Cinder volume or snapshot owns')

    def upload_image(self, name: str) -> str:
        """A small qcow2 image (a stand-in for the README's cirros)."""
        path = os.path.join(self.work, name + '.qcow2')
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', path,
                        '64M'], check=True)
        out = self.openstack(
            'openstack image create --disk-format qcow2 --container-format '
            'bare --file %s -f json %s' % (path, name))
        return json.loads(out)['id']

    # -- the operator guide -----------------------------------------------
    def test_readme_cinder_conf(self) -> None:
        """The cloud's cinder.conf has the README's lines, as written."""
        with open(guide.README) as fobj:
            block = guide.literal_blocks(guide.sections(fobj.read())[
                'Setting up a backend'])[0]
        conf = configparser.RawConfigParser()
        conf.read(self.cloud.cinder_conf)
        section = None
        checked = 0
        for line in (raw.strip() for raw in block):
            if line.startswith('['):
                section = line.strip('[]')
            elif section and '=' in line and not line.startswith('#'):
                key, value = (p.strip() for p in line.split('=', 1))
                self.assertEqual(value, conf.get(section, key),
                                 '[%s] %s' % (section, key))
                checked += 1
        self.assertEqual(4, checked)

    def test_readme_operator_guide(self) -> None:
        """Every openstack command of the guide, verbatim, in order."""
        self.upload_image('cirros')
        skipped = []
        for section in ('Setting up a backend', 'Everyday operations',
                        'Verifying the installation'):
            for command in guide.commands(section):
                if command in NOT_RUN:
                    skipped.append(command)
                    continue
                if not command.startswith('openstack '):
                    continue        # cinder.conf lines: see the test above
                self.openstack(command)
                self.wait_settled()
                self.check_after(command)
        # A command may stand in several sections (the storpool CLI).
        self.assertEqual(sorted(NOT_RUN), sorted(set(skipped)))
        # The guide leaves check1 and its snapshot, and the image cache.
        self.openstack('openstack volume snapshot delete check1-snap')
        self.wait_settled()
        self.openstack('openstack volume delete check1')
        self.wait_settled()
        subprocess.run(['storpool-openstack', 'image-cache', 'purge',
                        '--storpool-conf', self.cloud.storpool_conf],
                       env=self.cloud.client_env(), check=True,
                       capture_output=True)
        state = self.storpool()
        self.assertEqual(({}, {}), (state['volumes'], state['snapshots']))

    def sp_volume(self, name: str) -> dict:
        vid = self.by_name('volumes', name)['id']
        return self.storpool()['volumes']['os--volume-' + vid]

    def check_after(self, command: str) -> None:
        """What the command must have done, in Cinder and in StorPool."""
        found = self.resources()
        errors = ['%s %s' % (i['name'], i['status'])
                  for items in found.values() for i in items
                  if i['status'].startswith('error')]
        self.assertEqual([], errors, 'after %r' % command)
        if command.endswith('volume set --size 2 check1'):
            vol = self.sp_volume('check1')
            self.assertEqual(('ssd', 2 << 30),
                             (vol['templateName'], vol['size']))
            # total_iops_sec_per_gb=100 on 2 GiB, recomputed on extend.
            self.assertEqual(200, vol['iops'])
        elif command.endswith('--migration-policy never data1'):
            self.assertEqual('hybrid', self.sp_volume('data1')[
                'templateName'])
            self.assertEqual('sp-hybrid', self.by_name(
                'volumes', 'data1')['volume_type'])
        elif 'volume revert data1-snap' in command:
            snap = self.by_name('snapshots', 'data1-snap')
            calls = self.emulator.calls('VolumeRevert')
            self.assertEqual('os--snap--none--snapshot-' + snap['id'],
                             calls[-1]['body']['toSnapshot'])
        elif command.endswith('backup restore data1-backup data1-restored'):
            self.assertEqual('available', self.by_name(
                'volumes', 'data1-restored')['status'])
            self.assertEqual('available', self.by_name(
                'backups', 'data1-backup')['status'])
        elif '--image-property hw_disk_bus=scsi data1' in command:
            vol = self.by_name('volumes', 'data1')
            self.assertEqual('true', vol['bootable'])
            self.assertEqual('scsi', vol['volume_image_metadata'][
                'hw_disk_bus'])
        elif 'image create --volume data1' in command:
            image = json.loads(self.openstack(
                'openstack image show -f json data1-image'))
            self.assertEqual('active', image['status'])
            self.assertEqual('scsi', image['properties']['hw_disk_bus'])
        elif command.endswith('--image cirros --size 1 v5'):
            # The second volume of an image is a copy-on-write child of
            # the cache entry the first one left.
            cache = [n for n in self.storpool()['snapshots']
                     if '--image--' in n]
            self.assertEqual(1, len(cache))
            self.assertEqual(cache[0], self.sp_volume('v5')['parentName'])
        self.assert_storpool_known()

    # -- SIGKILL in the middle of an operation -----------------------------
    # How long the emulator holds the StorPool call the kill must catch:
    # from the moment the call reaches the emulator to the SIGKILL is one
    # poll (0.5 s) and a kill, a few seconds under heavy load at most.
    HOLD = 20

    def kill_during(self, service: str, query: str,
                    start: typing.Callable[[], typing.Any],
                    is_ours: typing.Callable[[dict], bool]) -> None:
        """SIGKILL ``service`` while StorPool's ``query`` is in flight.

        The emulator holds each ``query`` call for HOLD seconds before
        doing it (as a slow StorPool would; the answer then goes to a dead
        client). ``start()`` starts the operation; the kill comes as soon
        as the emulator has a ``query`` call in hand. Afterwards the held
        call must be the operation's own (``is_ours(call)``), have begun
        before the kill and ended after it: a kill that came too early or
        too late fails the test instead of passing it.
        """
        self.emulator.clear_calls()
        self.emulator.add_latency(self.HOLD, query=query)
        start()
        deadline = time.monotonic() + 180
        while not any(f['query'] == query and f['seen']
                      for f in self.emulator.faults()):
            self.assertLess(time.monotonic(), deadline,
                            'the operation did not reach %s' % query)
            time.sleep(0.5)
        killed_at = time.time()
        self.cloud.kill(service)
        self.emulator.clear_faults()
        # The held call completes in StorPool after the kill.
        deadline = time.monotonic() + self.HOLD + 60
        while True:
            held = [c for c in self.emulator.calls(query)
                    if c.get('duration', 0) >= self.HOLD]
            if held:
                break
            self.assertLess(time.monotonic(), deadline,
                            'the held %s call never completed' % query)
            time.sleep(1)
        call = held[0]
        self.assertTrue(is_ours(call), 'the held call %r is not the '
                        'operation\'s' % call)
        self.assertLess(call['timestamp'], killed_at,
                        'the kill came before the call')
        self.assertGreater(call['timestamp'] + call['duration'], killed_at,
                           'the kill came after the call had completed')
        self.emulator.clear_calls()
        self.cloud.restart(service)
        self.wait_service_up(service)

    def wait_service_up(self, service: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        restarted = time.time()
        while True:
            ups = [s for s in self.cloud.cinder_services(self.token)
                   if s['binary'] == service and s['state'] == 'up']
            if ups and all(_ts(s['updated_at']) > restarted for s in ups):
                return
            self.assertLess(time.monotonic(), deadline,
                            '%s did not come back' % service)
            time.sleep(1)

    def volume(self, vid: str) -> dict:
        return self.api('/volumes/' + vid)['volume']

    def create_volume(self, **fields: typing.Any) -> str:
        body = {'size': 1}
        body.update(fields)
        return self.api('/volumes', 'POST', {'volume': body})['volume']['id']

    def assert_settles_and_cleans_up(self) -> None:
        """Final states; StorPool holds only what Cinder knows.

        Then everything deletes and StorPool is empty.
        """
        found = self.wait_settled()
        for items in found.values():
            for item in items:
                self.assertIn(item['status'], FINAL | {'deleted'})
        self.assert_storpool_known()
        for kind in ('backups', 'snapshots', 'volumes'):
            for item in self.resources()[kind]:
                if item['status'] != 'available':
                    self.api('/%s/%s/action' % (kind, item['id']), 'POST',
                             {'os-reset_status': {'status': 'error'}})
                self.api('/%s/%s' % (kind, item['id']), 'DELETE')
            self.wait_settled()
        found = self.resources()
        self.assertEqual({'volumes': [], 'snapshots': [], 'backups': []},
                         found)
        state = self.storpool()
        self.assertEqual({}, state['volumes'])
        self.assertEqual([], [n for n in state['snapshots']
                              if '--image--' not in n and
                              not n.startswith('*')])
        self.assertEqual([], state['attachments'])

    def test_kill_volume_during_create_from_image(self) -> None:
        image = self.upload_image('kill-image')
        vid = []
        # The attach for the image copy (of the new volume or of the image
        # cache's entry).
        self.kill_during(
            'cinder-volume', 'VolumesReassignWait',
            lambda: vid.append(self.create_volume(imageRef=image)),
            lambda call: _mentions(call, vid[0], '--image--'))
        self.assert_settles_and_cleans_up()

    def test_kill_volume_during_clone(self) -> None:
        source = self.create_volume()
        self.wait_settled()
        vid = []
        self.kill_during(
            'cinder-volume', 'VolumeCreate',
            lambda: vid.append(self.create_volume(source_volid=source)),
            lambda call: _mentions(call, 'os--volume-' + vid[0]))
        self.assert_settles_and_cleans_up()

    def test_kill_volume_during_snapshot(self) -> None:
        source = self.create_volume()
        self.wait_settled()
        self.kill_during(
            'cinder-volume', 'VolumeSnapshot',
            lambda: self.api('/snapshots', 'POST', {'snapshot': {
                'volume_id': source, 'name': 'kill-snap'}}),
            lambda call: call['args'] == ['os--volume-' + source])
        self.assert_settles_and_cleans_up()

    def test_kill_volume_during_delete(self) -> None:
        vid = self.create_volume()
        self.wait_settled()
        self.kill_during(
            'cinder-volume', 'VolumeDelete',
            lambda: self.api('/volumes/' + vid, 'DELETE'),
            lambda call: call['args'] == ['os--volume-' + vid])
        self.assert_settles_and_cleans_up()

    def test_kill_backup_during_backup(self) -> None:
        vid = self.create_volume()
        self.wait_settled()
        # The backup service's attach of the (available) volume.
        self.kill_during(
            'cinder-backup', 'VolumesReassignWait',
            lambda: self.api('/backups', 'POST', {'backup': {
                'volume_id': vid, 'name': 'kill-backup'}}),
            lambda call: _mentions(call, vid))
        self.assert_settles_and_cleans_up()


def _mentions(call: dict, *words: str) -> bool:
    """Whether a StorPool call's arguments or body name any of ``words``."""
    text = json.dumps([call.get('args'), call.get('body')])
    return any(word in text for word in words)


def _ts(value: str) -> float:
    stamp = datetime.datetime.fromisoformat(value.split('.')[0])
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()
