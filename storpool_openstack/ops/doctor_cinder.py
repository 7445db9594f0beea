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
"""The doctor's checks of cinder.conf's StorPool backends and templates.

Each backend section is validated with the Cinder driver's own option
definitions, and its StorPool API is asked with the config its driver
would read (its own storpool_api_* options over the files).
"""

import configparser
import os
import re
import warnings

from storpool_openstack.common import config as sp_config
from storpool_openstack.common import exception
from storpool_openstack.ops import doctor_base
from storpool_openstack.ops import doctor_storpool
from storpool_openstack.ops import samples

# The result of a check, as every family writes it.
Check = doctor_base.Check
PASS = doctor_base.PASS
FAIL = doctor_base.FAIL
SKIP = doctor_base.SKIP

OUR_DRIVER = 'storpool_openstack.cinder.driver.StorPoolDriver'
INTREE_DRIVER = 'cinder.volume.drivers.storpool.StorPoolDriver'
# brick.options.connector_opts (not imported: that needs os-brick).
CONNECTOR_OPTIONS = frozenset((
    'config_file', 'attach_state_file', 'device_timeout', 'dev_root',
    'detach_busy_retries', 'api_timeout', 'api_retries'))


class CinderChecks(doctor_storpool.StorPoolChecks):
    """cinder.conf backends, their APIs and the templates they name.

    The backends' APIs are asked with the StorPool checks' probe.
    """

    def check_cinder_conf(self) -> Check:
        title = 'cinder.conf StorPool backends'
        path = self.opts.cinder_conf
        if not path or not os.path.exists(path):
            return Check('cinder-conf', title, SKIP,
                         f'{path} not found (not a cinder-volume host)')
        parser = configparser.ConfigParser(interpolation=None,
                                           strict=False)
        try:
            with open(path, encoding='utf-8') as fobj:
                parser.read_file(fobj)
        except (OSError, configparser.Error) as exc:
            return Check('cinder-conf', title, FAIL,
                         f'cannot parse {path}: {exc}',
                         f'fix the syntax of {path}')
        for name, value in parser.items('DEFAULT'):
            if name == 'storpool_api_token':
                self.secret_sink(value)
        enabled = [s.strip() for s in parser.get(
            'DEFAULT', 'enabled_backends', fallback='').split(',')
            if s.strip()]
        problems: list[str] = []
        fixes: list[str] = []
        ours = []
        for section in parser.sections():
            driver = parser.get(section, 'volume_driver', fallback='')
            token = parser.get(section, 'storpool_api_token', fallback='')
            self.secret_sink(token)
            if driver.strip() == INTREE_DRIVER:
                problems.append(f'[{section}] uses the in-tree driver '
                                f'{INTREE_DRIVER}')
                fixes.append(f'set "volume_driver = {OUR_DRIVER}" in '
                             f'[{section}] (StorPool names stay the same, '
                             f'existing volumes keep working)')
            if driver.strip() != OUR_DRIVER:
                continue
            ours.append(section)
            if section not in enabled:
                problems.append(f'[{section}] uses StorPoolDriver but is '
                                f'not in enabled_backends')
                fixes.append(f'add {section} to enabled_backends in '
                             f'[DEFAULT], or remove the section')
            backend = doctor_base.Backend(section, dict(
                parser.items(section)))
            self.backends.append(backend)
            bad = _validate_backend(path, section, backend)
            misplaced = sorted(set(parser.options(section)) &
                               CONNECTOR_OPTIONS)
            if misplaced:
                problems.append(f'[{section}] has os-brick connector '
                                f'option(s) {", ".join(misplaced)}')
                fixes.append(f'move {", ".join(misplaced)} from '
                             f'[{section}] to [storpool_connector] (a '
                             f'backend section takes only storpool_* '
                             f'options)')
            problems += bad
            if bad:
                backend.valid = False
                fixes.append(f'correct the options of [{section}] (see '
                             f'{samples.describe("cinder")})')
        for section in enabled:
            if not parser.has_section(section):
                problems.append(f'enabled_backends lists {section}, but '
                                f'{path} has no [{section}] section')
                fixes.append(f'add a [{section}] section or remove it from '
                             f'enabled_backends')
        if problems:
            return Check('cinder-conf', title, FAIL,
                         f'{path}: ' + '; '.join(problems),
                         '; '.join(dict.fromkeys(fixes)))
        if not ours:
            return Check('cinder-conf', title, SKIP,
                         f'no backend section of {path} uses {OUR_DRIVER}')
        return Check('cinder-conf', title, PASS,
                     f'{path}: backend(s) {", ".join(ours)} use '
                     f'StorPoolDriver with valid options')

    def _backend_config(self, backend: doctor_base.Backend
                        ) -> sp_config.StorPoolConfig:
        """The backend's StorPool config, exactly as its driver reads it."""
        path = backend.get('storpool_config_file') or \
            doctor_base.conf_files(self.opts)[0]
        conf_d = (self.opts.config_dir
                  if path == doctor_base.conf_files(self.opts)[0] and
                  self.opts.config_dir else path + '.d')
        where = f'[{backend.section}] of {self.opts.cinder_conf}'
        overrides, origins = {}, {}
        for key, option in ((sp_config.HOST, 'storpool_api_host'),
                            (sp_config.PORT, 'storpool_api_port'),
                            (sp_config.TOKEN, 'storpool_api_token')):
            overrides[key] = backend.get(option)
            origins[key] = f'{option} in {where}'
        return sp_config.load(self.opts.section, overrides=overrides,
                              config_file=path, config_dir=conf_d,
                              override_source=origins)

    def check_backend_apis(self) -> Check:
        title = 'StorPool API of each cinder.conf backend'
        if not self.backends:
            return Check('backend-api', title, SKIP,
                         'no StorPool backend in cinder.conf')
        problems, fixes, fine = [], [], []
        tried = 0
        for backend in self.backends:
            name = f'[{backend.section}]'
            if not backend.valid:
                fine.append(f'{name} not tried: its options are invalid '
                            f'(see above)')
                continue
            try:
                cfg_ = self._backend_config(backend)
            except exception.ConfigError as exc:
                problems.append(f'{name}: {exc}')
                fixes.append(f'correct storpool_config_file / '
                             f'storpool_api_* in {name} of '
                             f'{self.opts.cinder_conf}')
                continue
            self.secret_sink(cfg_.auth_token)
            if self.cfg is not None and \
                    cfg_.endpoint == self.cfg.endpoint and \
                    cfg_.auth_token == self.cfg.auth_token:
                # Asked once already, by the StorPool API check.
                if self.api_ok:
                    fine.append(f'{name} uses this host\'s API and token')
                    tried += 1
                else:
                    fine.append(f'{name} not tried: it uses this host\'s '
                                f'API and token (see the StorPool API '
                                f'check)')
                continue
            tried += 1
            templates, message, fix = self._try_api(cfg_, name)
            if templates is None:
                problems.append(f'{name}: {message}')
                fixes.append(fix)
                continue
            self.backend_templates[backend.section] = {
                t['name'] for t in templates}
            fine.append(f'{name}: {cfg_.endpoint} answers and accepts its '
                        f'token')
        if problems:
            return Check('backend-api', title, FAIL,
                         '; '.join(problems) + ' (cinder-volume will fail '
                         'to start this backend)',
                         '; '.join(dict.fromkeys(fixes)))
        return Check('backend-api', title, PASS if tried else SKIP,
                     '; '.join(fine))

    def check_templates(self) -> Check:
        title = 'StorPool templates'
        # Template -> where it is wanted; the cluster to look in per source.
        wanted: dict[str, list[str]] = {}
        for name in self.opts.templates:
            wanted.setdefault(name, []).append('--template')
        for backend in self.backends:
            name = backend.get('storpool_template')
            if name:
                wanted.setdefault(name, []).append(f'[{backend.section}]')
        if not wanted:
            return Check('templates', title, SKIP,
                         'no template configured (none in cinder.conf '
                         'backends, no --template)')
        if not self.api_ok:
            return Check('templates', title, SKIP,
                         'needs a working StorPool API')
        existing = {t['name'] for t in self.api.templates_list()}
        missing: dict[str, list[str]] = {}
        for name, sources in wanted.items():
            for source in sources:
                have = self.backend_templates.get(source.strip('[]'),
                                                  existing)
                if name not in have:
                    missing.setdefault(name, []).append(source)
        if missing:
            where = '; '.join(f'{name} (from {", ".join(missing[name])})'
                              for name in sorted(missing))
            return Check('templates', title, FAIL,
                         f'template(s) not found in StorPool: {where}; '
                         f'StorPool has: '
                         f'{", ".join(sorted(existing)) or "none"}',
                         'create the template ("storpool template <name> '
                         'replication 3 placeAll <group>") or correct '
                         'storpool_template in cinder.conf')
        return Check('templates', title, PASS,
                     f'{", ".join(sorted(wanted))} exist')


def _validate_backend(path: str, section: str,
                      backend: doctor_base.Backend) -> list[str]:
    """Problems with a backend's storpool_* options, by oslo.config."""
    try:
        with warnings.catch_warnings():
            # Importing Cinder imports eventlet, which warns on import (9
            # lines on every doctor run); only that warning is silenced.
            warnings.filterwarnings('ignore',
                                    message=r'\s*Eventlet is deprecated')
            from storpool_openstack.cinder import options
    except ImportError:
        return []
    from oslo_config import cfg

    known = {}
    for _group, opts in options.list_opts():
        for opt in opts:
            known[opt.dest] = opt
    problems = []
    for key in backend.options:
        if key.startswith('storpool_') and key not in known:
            problems.append(f'[{section}] unknown option {key}')
    conf = cfg.ConfigOpts()
    conf.register_opts(list(known.values()), group=section)
    try:
        conf(args=[], default_config_files=[path], project='cinder',
             use_env=False)
    except cfg.Error as exc:
        return problems + [_short_error(exc)]
    group = getattr(conf, section)
    for name in sorted(known):
        try:
            getattr(group, name)
        except (cfg.Error, ValueError) as exc:
            problems.append(f'[{section}] {name}: '
                            f'{_short_error(exc)}')
    return problems


def _short_error(exc: Exception) -> str:
    """The first line, with oslo.config's LocationInfo(...) made plain."""
    text = str(exc).split('\n')[0]
    return _LOCATION.sub(lambda m: f'in {m.group(1)}', text)


# oslo.config says "from LocationInfo(location=<Locations.user: (4,
# True)>, detail='/etc/cinder/cinder.conf')" in its value errors.
_LOCATION = re.compile(r"from LocationInfo\(location=<[^>]*>, "
                       r"detail='([^']*)'\)")
