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
"""`storpool-openstack doctor`: is this host ready for StorPool?

Each check returns pass / fail / skip with a message and, when it fails,
the fix.  Checks that need an earlier one (the API needs the config) are
skipped when it failed, so the first failure is the one to fix first.
The StorPool config is read as the services read it (the files, then the
SP_* environment variables, then each Cinder backend's own storpool_api_*
options for that backend); the API token is handed to the caller's
scrubber and never put in a message.  The API client fails fast (no
retries, a short timeout) and `progress` says what is being waited for.
"""

import configparser
import dataclasses
import grp
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from typing import Callable
import warnings

from oslo_log import log as logging

from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config as sp_config
from storpool_openstack.common import exception
from storpool_openstack.common import names
from storpool_openstack.ops import attachments
from storpool_openstack.ops import client
from storpool_openstack.ops import doctor_cluster
from storpool_openstack.ops import samples
from storpool_openstack.ops import setup_host

LOG = logging.getLogger(__name__)

PASS = 'pass'
FAIL = 'fail'
SKIP = 'skip'

OUR_DRIVER = 'storpool_openstack.cinder.driver.StorPoolDriver'
INTREE_DRIVER = 'cinder.volume.drivers.storpool.StorPoolDriver'
NOVA_CHECK_TIMEOUT = 120
# brick.options.connector_opts (not imported: that needs os-brick).
CONNECTOR_OPTIONS = frozenset((
    'config_file', 'attach_state_file', 'device_timeout', 'dev_root',
    'detach_busy_retries', 'api_timeout', 'api_retries'))


@dataclasses.dataclass
class DoctorOptions:
    config_file: str | None = None
    config_dir: str | None = None
    section: str | None = None
    attach_state_file: str | None = None
    dev_root: str = names.DEFAULT_DEV_ROOT
    nova_driver_file: str | None = None
    os_brick_file: str | None = None
    cinder_conf: str | None = '/etc/cinder/cinder.conf'
    templates: tuple[str, ...] = ()
    api_timeout: float = 5.0
    group: str = names.ATTACH_STATE_GROUP
    python: str = sys.executable


@dataclasses.dataclass
class Check:
    name: str
    title: str
    status: str
    message: str
    fix: str = ''

    @property
    def ok(self) -> bool | None:
        return {PASS: True, FAIL: False}.get(self.status)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Report:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.status != FAIL for check in self.checks)

    def get(self, name: str) -> Check:
        return next(check for check in self.checks if check.name == name)

    def summary(self) -> str:
        count = {s: sum(1 for c in self.checks if c.status == s)
                 for s in (PASS, FAIL, SKIP)}
        verdict = 'all good' if self.ok else 'fix the failed checks above'
        return (f'{count[PASS]} passed, {count[FAIL]} failed, '
                f'{count[SKIP]} skipped: {verdict}')

    def to_json(self) -> dict:
        return {'ok': self.ok, 'checks': [c.to_json() for c in self.checks]}


def _conf_files(opts: DoctorOptions) -> tuple[str, list[str]]:
    main = opts.config_file or '/etc/storpool.conf'
    conf_dir = opts.config_dir or main + '.d'
    extra = []
    if os.path.isdir(conf_dir):
        extra = [os.path.join(conf_dir, name)
                 for name in sorted(os.listdir(conf_dir))
                 if name.endswith('.conf') and not name.startswith('.')]
    return main, extra


@dataclasses.dataclass
class _Backend:
    section: str
    options: dict[str, str]
    valid: bool = True

    def get(self, key: str) -> str | None:
        value = self.options.get(key)
        return value.strip() if isinstance(value, str) else value


class Doctor:
    """Runs the checks in order; see the module docstring."""

    def __init__(self, opts: DoctorOptions,
                 secret_sink: Callable[[str], None] = lambda _s: None,
                 progress: Callable[[str], None] = lambda _s: None,
                 on_check: Callable[[Check], None] = lambda _c: None):
        self.opts = opts
        self.secret_sink = secret_sink
        self.progress = progress
        self.on_check = on_check
        self.cfg: sp_config.StorPoolConfig | None = None
        self.our_id: int | None = None
        self.api: sp_api.StorPoolAPI | None = None
        self.api_ok = False
        self.backends: list[_Backend] = []
        # Backend section -> the template names of that backend's cluster.
        self.backend_templates: dict[str, set[str]] = {}
        self.checks: list[Check] = []

    def run(self) -> Report:
        for func in (self.check_config, self.check_our_id, self.check_api,
                     self.check_client, self.check_cinder_conf,
                     self.check_backend_apis, self.check_templates,
                     self.check_attach_file, self.check_attach_sync,
                     self.check_devices, self.check_qemu_img,
                     self.check_nova, self.check_os_brick,
                     self.check_coordination):
            try:
                check = func()
            except Exception as exc:  # a bug in a check must not hide others
                LOG.exception('doctor check %s failed', func.__name__)
                check = Check(func.__name__.replace('check_', ''),
                              func.__name__, FAIL,
                              f'the check itself failed: '
                              f'{type(exc).__name__}: {exc}',
                              'rerun with --debug and report it')
            self.checks.append(check)
            self.on_check(check)
        return Report(self.checks)

    # StorPool config and API

    def check_config(self) -> Check:
        title = 'StorPool config'
        main, extra = _conf_files(self.opts)
        present = [path for path in [main] + extra if os.path.exists(path)]
        if not present:
            return Check('config', title, FAIL,
                         f'no StorPool configuration: {main} does not '
                         f'exist and {main}.d/ has no *.conf file',
                         f'install the StorPool client on this host, or '
                         f'copy {main} from a StorPool node')
        for path in present:
            try:
                with open(path, 'rb'):
                    pass
            except OSError as exc:
                return Check('config', title, FAIL,
                             f'cannot read {path}: {exc.strerror}',
                             f'make {path} readable by the OpenStack '
                             f'services (e.g. "chgrp {self.opts.group} '
                             f'{path}; chmod g+r {path}")')
        try:
            self.cfg = sp_config.load(
                self.opts.section, config_file=main,
                config_dir=self.opts.config_dir or main + '.d')
        except exception.ConfigError as exc:
            return Check('config', title, FAIL, str(exc),
                         _config_fix(exc.key, main))
        self.secret_sink(self.cfg.auth_token)
        from_env = [key for key, where in self.cfg.origins
                    if where == sp_config.ENVIRONMENT]
        env = (f'; {", ".join(from_env)} from the environment, as the '
               f'services take it' if from_env else '')
        return Check('config', title, PASS,
                     f'read {", ".join(self.cfg.files) or main}: API at '
                     f'{self.cfg.api_host}:{self.cfg.api_port}, volume '
                     f'prefix "{self.cfg.volume_prefix}"{env}')

    def check_our_id(self) -> Check:
        title = 'SP_OURID for this host'
        if self.cfg is None:
            return Check('our-id', title, SKIP, 'needs the StorPool config')
        try:
            self.our_id = self.cfg.our_id
        except exception.ConfigError as exc:
            main = next((f for f in self.cfg.files if os.path.isfile(f)),
                        _conf_files(self.opts)[0])
            return Check('our-id', title, FAIL, str(exc),
                         f'set SP_OURID to this host\'s StorPool client id '
                         f'at the top of {main} (or in its '
                         f'[{self.cfg.section}] section); the StorPool '
                         f'client installer writes it')
        return Check('our-id', title, PASS,
                     f'client id {self.our_id} (section '
                     f'[{self.cfg.section}])')

    def _make_api(self, cfg: sp_config.StorPoolConfig) -> sp_api.StorPoolAPI:
        # Fail fast: no retries (a client's default retries take 31 s).
        return sp_api.StorPoolAPI(cfg, timeout=self.opts.api_timeout,
                                  retries=0, retry_delay=0)

    def _try_api(self, cfg: sp_config.StorPoolConfig, who: str
                 ) -> tuple[list[dict] | None, str, str]:
        """(templates, '', '') or (None, message, fix) for `cfg`'s API."""
        self.progress(f'{who}: asking the StorPool API at {cfg.endpoint} '
                      f'(timeout {self.opts.api_timeout:g} s, no '
                      f'retries)...')
        api = self._make_api(cfg)
        try:
            return api.templates_list(), '', ''
        except exception.APIConnectionError as exc:
            reason = exc.reason
            if 'timed out' in reason.lower():
                reason = (f'no answer within {self.opts.api_timeout:g} s '
                          f'(--api-timeout)')
            return (None,
                    f'cannot reach the StorPool API at {cfg.endpoint}: '
                    f'{reason}',
                    f'check {cfg.origin(sp_config.HOST)} and '
                    f'{cfg.origin(sp_config.PORT)}, that storpool_mgmt '
                    f'runs, and that no firewall blocks the port')
        except exception.APIError as exc:
            if client.is_auth_error(exc):
                return (None,
                        f'the StorPool API at {cfg.endpoint} refused the '
                        f'token ({exc.name}: {exc.desc})',
                        f'{cfg.origin(sp_config.TOKEN)} is not this '
                        f'cluster\'s token: copy SP_AUTH_TOKEN from '
                        f'/etc/storpool.conf of a StorPool node')
            return (None,
                    f'the StorPool API at {cfg.endpoint} answered with an '
                    f'error: {exc}',
                    'check the StorPool cluster\'s health ("storpool '
                    'service list")')

    def check_api(self) -> Check:
        title = 'StorPool API'
        if self.cfg is None:
            return Check('api', title, SKIP, 'needs the StorPool config')
        self.api = self._make_api(self.cfg)
        templates, message, fix = self._try_api(self.cfg, 'this host')
        if templates is None:
            return Check('api', title, FAIL, message, fix)
        self.api_ok = True
        return Check('api', title, PASS,
                     f'{self.cfg.endpoint} answers and accepts the token '
                     f'({len(templates)} template(s))')

    def check_client(self) -> Check:
        title = 'this host in the StorPool cluster'
        if not self.api_ok or self.our_id is None:
            return Check('client', title, SKIP,
                         'needs a working StorPool API and SP_OURID')
        clients = {c['id']: c for c in self.api.clients_config_dump()}
        ours = clients.get(self.our_id)
        if ours is None:
            known = ', '.join(str(cid) for cid in sorted(clients)) or 'none'
            return Check('client', title, FAIL,
                         f'client id {self.our_id} (SP_OURID) is not a '
                         f'client of the cluster at {self.cfg.endpoint}; '
                         f'its clients are: {known}',
                         f'set SP_OURID in {_files(self.cfg)} to this '
                         f'host\'s StorPool client id, or add this host '
                         f'to the cluster ("storpool client status" on a '
                         f'StorPool node lists them)')
        status = ours.get('configStatus')
        if status != 'ok':
            return Check('client', title, FAIL,
                         f'client {self.our_id} is known to the cluster '
                         f'but its configuration status is "{status}": '
                         f'volumes cannot be attached to it',
                         'start the StorPool block client on this host '
                         '("systemctl start storpool_block") and check '
                         '"storpool client status"')
        return Check('client', title, PASS,
                     f'client {self.our_id} is known to the cluster and '
                     f'its configuration is up to date')

    # cinder.conf and templates

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
            backend = _Backend(section, {k: v for k, v in
                                         parser.items(section)})
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

    def _backend_config(self, backend: _Backend
                        ) -> sp_config.StorPoolConfig:
        """The backend's StorPool config, exactly as its driver reads it."""
        path = backend.get('storpool_config_file') or \
            _conf_files(self.opts)[0]
        conf_d = (self.opts.config_dir
                  if path == _conf_files(self.opts)[0] and
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

    # The attach-state file

    @property
    def attach_path(self) -> str:
        return (self.opts.attach_state_file or
                names.ATTACH_STATE_FILE)

    def check_attach_file(self) -> Check:
        title = 'attach-state file'
        path = self.attach_path
        fix_all = 'run "storpool-openstack setup-host" as root'
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return Check('attach-file', title, FAIL,
                         f'{path} does not exist', fix_all)
        except OSError as exc:
            return Check('attach-file', title, FAIL,
                         f'cannot stat {path}: {exc.strerror}', fix_all)
        if not stat.S_ISREG(st.st_mode):
            return Check('attach-file', title, FAIL,
                         f'{path} is not a regular file',
                         f'move it away, then {fix_all}')
        try:
            gid = grp.getgrnam(self.opts.group).gr_gid
        except KeyError:
            return Check('attach-file', title, FAIL,
                         f'the group {self.opts.group} does not exist',
                         fix_all)
        problems = []
        mode = stat.S_IMODE(st.st_mode)
        if st.st_uid != 0 or st.st_gid != gid:
            problems.append(f'owner is {_owner(st)}, not root:'
                            f'{self.opts.group}')
        if mode != setup_host.FILE_MODE:
            problems.append(f'mode is {mode:04o}, not '
                            f'{setup_host.FILE_MODE:04o}')
        problems += self._attach_dir_problems(path, gid)
        if problems:
            return Check('attach-file', title, FAIL,
                         f'{path}: ' + ', '.join(problems),
                         f'chown root:{self.opts.group} {path}; chmod '
                         f'{setup_host.FILE_MODE:04o} {path}; chgrp '
                         f'{self.opts.group} {os.path.dirname(path)}; '
                         f'chmod g+rwx {os.path.dirname(path)} (or '
                         f'{fix_all})')
        try:
            with open(path, encoding='utf-8') as fobj:
                text = fobj.read()
            data = json.loads(text) if text.strip() else {}
        except (OSError, ValueError) as exc:
            return Check('attach-file', title, FAIL,
                         f'{path} is not readable JSON: {exc}',
                         'restore it from a backup, or replace it with '
                         '"{}" and run "storpool-openstack attachments '
                         '--sync"')
        if not isinstance(data, dict):
            return Check('attach-file', title, FAIL,
                         f'{path} does not hold a JSON object',
                         'replace it with "{}" and run '
                         '"storpool-openstack attachments --sync"')
        return Check('attach-file', title, PASS,
                     f'{path}: root:{self.opts.group} '
                     f'{setup_host.FILE_MODE:04o}, {len(data)} entries')

    def _attach_dir_problems(self, path: str, gid: int) -> list[str]:
        """The services write a side file next to the attach-state file."""
        directory = os.path.dirname(os.path.abspath(path))
        st = os.stat(directory)
        mode = stat.S_IMODE(st.st_mode)
        if st.st_gid == gid and mode & 0o070 == 0o070:
            return []
        return [f'its directory {directory} is {_owner(st)} {mode:04o}, '
                f'not writable by the group {self.opts.group} (the '
                f'services write {os.path.basename(path)}.next there)']

    def check_attach_sync(self) -> Check:
        title = 'attach state matches StorPool'
        if not self.api_ok or self.our_id is None:
            return Check('attach-sync', title, SKIP,
                         'needs a working StorPool API and SP_OURID')
        if self.checks and self.checks[-1].status != PASS:
            return Check('attach-sync', title, SKIP,
                         'needs a valid attach-state file')
        entries = attachments.read_entries(self.attach_path)
        existing = {v['name'] for v in self.api.volumes_list()}
        existing |= {s['name'] for s in self.api.snapshots_list()}
        rows = attachments.compare(entries, self.api.attachments_list(),
                                   self.our_id, self.cfg.volume_prefix,
                                   existing)
        bad = [row for row in rows if not row.consistent]
        if bad:
            shown = '; '.join(f'{row.volume}: {row.state}'
                              for row in bad[:5])
            more = f' and {len(bad) - 5} more' if len(bad) > 5 else ''
            return Check('attach-sync', title, FAIL,
                         f'{len(bad)} of {len(rows)} volume(s) differ: '
                         f'{shown}{more}',
                         'run "storpool-openstack attachments" to see them '
                         'and "storpool-openstack attachments --sync" to '
                         'reconcile')
        return Check('attach-sync', title, PASS,
                     f'{len(rows)} volume(s) recorded, all attached to '
                     f'client {self.our_id} as recorded')

    # Host tools

    def check_devices(self) -> Check:
        path = os.path.join(self.opts.dev_root, 'storpool')
        title = f'{path}'
        if os.path.isdir(path):
            return Check('devices', title, PASS, f'{path} is present')
        return Check('devices', title, FAIL,
                     f'{path} does not exist: the StorPool block client '
                     f'is not running here',
                     'install and start the StorPool client '
                     '("systemctl start storpool_block")')

    def check_qemu_img(self) -> Check:
        title = 'qemu-img'
        found = shutil.which('qemu-img')
        if not found:
            return Check('qemu-img', title, FAIL,
                         'qemu-img is not installed (Cinder needs it to '
                         'copy images to volumes)',
                         'apt-get install qemu-utils (Debian/Ubuntu) or '
                         'dnf install qemu-img (RHEL)')
        try:
            res = subprocess.run([found, '--version'], capture_output=True,
                                 text=True, timeout=30, check=False)
            version = (res.stdout.splitlines() or [''])[0].strip()
        except (OSError, subprocess.TimeoutExpired):
            version = ''
        return Check('qemu-img', title, PASS,
                     f'{found}' + (f' ({version})' if version else ''))

    def check_nova(self) -> Check:
        title = 'Nova volume driver registered'
        path = self.opts.nova_driver_file
        if path is None:
            spec = importlib.util.find_spec('nova')
            if spec is None or not spec.submodule_search_locations:
                return Check('nova', title, SKIP,
                             'Nova is not installed for this Python (not a '
                             'compute host)')
            path = os.path.join(list(spec.submodule_search_locations)[0],
                                'virt', 'libvirt', 'driver.py')
        if not os.path.exists(path):
            return Check('nova', title, SKIP, f'{path} does not exist')
        cmd = [self.opts.python, '-m',
               'storpool_openstack.cmd.add_storpool_nova_driver', '--check',
               '--file', path]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True,
                                 timeout=NOVA_CHECK_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Check('nova', title, FAIL,
                         f'add-storpool-nova-driver --check failed: {exc}',
                         'run "add-storpool-nova-driver --check --verbose"')
        said = ' '.join((res.stdout + ' ' + res.stderr).split())
        if res.returncode == 0:
            return Check('nova', title, PASS, f'{path}: {said}')
        if res.returncode == 1:
            return Check('nova', title, FAIL,
                         f'{path} is not patched: {said}',
                         f'run "add-storpool-nova-driver --file {path}" as '
                         f'root, then restart nova-compute')
        return Check('nova', title, FAIL,
                     f'add-storpool-nova-driver --check exit code '
                     f'{res.returncode}: {said}',
                     'see "add-storpool-nova-driver --help" (exit codes)')

    def check_os_brick(self) -> Check:
        """cinder-backup attaches through os-brick's factory: ours?"""
        title = 'os-brick STORPOOL connector is this package\'s'
        if importlib.util.find_spec('cinder') is None:
            return Check('os-brick', title, SKIP,
                         'Cinder is not installed for this Python (its '
                         'backup service would use the connector)')
        from storpool_openstack.ops import os_brick_patch

        code, said = os_brick_patch.check(self.opts.os_brick_file)
        if code == 0:
            return Check('os-brick', title, PASS, said)
        if code == 1:
            return Check('os-brick', title, FAIL,
                         f'{said}: cinder-backup would attach without '
                         f'recording its users, and cannot attach '
                         f'snapshots',
                         'run "storpool-openstack os-brick" as root, then '
                         'restart cinder-backup and cinder-volume')
        return Check('os-brick', title, FAIL, said,
                     'check the os-brick version (see the README, '
                     '"Backups")')

    # Active-active cinder-volume (doctor_cluster.py)

    def check_coordination(self) -> Check:
        return Check('coordination', doctor_cluster.TITLE,
                     *doctor_cluster.check(self.opts.cinder_conf))


def _files(cfg: sp_config.StorPoolConfig) -> str:
    return ', '.join(cfg.files) or '/etc/storpool.conf'


def _config_fix(key: str | None, main: str) -> str:
    return {
        sp_config.TOKEN: f'set SP_AUTH_TOKEN in {main}: copy it from '
                         f'/etc/storpool.conf of a StorPool node',
        sp_config.HOST: f'set SP_API_HTTP_HOST in {main} to the address of '
                        f'the StorPool API',
        sp_config.PORT: f'set SP_API_HTTP_PORT in {main} to the API port '
                        f'(81 by default)',
        sp_config.PREFIX: f'correct SP_OPENSTACK_VOLUME_PREFIX in {main}',
    }.get(key or '', f'correct {main}')


def _owner(st: os.stat_result) -> str:
    try:
        import pwd
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return f'{user}:{group}'


def _validate_backend(path: str, section: str,
                      backend: _Backend) -> list[str]:
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
