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

"""The storpool-emulator command: listen line, config file, shutdown."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import ddt
import fixtures
from oslotest import base as oslo_base
from storpool import spapi
from storpool import spconfig

from storpool_openstack.emulator import devices

LISTEN_RE = re.compile(
    r'^storpool-emulator listening on http://127\.0\.0\.1:(\d+) '
    r'\(device mode: (loop|file), state: (.+)\)$')


@ddt.ddt
class CLITestCase(oslo_base.BaseTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.state = os.path.join(self.tmp, 'state')
        self.dev = os.path.join(self.tmp, 'dev')
        self.conf = os.path.join(self.tmp, 'storpool.conf')

    def start(self, *extra: str) -> subprocess.Popen:
        env = dict(os.environ)
        env.pop('STORPOOL_EMULATOR_TOKEN', None)
        proc = subprocess.Popen(
            [sys.executable, '-m', 'storpool_openstack.emulator.cli',
             '--port', '0', '--state-dir', self.state, '--dev-dir',
             self.dev, '--write-config', self.conf] + list(extra),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, env=env, universal_newlines=True)
        self.addCleanup(self._kill, proc)
        return proc

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    def read_conf(self) -> dict:
        res = {}
        with open(self.conf) as fobj:
            for line in fobj:
                key, _sep, value = line.rstrip('\n').partition('=')
                res[key] = value
        return res

    def leftover_loops(self) -> list:
        return [dev for dev, backing in
                devices.loop_backing_files().items()
                if backing.startswith(self.state + os.sep)]

    @ddt.named_data(('sigterm', signal.SIGTERM), ('sigint', signal.SIGINT))
    def test_run_attach_and_stop(self, signum: int) -> None:
        proc = self.start('--templates', 'gold:2,silver:1',
                          '--client-id', '5', '--volume-prefix', 'emu')
        line = proc.stdout.readline().rstrip('\n')
        match = LISTEN_RE.match(line)
        self.assertIsNotNone(match, line)
        port, mode, state = match.groups()
        self.assertEqual(self.state, state)
        conf = self.read_conf()
        self.assertEqual(
            {'SP_API_HTTP_HOST': '127.0.0.1', 'SP_API_HTTP_PORT': port,
             'SP_OURID': '5', 'SP_OPENSTACK_VOLUME_PREFIX': 'emu',
             'SP_AUTH_TOKEN': conf['SP_AUTH_TOKEN']}, conf)
        self.assertRegex(conf['SP_AUTH_TOKEN'], r'^\d{19}$')
        self.assertNotIn(conf['SP_AUTH_TOKEN'], line)
        # The written file is what clients read.
        cfg = spconfig.SPConfig(override_config=conf)
        api = spapi.Api.fromConfig(cfg, transientRetries=0)
        self.assertEqual(['gold', 'silver'],
                         sorted(t.name for t in api.volumeTemplatesList()))
        api.volumeCreate({'name': 'emu--volume-1', 'size': 1 << 20,
                          'template': 'silver'})
        self.assertEqual(1, api.volumeList('emu--volume-1')[0].replication)
        api.volumesReassign([{'volume': 'emu--volume-1', 'rw': [5]}])
        link = os.path.join(self.dev, 'storpool', 'emu--volume-1')
        self.assertTrue(os.path.exists(link))
        if mode == 'loop':
            self.assertEqual(1, len(self.leftover_loops()))
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)
        self.assertEqual(0, proc.returncode, err)
        self.assertNotIn(conf['SP_AUTH_TOKEN'], out + err)
        self.assertIn('stopped', out)
        self.assertFalse(os.path.lexists(link))
        self.assertEqual([], os.listdir(os.path.join(self.dev, 'storpool')))
        self.assertEqual([], self.leftover_loops())

    def test_unwritable_config_is_a_message(self) -> None:
        self.conf = os.path.join(self.tmp, 'missing-dir', 'storpool.conf')
        proc = self.start('--device-mode', 'file')
        out, err = proc.communicate(timeout=20)
        self.assertEqual(1, proc.returncode)
        self.assertIn('cannot write --write-config %s' % self.conf, err)
        self.assertNotIn('Traceback', err)
        self.assertEqual('', out)

    def test_own_state_dir_is_removed(self) -> None:
        env = dict(os.environ, TMPDIR=self.tmp)
        proc = subprocess.Popen(
            [sys.executable, '-m', 'storpool_openstack.emulator.cli',
             '--port', '0', '--dev-dir', self.dev, '--device-mode', 'file'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, env=env, universal_newlines=True)
        self.addCleanup(self._kill, proc)
        match = LISTEN_RE.match(proc.stdout.readline().rstrip('\n'))
        self.assertIsNotNone(match)
        state = match.group(3)
        self.assertTrue(state.startswith(self.tmp + os.sep), state)
        self.assertTrue(os.path.isdir(state))
        proc.terminate()
        proc.communicate(timeout=20)
        self.assertEqual(0, proc.returncode)
        self.assertFalse(os.path.exists(state))

    def test_refuses_remote_host(self) -> None:
        proc = self.start('--host', '192.0.2.1')
        out, err = proc.communicate(timeout=20)
        self.assertEqual(2, proc.returncode)
        self.assertIn('--allow-remote', err)
        self.assertFalse(os.path.exists(self.conf))

    def test_token_from_option(self) -> None:
        proc = self.start('--token', 'secret-token-42', '--device-mode',
                          'file')
        line = proc.stdout.readline()
        self.assertIn('device mode: file', line)
        self.assertEqual('secret-token-42',
                         self.read_conf()['SP_AUTH_TOKEN'])
        bad = spapi.Api('127.0.0.1', int(self.read_conf()
                                         ['SP_API_HTTP_PORT']),
                        'wrong', transientRetries=0)
        exc = self.assertRaises(spapi.ApiError, bad.volumesList)
        self.assertEqual(401, exc.status)
        start = time.monotonic()
        proc.terminate()
        out, err = proc.communicate(timeout=20)
        self.assertLess(time.monotonic() - start, 5)
        self.assertNotIn('secret-token-42', out + err)

    def test_version(self) -> None:
        res = subprocess.run(
            [sys.executable, '-m', 'storpool_openstack.emulator.cli',
             '--version'], capture_output=True, text=True, timeout=60,
            check=False)
        self.assertEqual(0, res.returncode, res.stderr)
        self.assertRegex(res.stdout, r'^storpool-emulator \d+\.\d+')

    def _api(self, proc: subprocess.Popen) -> spapi.Api:
        line = proc.stdout.readline().rstrip('\n')
        self.assertIsNotNone(LISTEN_RE.match(line), line + proc.stderr.read()
                             if proc.poll() is not None else line)
        cfg = spconfig.SPConfig(override_config=self.read_conf())
        return spapi.Api.fromConfig(cfg, transientRetries=0)

    def _stop(self, proc: subprocess.Popen) -> None:
        proc.terminate()
        _out, err = proc.communicate(timeout=20)
        self.assertEqual(0, proc.returncode, err)

    def test_state_survives_a_restart(self) -> None:
        token = ('--token', '1234567890123456789')
        proc = self.start('--device-mode', 'file',
                          '--templates', 'gold:2,silver:1', *token)
        api = self._api(proc)
        port = self.read_conf()['SP_API_HTTP_PORT']
        api.volumeTemplateCreate({'name': 'bronze', 'replication': 1})
        api.volumeCreate({'name': 'os--volume-a', 'size': 1 << 20,
                          'template': 'gold', 'tags': {'cinder': 'yes'}})
        api.volumesReassign([{'volume': 'os--volume-a', 'rw': [1]}])
        with open(os.path.join(self.dev, 'storpool', 'os--volume-a'),
                  'r+b') as fobj:
            fobj.write(b'kept across restarts')
        api.volumesReassign([{'volume': 'os--volume-a', 'detach': [1]}])
        api.snapshotCreate('os--volume-a', {'name': 'os--snap-1'})
        api.volumeCreate({'name': 'os--volume-b', 'parent': 'os--snap-1'})
        api.volumesReassign([{'volume': 'os--volume-b', 'ro': [7]}])
        before = self._view(api)
        self._stop(proc)
        # Same state dir: the same cluster, on the same port.
        proc = self.start('--device-mode', 'file', '--port', port, *token)
        api = self._api(proc)
        self.assertEqual(before, self._view(api))
        api.volumesReassign([{'volume': 'os--volume-b', 'ro': [1]}])
        with open(os.path.join(self.dev, 'storpool', 'os--volume-b'),
                  'rb') as fobj:
            self.assertEqual(b'kept across restarts', fobj.read(20))
        api.volumesReassign([{'volume': 'os--volume-b', 'detach': [1]}])
        api.volumeCreate({'name': 'os--volume-c', 'size': 1 << 20,
                          'template': 'bronze'})
        self._stop(proc)

    @staticmethod
    def _view(api: spapi.Api) -> dict:
        raw = {'returnRawAPIData': True}
        volumes = api.volumesList(**raw)
        return {
            'volumes': sorted((v['name'], v['size'], v['templateName'],
                               v.get('parentName'), v['globalId'],
                               sorted(v.get('tags', {}).items()))
                              for v in volumes),
            'snapshots': sorted((s['name'], s['size'], s['globalId'])
                                for s in api.snapshotsList(**raw)),
            'templates': sorted((t['name'], t['replication'])
                                for t in api.volumeTemplatesList(**raw)),
            'attachments': sorted((a['volume'], a['client'], a['rights'])
                                  for a in api.attachmentsList(**raw)),
        }

    def test_template_without_replication_said_so(self) -> None:
        proc = self.start('--device-mode', 'file', '--templates',
                          'plain:-,gold:2:ssd')
        api = self._api(proc)
        found = {t['name']: t for t in api.volumeTemplatesList(
            returnRawAPIData=True)}
        self.assertEqual(('-', 2, 'ssd'),
                         (found['plain']['replication'],
                          found['gold']['replication'],
                          found['gold']['placeAll']))
        self._stop(proc)

    def test_busy_port_is_named(self) -> None:
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            sock.listen(1)
            port = sock.getsockname()[1]
            proc = self.start('--device-mode', 'file', '--port', str(port))
            out, err = proc.communicate(timeout=20)
        self.assertEqual(1, proc.returncode)
        self.assertEqual(
            f'storpool-emulator: cannot listen on 127.0.0.1 port {port}: '
            f'the port is already in use (pick another --port, or 0 for '
            f'any free port)\n', err)

    @ddt.data(('hybrid', "template 'hybrid' has no replication"),
              ('hybrid:3,ssd', "template 'ssd' has no replication"),
              ('gold:9', "template 'gold:9': replication '9' is not 1, 2, "
                         "3 or -"))
    @ddt.unpack
    def test_bad_templates_refused(self, spec: str, message: str) -> None:
        proc = self.start('--device-mode', 'file', '--templates', spec)
        out, err = proc.communicate(timeout=20)
        self.assertEqual(2, proc.returncode)
        self.assertIn(message, err)
        self.assertIn('give each template as name:replication, e.g. '
                      '"hybrid:3,ssd:2" (name:- for a template without a '
                      'replication)', err)
        self.assertFalse(os.path.exists(self.conf))
