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
"""The samples in etc/ are valid and the option reference is current."""

import os
import re
import tempfile

from oslo_config import cfg
from oslo_config import generator
import testtools

from storpool_openstack.brick import options as brick_options
from storpool_openstack.cinder import options as cinder_options
from storpool_openstack.common import config as sp_config
from storpool_openstack.ops import doctor
from storpool_openstack.ops import samples
from tests.unit.ops import base

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
ETC = os.path.join(ROOT, 'etc')
KEY = re.compile(r'^#?\s*([a-z_]+)\s*=', re.M)


def _section(text: str, name: str) -> str:
    """The text of [name] up to the next active section header."""
    start = text.index(f'[{name}]\n')
    end = text.find('\n[', start + 1)
    return text[start:] if end < 0 else text[start:end]


class SamplesTestCase(testtools.TestCase):

    def test_option_reference_is_current(self):
        committed = os.path.join(ETC, 'storpool-openstack.conf.sample')
        with tempfile.NamedTemporaryFile('r', suffix='.sample') as fresh:
            cwd = os.getcwd()
            os.chdir(ROOT)
            try:
                generator.main([
                    '--config-file',
                    'etc/storpool-openstack-config-generator.conf',
                    '--output-file', fresh.name])
            finally:
                os.chdir(cwd)
            with open(committed) as fobj:
                self.assertEqual(
                    fobj.read(), fresh.read(),
                    'etc/storpool-openstack.conf.sample is out of date: '
                    'run "tox -e genconfig" and commit the result')

    def test_reference_has_every_option(self):
        with open(os.path.join(ETC, 'storpool-openstack.conf.sample')) as f:
            text = f.read()
        for group, opts in (cinder_options.list_opts() +
                            brick_options.list_opts()):
            section = _section(text, group)
            for opt in opts:
                # An empty default shows as '#name =' (no trailing space).
                self.assertRegex(section, rf'#{opt.dest} =( |\n)',
                                 opt.dest)

    def test_cinder_sample(self):
        path = os.path.join(ETC, 'cinder', 'cinder.conf.storpool-sample')
        check = doctor.Doctor(doctor.DoctorOptions(
            cinder_conf=path)).check_cinder_conf()
        self.assertEqual('pass', check.status, check.message)
        self.assertIn('backend(s) storpool use StorPoolDriver',
                      check.message)
        known = {opt.dest for _g, opts in cinder_options.list_opts()
                 for opt in opts}
        with open(path) as fobj:
            keys = set(KEY.findall(fobj.read()))
        unknown = {k for k in keys if k.startswith('storpool_')} - known
        self.assertEqual(set(), unknown)

    def test_nova_sample(self):
        path = os.path.join(ETC, 'nova', 'nova.conf.storpool-sample')
        conf = cfg.ConfigOpts()
        brick_options.register_opts(conf)
        conf(args=[], default_config_files=[path], use_env=False)
        with open(path) as fobj:
            keys = set(KEY.findall(_section(fobj.read(),
                                            'storpool_connector')))
        known = {opt.dest for opt in brick_options.connector_opts}
        self.assertEqual(set(), keys - known)
        self.assertTrue(keys)
        for key in keys:
            getattr(conf.storpool_connector, key)  # every value parses

    def test_storpool_conf_sample(self):
        path = os.path.join(ETC, 'storpool.conf.sample')
        loaded = sp_config.load('compute-2', config_file=path,
                                config_dir=path + '.d', use_env=False)
        self.assertEqual(('10.0.0.10', 81, 'os', 12),
                         (loaded.api_host, loaded.api_port,
                          loaded.volume_prefix, loaded.our_id))
        self.assertEqual('1234567890123456789', loaded.auth_token)
        with open(path) as fobj:
            keys = set(re.findall(r'^(SP_[A-Z_]+)=', fobj.read(), re.M))
        self.assertEqual({sp_config.HOST, sp_config.PORT, sp_config.TOKEN,
                          sp_config.OURID, sp_config.PREFIX}, keys)


class SamplesCommandTestCase(base.CLITestCase):
    """`storpool-openstack samples`: where they are, and each one."""

    def test_list_points_at_real_files(self):
        res = self.run_cli('samples')
        self.assertEqual(0, res.code, res)
        rows = dict(line.split(None, 1) for line in res.out.splitlines()[1:])
        self.assertEqual(sorted(samples.SAMPLES), sorted(rows))
        for name, path in rows.items():
            self.assertTrue(os.path.isfile(path), (name, path))
            self.assertTrue(path.endswith(samples.SAMPLES[name]), path)

    def test_print_one(self):
        res = self.run_cli('samples', 'nova')
        self.assertEqual(0, res.code, res)
        with open(os.path.join(ETC, 'nova', 'nova.conf.storpool-sample')) \
                as fobj:
            self.assertEqual(fobj.read(), res.out)

    def test_pyproject_installs_every_sample(self):
        import tomllib
        with open(os.path.join(ROOT, 'pyproject.toml'), 'rb') as fobj:
            data_files = tomllib.load(fobj)['tool']['setuptools'][
                'data-files']
        installed = {os.path.join(target, os.path.basename(src)): src
                     for target, srcs in data_files.items() for src in srcs}
        for rel in samples.SAMPLES.values():
            dest = os.path.join('share/storpool-openstack', rel)
            self.assertEqual('etc/' + rel, installed.get(dest), dest)
