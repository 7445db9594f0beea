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
The StorPool config is read from the files only (no environment), as the
services read it; the API token is handed to the caller's scrubber and
never put in a message.
"""

import configparser
import dataclasses
import grp
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
from typing import Callable

from oslo_log import log as logging

from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config as sp_config
from storpool_openstack.common import exception
from storpool_openstack.ops import attachments
from storpool_openstack.ops import doctor_cluster
from storpool_openstack.ops import setup_host

LOG = logging.getLogger(__name__)

PASS = 'pass'
FAIL = 'fail'
SKIP = 'skip'

OUR_DRIVER = 'storpool_openstack.cinder.driver.StorPoolDriver'
INTREE_DRIVER = 'cinder.volume.drivers.storpool.StorPoolDriver'
NOVA_CHECK_TIMEOUT = 120


@dataclasses.dataclass
class DoctorOptions:
    config_file: str | None = None
    config_dir: str | None = None
    section: str | None = None
    attach_state_file: str | None = None
    dev_root: str = '/dev'
    nova_driver_file: str | None = None
    cinder_conf: str | None = '/etc/cinder/cinder.conf'
    templates: tuple[str, ...] = ()
    api_timeout: float = 30.0
    group: str = setup_host.GROUP
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

    def get(self, key: str) -> str | None:
        value = self.options.get(key)
        return value.strip() if isinstance(value, str) else value


class Doctor:
    """Runs the checks in order; see the module docstring."""

    def __init__(self, opts: DoctorOptions,
                 secret_sink: Callable[[str], None] = lambda _s: None):
        self.opts = opts
        self.secret_sink = secret_sink
        self.cfg: sp_config.StorPoolConfig | None = None
        self.our_id: int | None = None
        self.api: sp_api.StorPoolAPI | None = None
        self.api_ok = False
        self.backends: list[_Backend] = []
        self.checks: list[Check] = []

    def run(self) -> Report:
        for func in (self.check_config, self.check_our_id, self.check_api,
                     self.check_client, self.check_cinder_conf,
                     self.check_templates,
                     self.check_attach_file, self.check_attach_sync,
                     self.check_devices, self.check_qemu_img,
                     self.check_nova, self.check_coordination):
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
                config_dir=self.opts.config_dir or main + '.d',
                use_env=False)
        except exception.ConfigError as exc:
            return Check('config', title, FAIL, str(exc),
                         _config_fix(exc.key, main))
        self.secret_sink(self.cfg.auth_token)
        return Check('config', title, PASS,
                     f'read {", ".join(self.cfg.files) or main}: API at '
                     f'{self.cfg.api_host}:{self.cfg.api_port}, volume '
                     f'prefix "{self.cfg.volume_prefix}"')

    def check_our_id(self) -> Check:
        title = 'SP_OURID for this host'
        if self.cfg is None:
            return Check('our-id', title, SKIP, 'needs the StorPool config')
        try:
            self.our_id = self.cfg.our_id
        except exception.ConfigError as exc:
            return Check('our-id', title, FAIL, str(exc),
                         f'set SP_OURID to this host\'s StorPool client id '
                         f'in the [{self.cfg.section}] section of '
                         f'{self.cfg.files[0] if self.cfg.files else "/etc/storpool.conf"}'  # noqa: E501
                         f' (the StorPool client installer writes it)')
        return Check('our-id', title, PASS,
                     f'client id {self.our_id} (section '
                     f'[{self.cfg.section}])')

    def _make_api(self, cfg: sp_config.StorPoolConfig) -> sp_api.StorPoolAPI:
        return sp_api.from_config(cfg, timeout=self.opts.api_timeout,
                                  retries=0, retry_delay=0)

    def check_api(self) -> Check:
        title = 'StorPool API'
        if self.cfg is None:
            return Check('api', title, SKIP, 'needs the StorPool config')
        self.api = self._make_api(self.cfg)
        try:
            templates = self.api.templates_list()
        except exception.APIConnectionError as exc:
            return Check('api', title, FAIL,
                         f'cannot reach the StorPool API at '
                         f'{self.cfg.endpoint}: {exc.reason}',
                         f'check SP_API_HTTP_HOST and SP_API_HTTP_PORT in '
                         f'{_files(self.cfg)}, that storpool_mgmt runs, and '
                         f'that no firewall blocks the port')
        except exception.APIError as exc:
            if _is_auth_error(exc):
                return Check('api', title, FAIL,
                             f'the StorPool API at {self.cfg.endpoint} '
                             f'refused the token ({exc.name}: {exc.desc})',
                             f'SP_AUTH_TOKEN in {_files(self.cfg)} is not '
                             f'this cluster\'s: copy it from '
                             f'/etc/storpool.conf of a StorPool node')
            return Check('api', title, FAIL,
                         f'the StorPool API at {self.cfg.endpoint} '
                         f'answered with an error: {exc}',
                         'check the StorPool cluster\'s health '
                         '("storpool service list")')
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
            problems += bad
            if bad:
                fixes.append(f'correct the options of [{section}] (see '
                             f'etc/storpool-openstack.conf.sample)')
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

    def check_templates(self) -> Check:
        title = 'StorPool templates'
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
        missing = sorted(set(wanted) - existing)
        if missing:
            where = '; '.join(f'{name} (from {", ".join(wanted[name])})'
                              for name in missing)
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
                attachments.DEFAULT_ATTACH_STATE_FILE)

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


def _is_auth_error(exc: exception.APIError) -> bool:
    return 'auth' in (exc.name or '').lower() or exc.status in (401, 403)


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
        return problems + [f'{exc}']
    group = getattr(conf, section)
    for name in sorted(known):
        try:
            getattr(group, name)
        except (cfg.Error, ValueError) as exc:
            problems.append(f'[{section}] {name}: '
                            f'{_short_error(exc)}')
    return problems


def _short_error(exc: Exception) -> str:
    text = str(exc)
    return text.split('\n')[0]
