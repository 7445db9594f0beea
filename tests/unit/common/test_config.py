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
"""Reading the StorPool config through storpool.spconfig."""

import os

import ddt
import fixtures
import testtools

from storpool_openstack.common import config
from storpool_openstack.common import exception

MAIN = """\
SP_API_HTTP_HOST=10.1.2.3
SP_API_HTTP_PORT=8181
SP_AUTH_TOKEN=5551234
# a comment
[compute-1]
SP_OURID=11
[compute-2]
SP_OURID=12
[broken]
SP_OURID=eleven
[zero]
SP_OURID=0
"""


@ddt.ddt
class ConfigTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.main = os.path.join(self.tmp, 'storpool.conf')
        self.confd = os.path.join(self.tmp, 'storpool.conf.d')
        os.mkdir(self.confd)
        self._write(self.main, MAIN)
        for var in ('SP_AUTH_TOKEN', 'SP_API_HTTP_HOST', 'SP_API_HTTP_PORT'):
            self.useFixture(fixtures.EnvironmentVariable(var))

    @staticmethod
    def _write(path, text):
        with open(path, 'w') as out:
            out.write(text)

    def _load(self, section, **kwargs):
        return config.load(section, config_file=self.main,
                           config_dir=self.confd, **kwargs)

    @ddt.data(('compute-1', 11), ('compute-2', 12))
    @ddt.unpack
    def test_host_section(self, section, our_id):
        cfg = self._load(section)
        self.assertEqual(('10.1.2.3', 8181, '5551234'),
                         (cfg.api_host, cfg.api_port, cfg.auth_token))
        self.assertEqual(our_id, cfg.our_id)
        self.assertEqual('os', cfg.volume_prefix)
        self.assertEqual('http://10.1.2.3:8181', cfg.endpoint)

    def test_conf_d_overrides_main_and_skips_dot_files(self):
        self._write(os.path.join(self.confd, '50-prefix.conf'),
                    'SP_OPENSTACK_VOLUME_PREFIX=cloud2\n[compute-1]\n'
                    'SP_OURID=21\n')
        self._write(os.path.join(self.confd, '.hidden.conf'),
                    'SP_AUTH_TOKEN=hidden\n')
        cfg = self._load('compute-1')
        self.assertEqual('cloud2', cfg.volume_prefix)
        self.assertEqual(21, cfg.our_id)
        self.assertEqual('5551234', cfg.auth_token)
        self.assertEqual(
            (self.main, os.path.join(self.confd, '50-prefix.conf')),
            cfg.files)

    def test_environment_overrides_endpoint(self):
        self.useFixture(fixtures.EnvironmentVariable('SP_API_HTTP_PORT',
                                                     '9999'))
        self.assertEqual(9999, self._load('compute-1').api_port)
        self.assertEqual(8181,
                         self._load('compute-1', use_env=False).api_port)

    def test_overrides_win_over_files(self):
        cfg = self._load('compute-1', overrides={
            'SP_API_HTTP_HOST': '127.0.0.9', 'SP_AUTH_TOKEN': 'other',
            'SP_API_HTTP_PORT': None})
        self.assertEqual(('127.0.0.9', 8181, 'other'),
                         (cfg.api_host, cfg.api_port, cfg.auth_token))

    def test_override_config_reads_no_file(self):
        cfg = config.load('x', override_config={
            'SP_AUTH_TOKEN': 't', 'SP_API_HTTP_PORT': '81', 'SP_OURID': '3'})
        self.assertEqual((), cfg.files)
        self.assertEqual(('127.0.0.1', 3), (cfg.api_host, cfg.our_id))

    def test_missing_ourid_names_file_section_and_key(self):
        cfg = self._load('compute-9')
        exc = self.assertRaises(exception.ConfigError, lambda: cfg.our_id)
        self.assertEqual('SP_OURID', exc.key)
        self.assertEqual('compute-9', exc.section)
        self.assertIn(self.main, str(exc))
        self.assertIn('[compute-9]', str(exc))

    @ddt.data('broken', 'zero')
    def test_invalid_ourid(self, section):
        cfg = self._load(section)
        exc = self.assertRaises(exception.ConfigError, lambda: cfg.our_id)
        self.assertIn('integer from 1 to 4095', str(exc))
        self.assertIn(self.main, str(exc))

    def test_missing_token_is_a_clear_error(self):
        self._write(self.main, 'SP_API_HTTP_PORT=81\n')
        exc = self.assertRaises(exception.ConfigError, self._load, 'h')
        self.assertEqual('SP_AUTH_TOKEN', exc.key)
        self.assertIn(self.main, str(exc))

    def test_no_config_files_at_all(self):
        os.unlink(self.main)
        exc = self.assertRaises(exception.ConfigError, self._load, 'h')
        self.assertIn(f'{self.main} (missing)', str(exc))

    @ddt.data('eighty', '0', '70000')
    def test_bad_port(self, port):
        self._write(self.main, f'SP_AUTH_TOKEN=1\nSP_API_HTTP_PORT={port}\n')
        exc = self.assertRaises(exception.ConfigError, self._load, 'h')
        self.assertEqual('SP_API_HTTP_PORT', exc.key)

    def test_quoted_prefix_is_refused(self):
        self._write(self.main,
                    'SP_AUTH_TOKEN=1\nSP_OPENSTACK_VOLUME_PREFIX="emu"\n')
        exc = self.assertRaises(exception.ConfigError, self._load, 'h')
        self.assertIn('unquoted', str(exc))

    def test_token_not_in_repr(self):
        cfg = self._load('compute-1')
        self.assertNotIn('5551234', repr(cfg))
        self.assertNotIn('5551234', str(cfg))


class OurIdMessagesTestCase(testtools.TestCase):
    """SP_OURID errors name the file and section really meant."""

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.main = os.path.join(self.tmp, 'other.conf')
        for var in ('SP_AUTH_TOKEN', 'SP_API_HTTP_HOST', 'SP_API_HTTP_PORT'):
            self.useFixture(fixtures.EnvironmentVariable(var))

    def _our_id(self, text, section='vm'):
        with open(self.main, 'w') as fobj:
            fobj.write('SP_API_HTTP_HOST=h\nSP_AUTH_TOKEN=12345\n' + text)
        cfg = config.load(section, config_file=self.main,
                          config_dir=self.main + '.d')
        return self.assertRaises(exception.ConfigError,
                                 lambda: cfg.our_id)

    def test_missing_names_the_file_read(self):
        exc = self._our_id('')
        self.assertIn(f'add "SP_OURID=<client id>" to the top (unnamed) '
                      f'section of {self.main}, or to its [vm] section',
                      str(exc))
        self.assertNotIn('/etc/storpool.conf', str(exc))

    def test_bad_value_names_where_it_was_set(self):
        exc = self._our_id('SP_OURID=seven\n[other]\nSP_OURID=3\n')
        self.assertIn(f'SP_OURID="seven" for host "vm" (set in {self.main}, '
                      f'top (unnamed) section)', str(exc))
        exc = self._our_id('SP_OURID=2\n[vm]\nSP_OURID=0\n')
        self.assertIn(f'(set in {self.main}, section [vm])', str(exc))


class EnvironmentTestCase(testtools.TestCase):
    """The services and the CLI read SP_* from the environment alike."""

    def test_origin_of_each_value(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        main = os.path.join(tmp, 'storpool.conf')
        with open(main, 'w') as fobj:
            fobj.write('SP_API_HTTP_HOST=h\nSP_AUTH_TOKEN=12345\n')
        self.useFixture(fixtures.EnvironmentVariable('SP_AUTH_TOKEN',
                                                     '67890'))
        self.useFixture(fixtures.EnvironmentVariable('SP_API_HTTP_HOST'))
        self.useFixture(fixtures.EnvironmentVariable('SP_API_HTTP_PORT'))
        cfg = config.load('vm', config_file=main, config_dir=main + '.d',
                          overrides={config.PORT: 8080},
                          override_source={config.PORT: 'the option'})
        self.assertEqual(('h', 8080, '67890'),
                         (cfg.api_host, cfg.api_port, cfg.auth_token))
        self.assertEqual('the environment variable SP_AUTH_TOKEN',
                         cfg.origin(config.TOKEN))
        self.assertEqual('the option', cfg.origin(config.PORT))
        self.assertEqual(f'SP_API_HTTP_HOST in {main}',
                         cfg.origin(config.HOST))
        self.assertNotIn('67890', repr(cfg))
