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
"""`storpool-openstack doctor` against a real emulator.

The all-good host: a storpool.conf for the emulator, an attach-state file
owned root:root 0660 (the tests pass `--group root`: they must not create
a system group on the machine), the emulator's device directory, a temp
copy of the installed Nova's driver.py patched by the real patch tool,
and a cinder.conf backend using our driver.  Each broken variant breaks
exactly one thing and expects exactly that check to fail, with a precise
message.
"""

import json
import os
import shutil
import socket
import subprocess
import sys

import ddt
import fixtures

from storpool_openstack.ops import os_brick_patch
from tests.unit.ops import base

DRIVER = 'storpool_openstack.cinder.driver.StorPoolDriver'


@ddt.ddt
class DoctorTestCase(base.CLITestCase):

    def setUp(self):
        super().setUp()
        self.emu = self.start_emulator(templates=['hybrid', 'ssd'])
        self.conf = self.emu.conf_path
        self.state = self.write('attach.json', '{}', 0o660)
        os.chown(self.state, 0, 0)
        os.chown(self.tmp, 0, 0)
        os.chmod(self.tmp, 0o770)
        self.dev_root = self.emu.dev_dir
        os.makedirs(os.path.join(self.dev_root, 'storpool'), exist_ok=True)
        self.nova = self.nova_driver_copy(patched=True)
        self.os_brick = self.os_brick_copy(patched=True)
        self.cinder_conf = self.write_cinder_conf()

    def write_cinder_conf(self, **options) -> str:
        backend = {'volume_driver': DRIVER,
                   'volume_backend_name': 'storpool',
                   'storpool_template': 'hybrid',
                   'storpool_config_file': self.conf}
        backend.update(options)
        lines = ['[DEFAULT]', 'enabled_backends = storpool', '',
                 '[storpool]']
        lines += [f'{k} = {v}' for k, v in backend.items() if v is not None]
        return self.write('cinder.conf', '\n'.join(lines) + '\n')

    def doctor(self, *extra: str, json_out: bool = True) -> tuple:
        argv = ['doctor', '--storpool-conf', self.conf,
                '--attach-state-file', self.state,
                '--dev-root', self.dev_root,
                '--nova-driver-file', self.nova,
                '--os-brick-file', self.os_brick,
                '--cinder-conf', self.cinder_conf,
                '--group', 'root', '--api-timeout', '5']
        if json_out:
            argv.append('--json')
        res = self.run_cli(*argv, *extra)
        if not json_out:
            return res, None
        data = json.loads(res.out)
        return res, {c['name']: c for c in data['checks']}

    def assert_only_failure(self, name: str, checks: dict, res) -> dict:
        self.assertEqual(1, res.code, res)
        failed = sorted(n for n, c in checks.items() if c['status'] == 'fail')
        self.assertEqual([name], failed, res)
        return checks[name]

    def test_all_good(self):
        res, checks = self.doctor()
        self.assertEqual(0, res.code, res)
        self.assertEqual(
            {'config': 'pass', 'our-id': 'pass', 'api': 'pass',
             'client': 'pass', 'cinder-conf': 'pass', 'backend-api': 'pass',
             'templates': 'pass', 'attach-file': 'pass', 'attach-sync': 'pass',
             'devices': 'pass', 'qemu-img': 'pass', 'nova': 'pass',
             'os-brick': 'pass', 'coordination': 'skip'},
            {n: c['status'] for n, c in checks.items()})
        self.assertIn('client id 1', checks['our-id']['message'])
        self.assertIn('hybrid exist', checks['templates']['message'])
        # The doctor only reads: the templates list, the attachments and
        # the names of volumes and snapshots.
        self.assertEqual(
            ['VolumeTemplatesList', 'ClientsConfigDump',
             'VolumeTemplatesList', 'VolumesList', 'SnapshotsList',
             'AttachmentsList'],
            [c['query'] for c in self.emu.control.calls()])

    def test_human_output(self):
        res, _ = self.doctor(json_out=False)
        self.assertEqual(0, res.code, res)
        lines = res.out.splitlines()
        self.assertEqual(15, len(lines), res)
        self.assertTrue(all(line.startswith('\u2713 ')
                            for line in lines[:13]), res)
        self.assertEqual('13 passed, 0 failed, 1 skipped: all good',
                         lines[-1])

    def test_bad_token(self):
        self.conf = self.write('storpool.conf', open(self.conf).read().replace(
            self.emu.token, '1234567890123456789'))
        self.secrets.append('1234567890123456789')
        res, checks = self.doctor()
        check = self.assert_only_failure('api', checks, res)
        self.assertIn('refused the token (authError', check['message'])
        self.assertIn('SP_AUTH_TOKEN in ' + self.conf, check['fix'])
        self.assertEqual('skip', checks['templates']['status'])
        self.assertEqual('skip', checks['attach-sync']['status'])
        self.assertEqual('skip', checks['client']['status'])

    def test_unknown_template(self):
        self.cinder_conf = self.write_cinder_conf(storpool_template='nope')
        res, checks = self.doctor()
        check = self.assert_only_failure('templates', checks, res)
        self.assertEqual(
            'template(s) not found in StorPool: nope (from [storpool]); '
            'StorPool has: hybrid, ssd', check['message'])

    def test_unknown_template_from_command_line(self):
        res, checks = self.doctor('--template', 'ssd', '--template', 'gold')
        check = self.assert_only_failure('templates', checks, res)
        self.assertIn('gold (from --template)', check['message'])
        self.assertNotIn('ssd (from', check['message'])

    @ddt.data((0o644, 'mode is 0644, not 0660'),
              (0o600, 'mode is 0600, not 0660'))
    @ddt.unpack
    def test_wrong_file_mode(self, mode, message):
        os.chmod(self.state, mode)
        res, checks = self.doctor()
        check = self.assert_only_failure('attach-file', checks, res)
        self.assertEqual(f'{self.state}: {message}', check['message'])
        self.assertIn(f'chmod 0660 {self.state}', check['fix'])
        self.assertEqual('skip', checks['attach-sync']['status'])

    def test_wrong_file_owner(self):
        os.chown(self.state, 0, 65534)
        res, checks = self.doctor()
        check = self.assert_only_failure('attach-file', checks, res)
        self.assertIn('not root:root', check['message'])
        self.assertIn(f'chown root:root {self.state}', check['fix'])

    def test_attach_dir_not_group_writable(self):
        os.chmod(self.tmp, 0o755)
        res, checks = self.doctor()
        check = self.assert_only_failure('attach-file', checks, res)
        self.assertEqual(
            f'{self.state}: its directory {self.tmp} is root:root 0755, not '
            f'writable by the group root (the services write attach.json.next'
            f' there)', check['message'])
        self.assertIn(f'chmod g+rwx {self.tmp}', check['fix'])

    def test_missing_attach_file(self):
        os.unlink(self.state)
        res, checks = self.doctor()
        check = self.assert_only_failure('attach-file', checks, res)
        self.assertEqual(f'{self.state} does not exist', check['message'])
        self.assertIn('storpool-openstack setup-host', check['fix'])
        self.assertFalse(os.path.exists(self.state))

    def test_attach_file_not_json(self):
        with open(self.state, 'w') as fobj:
            fobj.write('{"a": ')
        res, checks = self.doctor()
        check = self.assert_only_failure('attach-file', checks, res)
        self.assertIn('is not readable JSON', check['message'])

    def test_unpatched_nova(self):
        self.nova = self.nova_driver_copy(patched=False)
        res, checks = self.doctor()
        check = self.assert_only_failure('nova', checks, res)
        self.assertIn(f'{self.nova} is not patched', check['message'])
        self.assertIn(f'add-storpool-nova-driver --file {self.nova}',
                      check['fix'])

    def os_brick_copy(self, patched: bool) -> str:
        path = os.path.join(self.tmp, 'os_brick_connector.py')
        shutil.copy(os_brick_patch.find_connector_file(), path)
        if patched:
            os_brick_patch.patch(path)
        return path

    def test_unpatched_os_brick(self):
        self.os_brick = self.os_brick_copy(patched=False)
        res, checks = self.doctor()
        check = self.assert_only_failure('os-brick', checks, res)
        self.assertIn(os_brick_patch.INTREE, check['message'])
        self.assertIn('storpool-openstack os-brick', check['fix'])

    def test_nova_file_missing_is_skipped(self):
        res, checks = self.doctor('--nova-driver-file',
                                  os.path.join(self.tmp, 'none.py'))
        self.assertEqual(0, res.code, res)
        self.assertEqual('skip', checks['nova']['status'])

    def test_missing_our_id(self):
        text = open(self.conf).read()
        self.assertIn('SP_OURID=1\n', text)
        self.conf = self.write('storpool.conf',
                               text.replace('SP_OURID=1\n', ''))
        res, checks = self.doctor('--host', 'compute-7')
        check = self.assert_only_failure('our-id', checks, res)
        self.assertIn('SP_OURID is not set for host "compute-7"',
                      check['message'])
        self.assertIn('at the top of ' + self.conf, check['fix'])
        self.assertEqual('skip', checks['attach-sync']['status'])

    def test_our_id_from_host_section(self):
        text = open(self.conf).read().replace('SP_OURID=1\n', '')
        self.conf = self.write('storpool.conf',
                               text + '[compute-7]\nSP_OURID=1\n')
        res, checks = self.doctor('--host', 'compute-7')
        self.assertEqual(0, res.code, res)
        self.assertIn('(section [compute-7])', checks['our-id']['message'])

    def test_our_id_not_a_cluster_client(self):
        self.conf = self.write('storpool.conf', open(self.conf).read().replace(
            'SP_OURID=1\n', 'SP_OURID=9\n'))
        res, checks = self.doctor()
        check = self.assert_only_failure('client', checks, res)
        self.assertEqual(
            f'client id 9 (SP_OURID) is not a client of the cluster at '
            f'http://127.0.0.1:{self.emu.port}; its clients are: 1',
            check['message'])
        self.assertIn('set SP_OURID in ' + self.conf, check['fix'])

    def test_our_client_down(self):
        # The emulator's own client always runs: this host is client 5.
        self.emu.control.set_client(5, 'down')
        self.conf = self.write('storpool.conf', open(self.conf).read().replace(
            'SP_OURID=1\n', 'SP_OURID=5\n'))
        res, checks = self.doctor()
        check = self.assert_only_failure('client', checks, res)
        self.assertEqual(
            'client 5 is known to the cluster but its configuration status '
            'is "down": volumes cannot be attached to it', check['message'])
        self.assertIn('systemctl start storpool_block', check['fix'])

    def test_no_config(self):
        self.conf = os.path.join(self.tmp, 'absent.conf')
        res, checks = self.doctor()
        self.assertEqual(1, res.code)
        self.assertEqual('fail', checks['config']['status'])
        self.assertIn(f'{self.conf} does not exist',
                      checks['config']['message'])
        for name in ('our-id', 'api', 'client', 'templates', 'attach-sync'):
            self.assertEqual('skip', checks[name]['status'], name)

    def test_api_unreachable(self):
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            port = sock.getsockname()[1]
        self.conf = self.write('storpool.conf', open(self.conf).read().replace(
            f'SP_API_HTTP_PORT={self.emu.port}', f'SP_API_HTTP_PORT={port}'))
        res, checks = self.doctor()
        check = self.assert_only_failure('api', checks, res)
        self.assertIn(f'cannot reach the StorPool API at '
                      f'http://127.0.0.1:{port}', check['message'])

    def test_no_dev_storpool(self):
        os.rmdir(os.path.join(self.dev_root, 'storpool'))
        res, checks = self.doctor()
        check = self.assert_only_failure('devices', checks, res)
        self.assertIn('the StorPool block client is not running here',
                      check['message'])

    def test_attach_state_out_of_sync(self):
        api = self.emu.control  # noqa: F841 (keeps the intent readable)
        from storpool_openstack.common import api as sp_api
        from storpool_openstack.common import config
        client = sp_api.StorPoolAPI(
            config.load(override_config=self.emu.config), retries=0)
        client.volume_create({'name': 'os--volume-a', 'size': 1 << 20,
                              'template': 'hybrid'})
        with open(self.state, 'w') as fobj:
            json.dump({'r1': {'volume': 'os--volume-a', 'type': 'brick',
                              'id': 'r1', 'rights': 2, 'volsnap': False,
                              'remove_on_detach': False},
                       'r2': {'volume': 'os--volume-gone', 'type': 'brick',
                              'id': 'r2', 'rights': 1, 'volsnap': False,
                              'remove_on_detach': False}}, fobj)
        res, checks = self.doctor()
        check = self.assert_only_failure('attach-sync', checks, res)
        self.assertEqual('2 of 2 volume(s) differ: os--volume-a: not '
                         'attached; os--volume-gone: gone from StorPool',
                         check['message'])
        self.assertIn('attachments --sync', check['fix'])

    def test_cinder_conf_intree_driver(self):
        self.cinder_conf = self.write_cinder_conf(
            volume_driver='cinder.volume.drivers.storpool.StorPoolDriver')
        res, checks = self.doctor()
        check = self.assert_only_failure('cinder-conf', checks, res)
        self.assertIn('[storpool] uses the in-tree driver', check['message'])
        self.assertIn(f'volume_driver = {DRIVER}', check['fix'])

    @ddt.data(
        ({'storpool_replication': 'three'}, '[storpool] '
         'storpool_replication: '),
        ({'storpool_templte': 'x'}, '[storpool] unknown option '
         'storpool_templte'),
        ({'storpool_api_port': '99999'}, '[storpool] storpool_api_port: '))
    @ddt.unpack
    def test_cinder_conf_bad_option(self, options, message):
        self.cinder_conf = self.write_cinder_conf(**options)
        res, checks = self.doctor()
        check = self.assert_only_failure('cinder-conf', checks, res)
        self.assertIn(message, check['message'])

    def test_cinder_conf_error_is_plain(self):
        self.cinder_conf = self.write_cinder_conf(storpool_api_port='99999')
        res, checks = self.doctor()
        check = checks['cinder-conf']
        self.assertNotIn('LocationInfo', check['message'])
        self.assertIn(f'in {self.cinder_conf}', check['message'])
        # The fix points at a sample that really exists here.
        sample = check['fix'].split('(see ')[1].rstrip(')')
        self.assertTrue(os.path.isfile(sample), check['fix'])

    @ddt.data(('storpool_api_token', '1111222233334444', 'refused the token',
               'storpool_api_token in [storpool] of {conf} is not this '
               'cluster\'s token'),
              ('storpool_api_host', '127.0.0.2', 'cannot reach',
               'check storpool_api_host in [storpool] of {conf}'),
              ('storpool_api_port', None, 'cannot reach',
               'storpool_api_port in [storpool] of {conf}'))
    @ddt.unpack
    def test_backend_own_api_options(self, option, value, message, fix):
        """cinder-volume uses the backend's overrides: so must doctor."""
        if value is None:
            value = str(self.free_port())
        self.cinder_conf = self.write_cinder_conf(**{option: value})
        res, checks = self.doctor()
        check = self.assert_only_failure('backend-api', checks, res)
        self.assertIn('[storpool]: ', check['message'])
        self.assertIn(message, check['message'])
        self.assertIn('cinder-volume will fail to start this backend',
                      check['message'])
        self.assertIn(fix.format(conf=self.cinder_conf), check['fix'])
        self.assertEqual('pass', checks['api']['status'])
        self.assertNotIn(value, res.out) if option.endswith('token') \
            else None

    def test_backend_own_config_file(self):
        other = self.write('other-storpool.conf', open(self.conf).read(
        ).replace(f'SP_API_HTTP_PORT={self.emu.port}',
                  f'SP_API_HTTP_PORT={self.free_port()}'))
        self.cinder_conf = self.write_cinder_conf(storpool_config_file=other)
        res, checks = self.doctor()
        check = self.assert_only_failure('backend-api', checks, res)
        self.assertIn(f'check SP_API_HTTP_HOST in {other} and '
                      f'SP_API_HTTP_PORT in {other}', check['fix'])

    def test_connector_option_in_a_backend_section(self):
        self.cinder_conf = self.write_cinder_conf(api_timeout='30')
        res, checks = self.doctor()
        check = self.assert_only_failure('cinder-conf', checks, res)
        self.assertIn('[storpool] has os-brick connector option(s) '
                      'api_timeout', check['message'])
        self.assertIn('move api_timeout from [storpool] to '
                      '[storpool_connector]', check['fix'])

    def test_connector_options_list_is_current(self):
        from storpool_openstack.brick import options
        from storpool_openstack.ops import doctor
        self.assertEqual({o.dest for o in options.connector_opts},
                         doctor.CONNECTOR_OPTIONS)

    def test_backend_own_api_right_token(self):
        """A backend's own token beats a wrong one in storpool.conf."""
        self.cinder_conf = self.write_cinder_conf(
            storpool_api_token=self.emu.token)
        self.conf = self.write('storpool.conf', open(self.conf).read(
        ).replace(self.emu.token, '9999888877776666'))
        res, checks = self.doctor()
        self.assertEqual('fail', checks['api']['status'])
        self.assertEqual('pass', checks['backend-api']['status'], res)
        self.assertIn('[storpool]: http://127.0.0.1:', checks[
            'backend-api']['message'])

    def free_port(self) -> int:
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            return sock.getsockname()[1]

    def test_environment_as_the_services_read_it(self):
        """SP_AUTH_TOKEN in the environment replaces the file's."""
        good = open(self.conf).read()
        self.conf = self.write('storpool.conf', good.replace(
            self.emu.token, '9999888877776666'))
        self.useFixture(fixtures.EnvironmentVariable('SP_AUTH_TOKEN',
                                                     self.emu.token))
        res, checks = self.doctor()
        self.assertEqual(0, res.code, res)
        self.assertIn('SP_AUTH_TOKEN from the environment',
                      checks['config']['message'])
        # And a wrong one there is what the services would use too.
        self.conf = self.write('storpool.conf', good)
        self.useFixture(fixtures.EnvironmentVariable('SP_AUTH_TOKEN',
                                                     '9999888877776666'))
        res, checks = self.doctor()
        check = checks['api']
        self.assertEqual('fail', check['status'], res)
        self.assertIn('the environment variable SP_AUTH_TOKEN is not this '
                      'cluster\'s token', check['fix'])

    def test_hung_api_fails_fast_with_progress(self):
        with socket.socket() as hung:
            hung.bind(('127.0.0.1', 0))
            hung.listen(5)  # accepts, never answers
            port = hung.getsockname()[1]
            self.conf = self.write('storpool.conf', open(self.conf).read(
            ).replace(f'SP_API_HTTP_PORT={self.emu.port}',
                      f'SP_API_HTTP_PORT={port}'))
            self.cinder_conf = self.write_cinder_conf(
                storpool_config_file=None)
            res, _ = self.doctor('--api-timeout', '0.5', json_out=False)
        self.assertEqual(1, res.code, res)
        self.assertIn(f'... this host: asking the StorPool API at '
                      f'http://127.0.0.1:{port} (timeout 0.5 s, no '
                      f'retries)...', res.err)
        self.assertIn(f'cannot reach the StorPool API at http://127.0.0.1:'
                      f'{port}: no answer within 0.5 s (--api-timeout)',
                      res.out)
        # One request, no retries.
        self.assertEqual(1, res.err.count('asking the StorPool API'), res)

    def test_no_eventlet_warning(self):
        """A cinder-volume host: importing Cinder must not print 9 lines."""
        env = {k: v for k, v in os.environ.items()
               if k not in ('PYTHONWARNINGS', 'EVENTLET_TESTS')}
        res = subprocess.run(
            [sys.executable, '-m',
             'storpool_openstack.cmd.storpool_openstack', 'doctor',
             '--storpool-conf', self.conf, '--attach-state-file',
             self.state, '--dev-root', self.dev_root, '--nova-driver-file',
             self.nova, '--os-brick-file', self.os_brick,
             '--cinder-conf', self.cinder_conf, '--group',
             'root'], capture_output=True, text=True, timeout=300,
            env=env, check=False)
        self.outputs += [res.stdout, res.stderr]
        self.assertEqual(0, res.returncode, res.stdout + res.stderr)
        self.assertIn('cinder.conf StorPool backends', res.stdout)
        self.assertNotIn('Eventlet', res.stderr)

    def test_cinder_conf_backend_not_enabled(self):
        path = self.write_cinder_conf()
        text = open(path).read().replace('enabled_backends = storpool',
                                         'enabled_backends = lvm')
        self.cinder_conf = self.write('cinder.conf', text + '[lvm]\n')
        res, checks = self.doctor()
        check = self.assert_only_failure('cinder-conf', checks, res)
        self.assertIn('[storpool] uses StorPoolDriver but is not in '
                      'enabled_backends', check['message'])

    def test_cinder_conf_absent_is_skipped(self):
        self.cinder_conf = os.path.join(self.tmp, 'no-cinder.conf')
        res, checks = self.doctor()
        self.assertEqual(0, res.code, res)
        self.assertEqual('skip', checks['cinder-conf']['status'])
        self.assertEqual('skip', checks['templates']['status'])

    def test_cinder_conf_token_not_printed(self):
        self.cinder_conf = self.write_cinder_conf(
            storpool_api_token='9999888877776666555',
            storpool_replication='x9999888877776666555')
        self.secrets.append('9999888877776666555')
        res, checks = self.doctor(json_out=False)
        self.assertEqual(1, res.code)
        self.assertIn('storpool_replication', res.out)
