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

"""The one-machine cloud: every service a separate process on 127.0.0.1.

    with rig.Cloud('/var/tmp/cloud') as cloud:
        subprocess.run(['openstack', '--os-cloud', cloud.cloud_name,
                        'volume', 'list'], env=cloud.client_env())

Each daemon is a child of this process in a session of its own, listens
on a free port, and is stopped by its pid (SIGTERM, then SIGKILL, then its
own process group). ``stop()`` checks that no process, loop device or
listening port is left. ``state.json`` in the work directory records the
pids, so that another process (``python -m tests.cloud down``) can stop a
cloud it did not start.

The service list is data: ``Cloud(volume_services=[VolumeService('a',
cluster='c'), VolumeService('b', cluster='c')], etcd=True)`` runs two
cinder-volume services in one cluster with etcd as the tooz backend.
"""

import base64
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import typing
import urllib.error
import urllib.request

from storpool_openstack.emulator import control

HOST = '127.0.0.1'
PASSWORD = 'cloud-secret'
REGION = 'RegionOne'
IN_TREE_DRIVER = 'cinder.volume.drivers.storpool.StorPoolDriver'
OUR_DRIVER = 'storpool_openstack.cinder.driver.StorPoolDriver'
RABBIT_BIN = '/usr/lib/rabbitmq/bin'


class CloudError(Exception):
    """A service did not start or stop; the message names its log."""


@dataclasses.dataclass
class VolumeService:
    """One cinder-volume process: its ``host`` and optional ``cluster``.

    It serves every backend section in ``backends`` (``enabled_backends``).
    """

    host: str = 'cloud'
    cluster: typing.Optional[str] = None
    backends: typing.Tuple[str, ...] = ('storpool',)


@dataclasses.dataclass
class Proc:
    """A daemon this cloud started."""

    name: str
    argv: typing.List[str]
    log: str
    env: typing.Dict[str, str] = dataclasses.field(default_factory=dict)
    pid: int = 0
    start_time: str = ''     # /proc/PID/stat field 22: tells pid reuse
    popen: typing.Optional[subprocess.Popen] = None

    def to_json(self) -> dict:
        return {'name': self.name, 'argv': self.argv, 'log': self.log,
                'env': self.env, 'pid': self.pid,
                'start_time': self.start_time}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _proc_start_time(pid: int) -> str:
    try:
        with open('/proc/%d/stat' % pid) as fobj:
            stat = fobj.read()
    except OSError:
        return ''
    fields = stat.rsplit(')', 1)[1].split()
    # Fields after the command: state is field 3, starttime field 22.
    if fields[0] == 'Z':
        return ''
    return fields[19]


def _alive(proc: Proc) -> bool:
    if proc.popen is not None:
        return proc.popen.poll() is None
    return bool(proc.pid) and _proc_start_time(proc.pid) == proc.start_time


def _group_members(pgid: int) -> typing.List[int]:
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as fobj:
                fields = fobj.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if fields[0] != 'Z' and int(fields[2]) == pgid:
            pids.append(int(entry))
    return pids


def _venv_bin(name: str) -> str:
    path = os.path.join(os.path.dirname(sys.executable), name)
    return path if os.path.exists(path) else (shutil.which(name) or name)


def _ini(sections: typing.Dict[str, typing.Dict[str, typing.Any]]) -> str:
    out = []
    for section, values in sections.items():
        out.append('[%s]' % section)
        out.extend('%s = %s' % (key, value) for key, value in values.items()
                   if value is not None)
        out.append('')
    return '\n'.join(out)


def _write(path: str, text: str, mode: int = 0o644) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as fobj:
        fobj.write(text)
    os.chmod(path, mode)
    return path


class Cloud(object):
    """Start and stop the cloud in ``work_dir``."""

    cloud_name = 'storpool-cloud'

    def __init__(self, work_dir: str, *,
                 volume_services: typing.Optional[
                     typing.List[VolumeService]] = None,
                 driver: str = OUR_DRIVER,
                 templates: str = 'hybrid:3,ssd:2',
                 backup: bool = True, glance: bool = True,
                 etcd: bool = False) -> None:
        self.dir = os.path.abspath(work_dir)
        self.volume_services = volume_services or [VolumeService()]
        self.driver = driver
        self.templates = templates
        self.with_backup = backup
        self.with_glance = glance
        self.with_etcd = etcd
        self.procs: typing.Dict[str, Proc] = {}
        self.ports: typing.Dict[str, int] = {}
        self.start_seconds = 0.0
        self.emulator_url = ''
        self.prefix = sys.prefix
        self._project_ids: typing.Dict[str, str] = {}

    # -- paths -----------------------------------------------------------
    def path(self, *parts: str) -> str:
        return os.path.join(self.dir, *parts)

    @property
    def clouds_yaml(self) -> str:
        return self.path('clouds.yaml')

    @property
    def storpool_conf(self) -> str:
        return self.path('storpool.conf')

    @property
    def cinder_conf(self) -> str:
        return self.path('etc', 'cinder', 'cinder.conf')

    @property
    def dev_dir(self) -> str:
        return self.path('storpool', 'dev')

    @property
    def keystone_url(self) -> str:
        return 'http://%s:%d/v3' % (HOST, self.ports['keystone'])

    @property
    def cinder_url(self) -> str:
        return 'http://%s:%d' % (HOST, self.ports['cinder-api'])

    @property
    def glance_url(self) -> str:
        return 'http://%s:%d' % (HOST, self.ports['glance'])

    def admin_credentials(self) -> typing.Dict[str, str]:
        return {'auth_url': self.keystone_url, 'username': 'admin',
                'password': PASSWORD, 'project_name': 'admin',
                'user_domain_name': 'Default',
                'project_domain_name': 'Default', 'region_name': REGION}

    def client_env(self) -> typing.Dict[str, str]:
        """The environment for ``openstack --os-cloud storpool-cloud``."""
        env = dict(os.environ)
        for key in list(env):
            if key.startswith('OS_'):
                del env[key]
        env['OS_CLIENT_CONFIG_FILE'] = self.clouds_yaml
        env['OS_CLOUD'] = self.cloud_name
        env['PATH'] = (os.path.dirname(sys.executable) + os.pathsep +
                       env.get('PATH', ''))
        return env

    def log(self, name: str) -> str:
        return self.procs[name].log

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def emulator(self) -> control.ControlClient:
        """The emulator's control client (state, call log, faults)."""
        token = ''
        with open(self.storpool_conf) as fobj:
            for line in fobj:
                if line.startswith('SP_AUTH_TOKEN='):
                    token = line.strip().split('=', 1)[1]
        return control.ControlClient(self.emulator_url, token)

    # -- context manager -------------------------------------------------
    def __enter__(self) -> 'Cloud':
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: typing.Any) -> None:
        self.stop()

    # -- processes -------------------------------------------------------
    def spawn(self, name: str, argv: typing.List[str],
              env: typing.Optional[typing.Dict[str, str]] = None,
              cwd: typing.Optional[str] = None) -> Proc:
        """Start a daemon in a session of its own, logging to logs/."""
        log = self.path('logs', name + '.log')
        os.makedirs(os.path.dirname(log), exist_ok=True)
        full_env = dict(os.environ)
        # tests.cloud.wsgi and tests.cloud.sphost run from this tree.
        full_env['PYTHONPATH'] = _repo_root()
        full_env.update(env or {})
        with open(log, 'ab') as out:
            popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env=full_env, cwd=cwd or self.dir,
                start_new_session=True)
        proc = Proc(name, argv, log, env or {}, popen.pid,
                    _proc_start_time(popen.pid), popen)
        self.procs[name] = proc
        self._save_state()
        return proc

    def run(self, name: str, argv: typing.List[str],
            env: typing.Optional[typing.Dict[str, str]] = None,
            input: typing.Optional[str] = None,
            timeout: float = 300) -> str:
        """Run a set-up command; its output goes to logs/setup-NAME.log."""
        full_env = dict(os.environ)
        full_env.update(env or {})
        res = subprocess.run(argv, input=input, capture_output=True,
                             text=True, env=full_env, cwd=self.dir,
                             timeout=timeout)
        log = self.path('logs', 'setup-%s.log' % name)
        os.makedirs(os.path.dirname(log), exist_ok=True)
        with open(log, 'a') as fobj:
            fobj.write('$ %s\n%s%s' % (' '.join(argv), res.stdout,
                                       res.stderr))
        if res.returncode:
            raise CloudError('%s failed (exit %d), see %s:\n%s' % (
                name, res.returncode, log, _tail(res.stdout + res.stderr)))
        return res.stdout

    def start_many(self, argvs: typing.Dict[str, typing.List[str]],
                   timeout: float = 300, wait: bool = True) -> dict:
        """Run set-up commands in parallel; fail on the first failure.

        With ``wait=False``, returns them for a later ``finish()``.
        """
        children = {}
        for name, argv in argvs.items():
            log = self.path('logs', 'setup-%s.log' % name)
            os.makedirs(os.path.dirname(log), exist_ok=True)
            out = open(log, 'ab')
            children[name] = (subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, cwd=self.dir), out, log)
        if wait:
            self.finish(children, timeout)
        return children

    def finish(self, children: dict, timeout: float = 300) -> None:
        failed = []
        for name, (child, out, log) in children.items():
            try:
                code = child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                code = child.wait()
            out.close()
            if code:
                with open(log) as fobj:
                    failed.append('%s failed (exit %d), see %s:\n%s' % (
                        name, code, log, _tail(fobj.read())))
        if failed:
            raise CloudError('\n'.join(failed))

    def wait_for(self, name: str, ready: typing.Callable[[], bool],
                 timeout: float = 60) -> None:
        """Wait until ``ready()``; fail early if the daemon exits."""
        proc = self.procs.get(name)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if ready():
                    return
            except Exception:   # noqa: S110 - not ready yet
                pass
            if proc is not None and not _alive(proc):
                raise CloudError('%s exited at start-up, see %s:\n%s' % (
                    name, proc.log, _tail_file(proc.log)))
            if time.monotonic() > deadline:
                raise CloudError('%s not ready after %d s, see %s:\n%s' % (
                    name, timeout, proc.log if proc else '-',
                    _tail_file(proc.log) if proc else ''))
            time.sleep(0.2)

    def kill(self, name: str, sig: int = signal.SIGKILL,
             timeout: float = 30) -> None:
        """Send ``sig`` to one daemon and wait until it is gone."""
        proc = self.procs[name]
        self._stop_proc(proc, sig, timeout)

    def restart(self, name: str) -> Proc:
        """Start a stopped daemon again with the same command line."""
        old = self.procs[name]
        if _alive(old):
            raise CloudError('%s (pid %d) is still running' % (name,
                                                               old.pid))
        return self.spawn(name, old.argv, old.env)

    def _stop_proc(self, proc: Proc, sig: int = signal.SIGTERM,
                   timeout: float = 30) -> None:
        if _alive(proc):
            try:
                os.kill(proc.pid, sig)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout
            while _alive(proc) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(proc):
                os.kill(proc.pid, signal.SIGKILL)
                while _alive(proc):
                    time.sleep(0.1)
        if proc.popen is not None:
            proc.popen.wait()
        # Whatever the daemon left in its own session (privsep helpers,
        # uwsgi or Erlang children) goes too: that group is ours alone.
        for _ in range(50):
            members = _group_members(proc.pid)
            if not members:
                break
            for member in members:
                try:
                    os.kill(member, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)

    def _save_state(self) -> None:
        state = {'procs': [p.to_json() for p in self.procs.values()],
                 'ports': self.ports, 'emulator_url': self.emulator_url,
                 'driver': self.driver}
        _write(self.path('state.json'), json.dumps(state, indent=1))

    @classmethod
    def attach(cls, work_dir: str) -> 'Cloud':
        """The cloud another process started in ``work_dir``."""
        cloud = cls(work_dir)
        with open(cloud.path('state.json')) as fobj:
            state = json.load(fobj)
        for item in state['procs']:
            cloud.procs[item['name']] = Proc(**item)
        cloud.ports = state['ports']
        cloud.emulator_url = state['emulator_url']
        cloud.driver = state['driver']
        return cloud

    # -- start -----------------------------------------------------------
    def check_dir(self) -> None:
        """Refuse a directory that holds a running cloud or other files.

        Raised before anything starts, so the caller must not stop() on
        it: that would orphan the running cloud (state.json renamed).
        """
        if os.path.exists(self.path('state.json')):
            raise CloudError('%s holds a cloud already: stop it first '
                             '(tox -e cloud -- down --dir %s)' % (
                                 self.dir, self.dir))
        if (not os.path.exists(self.path('state.json.stopped'))
                and os.path.isdir(self.dir) and os.listdir(self.dir)):
            raise CloudError('%s is not empty: give a new or empty '
                             'directory' % self.dir)

    def start(self) -> None:
        t0 = time.monotonic()
        self.check_dir()
        if os.path.exists(self.path('state.json.stopped')):
            shutil.rmtree(self.dir)     # a stopped cloud: start afresh
        os.makedirs(self.dir, exist_ok=True)
        for name in ('mariadb', 'rabbit', 'rabbit-dist', 'epmd', 'keystone',
                     'glance', 'cinder-api', 'etcd', 'etcd-peer'):
            self.ports[name] = free_port()
        # Everything that waits on nothing else starts at once; the slow
        # steps (database migrations, RabbitMQ's boot, Keystone's
        # bootstrap) overlap.
        self._start_emulator()
        self._start_rabbitmq()
        if self.with_etcd:
            self._start_etcd()
        self._start_mariadb()
        self._write_configs()
        self._wait_mariadb()
        self._create_databases()
        self.start_many(self._db_syncs())
        bootstrap = self._bootstrap_keystone()
        self._wait_rabbitmq()
        self._start_cinder()
        if self.with_glance:
            self._start_glance()
        self.finish(bootstrap)
        self._start_keystone()
        self._wait_emulator()
        self._register_services()
        self._wait_cinder()
        self._write_clouds_yaml()
        self.start_seconds = time.monotonic() - t0
        self._save_state()

    # Emulator
    def _start_emulator(self) -> None:
        self.spawn('storpool-emulator', [
            _venv_bin('storpool-emulator'), '--port', '0',
            '--state-dir', self.path('storpool', 'state'),
            '--dev-dir', self.dev_dir, '--templates', self.templates,
            '--write-config', self.storpool_conf])
        os.makedirs(self.dev_dir, exist_ok=True)

    def _wait_emulator(self) -> None:
        log = self.procs['storpool-emulator'].log

        def ready() -> bool:
            with open(log) as fobj:
                for line in fobj:
                    if line.startswith('storpool-emulator listening on '):
                        self.emulator_url = line.split()[3]
                        return os.path.exists(self.storpool_conf)
            return False
        self.wait_for('storpool-emulator', ready, 30)

    # MariaDB
    def _start_mariadb(self) -> None:
        data = self.path('mysql')
        self.run('mariadb-install-db', [
            'mariadb-install-db', '--no-defaults', '--datadir=' + data,
            '--user=root', '--auth-root-authentication-method=socket',
            '--skip-test-db'])
        self.spawn('mariadb', [
            'mariadbd', '--no-defaults', '--datadir=' + data,
            '--socket=' + self.path('mysql', 'sock'),
            '--pid-file=' + self.path('mysql', 'pid'),
            '--bind-address=' + HOST, '--port=%d' % self.ports['mariadb'],
            '--user=root', '--skip-log-bin', '--skip-name-resolve',
            # A throw-away database: speed over durability.
            '--innodb-flush-log-at-trx-commit=0', '--innodb-doublewrite=0',
            '--innodb-buffer-pool-size=128M', '--max-connections=500',
            '--character-set-server=utf8mb4',
            '--collation-server=utf8mb4_general_ci'])

    def _wait_mariadb(self) -> None:
        sock = self.path('mysql', 'sock')
        self.wait_for('mariadb', lambda: os.path.exists(sock) and
                      _port_open(self.ports['mariadb']), 60)

    def _mysql(self, sql: str) -> None:
        self.run('mysql', ['mariadb', '--no-defaults',
                           '--socket=' + self.path('mysql', 'sock'),
                           '-uroot'], input=sql)

    def _create_databases(self) -> None:
        sql = ["CREATE USER 'openstack'@'127.0.0.1' IDENTIFIED BY '%s';"
               % PASSWORD]
        for name in ('keystone', 'glance', 'cinder'):
            sql.append('CREATE DATABASE %s;' % name)
            sql.append("GRANT ALL ON %s.* TO 'openstack'@'127.0.0.1';"
                       % name)
        self._mysql('\n'.join(sql))

    def db_url(self, name: str) -> str:
        return 'mysql+pymysql://openstack:%s@%s:%d/%s?charset=utf8' % (
            PASSWORD, HOST, self.ports['mariadb'], name)

    # RabbitMQ
    def _rabbit_env(self) -> typing.Dict[str, str]:
        base = self.path('rabbitmq')
        return {
            'HOME': base,
            'RABBITMQ_NODENAME': 'rabbit-%d@localhost' % self.ports['rabbit'],
            'RABBITMQ_MNESIA_BASE': os.path.join(base, 'mnesia'),
            'RABBITMQ_LOG_BASE': os.path.join(base, 'log'),
            'RABBITMQ_PID_FILE': os.path.join(base, 'rabbit.pid'),
            'RABBITMQ_NODE_IP_ADDRESS': HOST,
            'RABBITMQ_NODE_PORT': str(self.ports['rabbit']),
            'RABBITMQ_DIST_PORT': str(self.ports['rabbit-dist']),
            'RABBITMQ_CONFIG_FILE': os.path.join(base, 'rabbitmq'),
            'RABBITMQ_ENABLED_PLUGINS_FILE': os.path.join(base, 'plugins'),
            'ERL_EPMD_ADDRESS': HOST,
            'ERL_EPMD_PORT': str(self.ports['epmd']),
        }

    def _start_rabbitmq(self) -> None:
        env = self._rabbit_env()
        os.makedirs(env['HOME'], exist_ok=True)
        _write(os.path.join(env['HOME'], 'plugins'), '[].\n')
        _write(env['RABBITMQ_CONFIG_FILE'] + '.conf',
               'listeners.tcp.default = %d\n'
               'loopback_users.guest = true\n'
               'management.tcp.port = 0\n' % self.ports['rabbit'])
        self.spawn('epmd', ['epmd', '-address', HOST,
                            '-port', str(self.ports['epmd'])], env=env)
        self.spawn('rabbitmq', [os.path.join(RABBIT_BIN, 'rabbitmq-server')],
                   env=env)

    def _wait_rabbitmq(self) -> None:
        # RabbitMQ opens its AMQP listener last in its boot: an answer to
        # the protocol header means it is ready (rabbitmqctl, an Erlang VM
        # of its own, takes seconds more).
        self.wait_for('rabbitmq', lambda: _amqp_ready(self.ports['rabbit']),
                      120)

    @property
    def transport_url(self) -> str:
        return 'rabbit://guest:guest@%s:%d/' % (HOST, self.ports['rabbit'])

    # etcd (for tooz coordination of active-active cinder-volume)
    def _start_etcd(self) -> None:
        client = 'http://%s:%d' % (HOST, self.ports['etcd'])
        peer = 'http://%s:%d' % (HOST, self.ports['etcd-peer'])
        self.spawn('etcd', [
            'etcd', '--name', 'cloud', '--data-dir', self.path('etcd'),
            '--listen-client-urls', client, '--advertise-client-urls',
            client, '--listen-peer-urls', peer,
            '--initial-advertise-peer-urls', peer,
            '--initial-cluster', 'cloud=' + peer])

    @property
    def coordination_url(self) -> typing.Optional[str]:
        if not self.with_etcd:
            return None
        return 'etcd3+http://%s:%d' % (HOST, self.ports['etcd'])

    # Configuration files
    def _authtoken(self, user: str) -> dict:
        return {'www_authenticate_uri': self.keystone_url,
                'auth_url': self.keystone_url, 'auth_type': 'password',
                'project_domain_name': 'Default',
                'user_domain_name': 'Default', 'project_name': 'service',
                'username': user, 'password': PASSWORD,
                'region_name': REGION}

    def _write_configs(self) -> None:
        _write(self.path('etc', 'keystone', 'keystone.conf'), _ini({
            'DEFAULT': {'debug': True},
            'database': {'connection': self.db_url('keystone')},
            'fernet_tokens': {'key_repository':
                              self.path('etc', 'keystone', 'fernet-keys')},
            'fernet_receipts': {'key_repository':
                                self.path('etc', 'keystone', 'fernet-keys')},
            'credential': {'key_repository':
                           self.path('etc', 'keystone', 'credential-keys')},
            'token': {'provider': 'fernet'},
            # A throw-away cloud: every `openstack` command and token of
            # the tests checks a password, and bcrypt's default 12 rounds
            # cost seconds each on a loaded machine.
            'identity': {'password_hash_rounds': 4},
        }))
        self._write_glance_configs()
        self._write_cinder_configs()

    def _write_glance_configs(self) -> None:
        etc = self.path('etc', 'glance')
        _write(os.path.join(etc, 'glance-api.conf'), _ini({
            'DEFAULT': {'debug': True, 'bind_host': HOST,
                        'bind_port': self.ports['glance'], 'workers': 1,
                        'worker_self_reference_url': self.glance_url,
                        'enabled_backends': 'file:file',
                        'transport_url': None},
            'database': {'connection': self.db_url('glance')},
            'keystone_authtoken': self._authtoken('glance'),
            'paste_deploy': {'flavor': 'keystone', 'config_file': os.path.join(
                etc, 'glance-api-paste.ini')},
            'glance_store': {'default_backend': 'file'},
            'file': {'filesystem_store_datadir': self.path('images')},
            'os_glance_staging_store': {
                'filesystem_store_datadir': self.path('glance-staging')},
            'os_glance_tasks_store': {
                'filesystem_store_datadir': self.path('glance-tasks')},
            'oslo_concurrency': {'lock_path': self.path('locks', 'glance')},
        }))
        src = os.path.join(self.prefix, 'etc', 'glance')
        for name in ('glance-api-paste.ini',):
            shutil.copy(os.path.join(src, name), os.path.join(etc, name))

    def _privsep(self, context: str, conf: typing.List[str]) -> dict:
        # No sudo here: as root, start the privsep helpers directly.
        args = ' '.join('--config-file %s' % c for c in conf)
        return {'helper_command': '%s %s --privsep_context %s' % (
            _venv_bin('privsep-helper'), args, context)}

    def _write_cinder_configs(self) -> None:
        etc = self.path('etc', 'cinder')
        share = os.path.join(self.prefix, 'etc', 'cinder')
        backends = sorted({b for v in self.volume_services
                           for b in v.backends})
        conf: typing.Dict[str, typing.Dict[str, typing.Any]] = {
            'DEFAULT': {
                'debug': True,
                'host': 'cloud',
                'transport_url': self.transport_url,
                'auth_strategy': 'keystone',
                'enabled_backends': ','.join(backends),
                'state_path': self.path('cinder'),
                'osapi_volume_listen': HOST,
                'osapi_volume_listen_port': self.ports['cinder-api'],
                'osapi_volume_workers': 2,
                'api_paste_config': os.path.join(share, 'api-paste.ini'),
                'resource_query_filters_file':
                    os.path.join(share, 'resource_filters.json'),
                'glance_api_servers': self.glance_url,
                'image_conversion_dir': self.path('cinder', 'conversion'),
                'backup_driver':
                    'cinder.backup.drivers.posix.PosixBackupDriver',
                'backup_posix_path': self.path('backups'),
                # Volumes here are mostly zeros: cheap to compress.
                'backup_compression_algorithm': 'zlib',
                'scheduler_driver_init_wait_time': 1,
                'report_interval': 5,
                'service_down_time': 30,
                'periodic_interval': 10,
                'use_multipath_for_image_xfer': False,
            },
            'database': {'connection': self.db_url('cinder'),
                         'max_pool_size': 5},
            'keystone_authtoken': self._authtoken('cinder'),
            'oslo_concurrency': {'lock_path': self.path('locks', 'cinder')},
            'oslo_messaging_rabbit': {'heartbeat_timeout_threshold': 0},
            'coordination': {'backend_url': self.coordination_url},
            'cinder_sys_admin': self._privsep(
                'cinder.privsep.sys_admin_pctxt', [self.cinder_conf]),
            'privsep_osbrick': self._privsep(
                'os_brick.privileged.default', [self.cinder_conf]),
            'nova': {'auth_type': 'password', 'auth_url': self.keystone_url,
                     'username': 'cinder', 'password': PASSWORD,
                     'project_name': 'service',
                     'user_domain_name': 'Default',
                     'project_domain_name': 'Default'},
        }
        for backend in backends:
            conf[backend] = self.backend_section(backend)
        _write(self.cinder_conf, _ini(conf))
        # What `storpool-openstack setup-host` makes on a real host.
        os.makedirs(self.path('attach-state'), mode=0o775, exist_ok=True)
        os.makedirs(self.path('cinder', 'conversion'), exist_ok=True)
        for svc in self.volume_services:
            _write(os.path.join(etc, 'volume-%s.conf' % svc.host), _ini({
                'DEFAULT': {'host': svc.host, 'cluster': svc.cluster,
                            'enabled_backends': ','.join(svc.backends)}}))

    def backend_section(self, backend: str) -> dict:
        """``[storpool]`` as the README tells operators to write it.

        The README's three lines, then where this cloud's StorPool config,
        devices and attach-state file are (on a real host: the defaults).
        """
        return {
            'volume_driver': self.driver,
            'volume_backend_name': backend,
            'storpool_template': 'hybrid',
            'storpool_config_file': self.storpool_conf,
            'storpool_dev_root': self.dev_dir,
            'storpool_attach_state_file': self.path('attach-state',
                                                    'attach.json'),
            'storpool_api_retries': 2,
        }

    def _db_syncs(self) -> typing.Dict[str, typing.List[str]]:
        keystone = ['--config-file',
                    self.path('etc', 'keystone', 'keystone.conf')]
        syncs = {
            'keystone-db-sync': [_venv_bin('keystone-manage')] + keystone +
            ['db_sync'],
            'cinder-db-sync': [_venv_bin('cinder-manage'), '--config-file',
                               self.cinder_conf, 'db', 'sync'],
        }
        if self.with_glance:
            syncs['glance-db-sync'] = [
                _venv_bin('glance-manage'), '--config-file',
                self.path('etc', 'glance', 'glance-api.conf'), 'db_sync']
        return syncs

    # Keystone
    def _bootstrap_keystone(self) -> subprocess.Popen:
        """Keys as `keystone-manage fernet_setup` makes them; bootstrap.

        Returns the running `keystone-manage bootstrap` (see finish()).
        """
        for repo in ('fernet-keys', 'credential-keys'):
            # 0: the staged key, 1: the primary one.
            for index in ('0', '1'):
                key = base64.urlsafe_b64encode(os.urandom(32)).decode()
                _write(self.path('etc', 'keystone', repo, index), key,
                       0o600)
        return self.start_many({'keystone-bootstrap': [
            _venv_bin('keystone-manage'), '--config-file',
            self.path('etc', 'keystone', 'keystone.conf'),
            'bootstrap', '--bootstrap-password', PASSWORD,
            '--bootstrap-admin-url', self.keystone_url,
            '--bootstrap-public-url', self.keystone_url,
            '--bootstrap-internal-url', self.keystone_url,
            '--bootstrap-region-id', REGION]}, wait=False)

    def _wsgi(self, name: str, app: str, port: int,
              env: typing.Dict[str, str]) -> None:
        self.spawn(name, [sys.executable, '-m', 'tests.cloud.wsgi', app,
                          '%s:%d' % (HOST, port)],
                   env=env)

    def _start_keystone(self) -> None:
        self._wsgi('keystone', 'keystone.wsgi.api:application',
                   self.ports['keystone'],
                   {'OS_KEYSTONE_CONFIG_FILES': self.path(
                       'etc', 'keystone', 'keystone.conf')})
        self.wait_for('keystone', lambda: _http_ok(self.keystone_url), 60)

    def _start_glance(self) -> None:
        self._wsgi('glance-api', 'glance.wsgi.api:application',
                   self.ports['glance'],
                   {'OS_GLANCE_CONFIG_DIR': self.path('etc', 'glance')})

    def _start_cinder(self) -> None:
        base = ['--config-file', self.cinder_conf]
        self.spawn('cinder-api', [_venv_bin('cinder-api')] + base)
        self.spawn('cinder-scheduler', [_venv_bin('cinder-scheduler')] +
                   base)
        for svc in self.volume_services:
            name = self.volume_name(svc)
            argv = [_venv_bin('cinder-volume')] + base + [
                '--config-file', self.path(
                    'etc', 'cinder', 'volume-%s.conf' % svc.host)]
            # A StorPool client host, as in production: Cinder's own data
            # copies (generic migration) attach through os-brick's
            # connector, which reads /etc/storpool.conf; so does the
            # in-tree driver.
            self.spawn(name, self.storpool_host(name, argv))
        if self.with_backup:
            self.spawn('cinder-backup', self.storpool_host(
                'cinder-backup', [_venv_bin('cinder-backup')] + base))

    def storpool_host(self, name: str,
                      argv: typing.List[str]) -> typing.List[str]:
        """``argv`` in a mount namespace that looks like a StorPool host.

        For the code that knows only ``/etc/storpool.conf`` and
        ``/dev/storpool``: os-brick's own connector, which Cinder's backup
        manager and the volume manager's data copies (generic migration)
        use for their attaches, and the in-tree driver.
        """
        return ['unshare', '--mount', '--propagation', 'private', '--',
                sys.executable, '-m', 'tests.cloud.sphost',
                '--conf', self.storpool_conf, '--dev-dir', self.dev_dir,
                '--work', self.path('sphost', name), '--'] + argv

    def volume_name(self, svc: VolumeService) -> str:
        if len(self.volume_services) == 1:
            return 'cinder-volume'
        return 'cinder-volume-' + svc.host

    # Users, projects and the catalog, through Keystone's API.
    def admin_token(self) -> typing.Tuple[str, dict]:
        """An admin token and the catalog that came with it."""
        body = {'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': 'admin', 'domain': {'name': 'Default'},
                'password': PASSWORD}}},
            'scope': {'project': {'name': 'admin',
                                  'domain': {'name': 'Default'}}}}}
        req = urllib.request.Request(
            self.keystone_url + '/auth/tokens',
            json.dumps(body).encode(), {'Content-Type': 'application/json'})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return (resp.headers['X-Subject-Token'],
                    json.load(resp)['token'])

    def _keystone(self, token: str, path: str, body: dict) -> dict:
        req = urllib.request.Request(
            self.keystone_url + path, json.dumps(body).encode(),
            {'Content-Type': 'application/json', 'X-Auth-Token': token})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)

    def _register_services(self) -> None:
        token, auth = self.admin_token()
        admin_role = next(r['id'] for r in auth['roles']
                          if r['name'] == 'admin')
        project = self._keystone(token, '/projects', {'project': {
            'name': 'service', 'domain_id': 'default'}})['project']['id']
        for user in ('cinder', 'glance'):
            uid = self._keystone(token, '/users', {'user': {
                'name': user, 'password': PASSWORD,
                'domain_id': 'default'}})['user']['id']
            req = urllib.request.Request(
                '%s/projects/%s/users/%s/roles/%s' % (
                    self.keystone_url, project, uid, admin_role),
                method='PUT', headers={'X-Auth-Token': token})
            urllib.request.urlopen(req, timeout=30).close()
        catalog = [('cinder', 'block-storage',
                    self.cinder_url + '/v3/$(project_id)s'),
                   ('cinderv3', 'volumev3',
                    self.cinder_url + '/v3/$(project_id)s')]
        if self.with_glance:
            catalog.append(('glance', 'image', self.glance_url))
        for name, kind, url in catalog:
            sid = self._keystone(token, '/services', {'service': {
                'name': name, 'type': kind}})['service']['id']
            for interface in ('public', 'internal', 'admin'):
                self._keystone(token, '/endpoints', {'endpoint': {
                    'service_id': sid, 'interface': interface, 'url': url,
                    'region_id': REGION}})

    def _wait_cinder(self) -> None:
        self.wait_for('cinder-api', lambda: _http_ok(self.cinder_url), 90)
        if self.with_glance:
            self.wait_for('glance-api', lambda: _http_ok(
                self.glance_url + '/versions'), 60)
        token, _auth = self.admin_token()
        wanted = {'cinder-scheduler'}
        wanted.update('cinder-volume' for _ in self.volume_services)
        if self.with_backup:
            wanted.add('cinder-backup')

        def up() -> bool:
            services = self.cinder_services(token)
            up = {(s['binary'], s['host']) for s in services
                  if s['state'] == 'up'}
            volumes = {h for b, h in up if b == 'cinder-volume'}
            return ({b for b, _h in up} >= wanted and
                    all('%s@%s' % (v.host, b) in volumes
                        for v in self.volume_services for b in v.backends))
        self.wait_for('cinder-volume', up, 90)

    def cinder_services(self, token: typing.Optional[str] = None
                        ) -> typing.List[dict]:
        return self.cinder('/os-services', token=token)['services']

    def cinder(self, path: str, method: str = 'GET',
               body: typing.Optional[dict] = None,
               token: typing.Optional[str] = None,
               microversion: str = '3.0') -> dict:
        """One Cinder REST call as the admin (the admin project's URL)."""
        token = token or self.admin_token()[0]
        req = urllib.request.Request(
            '%s/v3/%s%s' % (self.cinder_url, self._project_id(token), path),
            None if body is None else json.dumps(body).encode(),
            {'X-Auth-Token': token, 'Content-Type': 'application/json',
             'OpenStack-API-Version': 'volume ' + microversion},
            method=method)
        with urllib.request.urlopen(req, timeout=60) as resp:
            data = resp.read()
        return json.loads(data) if data else {}

    def _project_id(self, token: str) -> str:
        # One look-up per token: the tests poll Cinder every second.
        if token not in self._project_ids:
            self._project_ids[token] = self._token_project_id(token)
        return self._project_ids[token]

    def _token_project_id(self, token: str) -> str:
        req = urllib.request.Request(
            self.keystone_url + '/auth/tokens',
            headers={'X-Auth-Token': token, 'X-Subject-Token': token})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)['token']['project']['id']

    def _write_clouds_yaml(self) -> None:
        creds = self.admin_credentials()
        lines = ['clouds:', '  %s:' % self.cloud_name, '    auth:']
        for key in ('auth_url', 'username', 'password', 'project_name',
                    'user_domain_name', 'project_domain_name'):
            lines.append('      %s: %s' % (key, creds[key]))
        lines += ['    region_name: %s' % REGION,
                  '    identity_api_version: 3',
                  '    volume_api_version: 3', '']
        _write(self.clouds_yaml, '\n'.join(lines), 0o600)

    # -- stop ------------------------------------------------------------
    # Clients first, then what they talk to; the emulator last but one
    # (it removes its loop devices), the databases last.
    STOP_ORDER = ('cinder-api', 'glance-api', 'cinder-backup',
                  'cinder-volume', 'cinder-scheduler', 'keystone',
                  'storpool-emulator', 'rabbitmq', 'epmd', 'etcd',
                  'mariadb')

    def stop(self) -> typing.List[str]:
        """Stop every daemon; returns what was left behind (if any)."""
        def rank(name: str) -> int:
            for i, prefix in enumerate(self.STOP_ORDER):
                if name == prefix or name.startswith(prefix + '-'):
                    return i
            return -1
        for name in sorted(self.procs, key=rank):
            self._stop_proc(self.procs[name], signal.SIGTERM, 30)
        left = self.leftovers()
        if os.path.exists(self.path('state.json')):
            os.rename(self.path('state.json'),
                      self.path('state.json.stopped'))
        return left

    def leftovers(self) -> typing.List[str]:
        """Processes, loop devices and ports of this cloud still there."""
        left = []
        for proc in self.procs.values():
            if _alive(proc) or _group_members(proc.pid):
                left.append('process %s (pid %d)' % (proc.name, proc.pid))
        out = subprocess.run(['losetup', '-a'], capture_output=True,
                             text=True).stdout
        left.extend('loop device ' + line.split(':')[0]
                    for line in out.splitlines() if self.dir in line)
        for name, port in self.ports.items():
            if _port_open(port):
                left.append('port %d (%s) still listening' % (port, name))
        with open('/proc/mounts') as fobj:
            left.extend('mount ' + line.split()[1] for line in fobj
                        if line.split()[1].startswith(self.dir))
        return left


def _repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def _amqp_ready(port: int) -> bool:
    with socket.create_connection((HOST, port), timeout=2) as sock:
        sock.sendall(b'AMQP\x00\x00\x09\x01')
        # A connection.start method frame: type 1, channel 0.
        return sock.recv(3) == b'\x01\x00\x00'


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def _tail(text: str, lines: int = 25) -> str:
    return '\n'.join(text.splitlines()[-lines:])


def _tail_file(path: str, lines: int = 25) -> str:
    try:
        with open(path, errors='replace') as fobj:
            return _tail(fobj.read(), lines)
    except OSError:
        return ''
