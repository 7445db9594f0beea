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
"""The StorPool configuration of a host, read with storpool.spconfig.

`/etc/storpool.conf`, then `/etc/storpool.conf.d/*.conf`; in each file the
unnamed top section, then the section named after the host. Then, as
every StorPool tool does, the environment variables SP_AUTH_TOKEN,
SP_API_HTTP_HOST and SP_API_HTTP_PORT; then a caller's overrides (a Cinder
backend's storpool_api_* options). The services and the operator's CLI
all read it through `load`, so they agree on the endpoint and token, and
`StorPoolConfig.origin` says which of these layers a value came from.
"""

import dataclasses
import os
import platform

import confget
from oslo_log import log as logging
from storpool import spconfig

from storpool_openstack.common import exception
from storpool_openstack.common import names

LOG = logging.getLogger(__name__)

HOST = 'SP_API_HTTP_HOST'
PORT = 'SP_API_HTTP_PORT'
TOKEN = 'SP_AUTH_TOKEN'
OURID = 'SP_OURID'
PREFIX = 'SP_OPENSTACK_VOLUME_PREFIX'

MAX_CLIENT_ID = 4095
ENVIRONMENT = 'environment'


@dataclasses.dataclass(frozen=True)
class StorPoolConfig:
    """What this package needs from the StorPool configuration."""

    api_host: str
    api_port: int
    auth_token: str = dataclasses.field(repr=False)
    volume_prefix: str
    section: str
    files: tuple[str, ...]
    raw_our_id: str | None = None
    # Key -> where its value came from, when not the files: 'environment'
    # or the caller's `override_source` (e.g. "[ceph-sp] of cinder.conf").
    origins: tuple[tuple[str, str], ...] = ()

    def origin(self, key: str) -> str:
        """Where `key`'s value was read, for messages and fixes."""
        where = dict(self.origins).get(key)
        if where == ENVIRONMENT:
            return f'the environment variable {key}'
        if where is not None:
            return where
        return f'{key} in {_where(self.files)}'

    @property
    def endpoint(self) -> str:
        return f'http://{self.api_host}:{self.api_port}'

    @property
    def our_id(self) -> int:
        """This host's StorPool client id (SP_OURID), validated."""
        return parse_client_id(self.raw_our_id, section=self.section,
                               files=self.files)


def _where(files: tuple[str, ...]) -> str:
    return ', '.join(files) if files else 'no StorPool config file found'


def _set_at(files: tuple[str, ...], key: str,
            section: str) -> str | None:
    """Where `key` was last set for `section`: "FILE, top section" etc."""
    found = None
    for path in files:
        current = ''
        try:
            with open(path, encoding='utf-8', errors='replace') as fobj:
                for line in fobj:
                    line = line.strip()
                    if line.startswith('[') and line.endswith(']'):
                        current = line[1:-1].strip()
                    elif line.split('=', 1)[0].strip() == key and \
                            current in ('', section):
                        found = (f'{path}, ' +
                                 (f'section [{current}]' if current
                                  else 'top (unnamed) section'))
        except OSError:
            continue
    return found


def parse_client_id(value: str | None, *, section: str,
                    files: tuple[str, ...]) -> int:
    """SP_OURID as an int in 1..4095, or a ConfigError that says why."""
    readable = tuple(f for f in files if os.path.isfile(f))
    main = readable[0] if readable else spconfig.SPConfig.PATH_CONFIG
    if value is None or not value.strip():
        raise exception.ConfigError(
            f'{OURID} is not set for host "{section}" (read: '
            f'{_where(files)}); add "{OURID}=<client id>" to the top '
            f'(unnamed) section of {main}, or to its [{section}] section '
            f'if that file serves several hosts',
            key=OURID, files=files, section=section)
    try:
        client_id = int(value)
    except ValueError:
        client_id = -1
    if not 1 <= client_id <= MAX_CLIENT_ID:
        where = _set_at(readable, OURID, section) or _where(files)
        raise exception.ConfigError(
            f'{OURID}="{value}" for host "{section}" (set in {where}) '
            f'is not a StorPool client id: it must be an integer from 1 to '
            f'{MAX_CLIENT_ID}', key=OURID, files=files, section=section)
    return client_id


def host_client_id(section: str, *, config_file: str | None = None,
                   config_dir: str | None = None
                   ) -> tuple[str | None, tuple[str, ...]]:
    """SP_OURID as set in the [section] of the config files, if anywhere.

    Unlike `load`, the unnamed top section does not count: its SP_OURID
    is the id of the host that reads the files, never another host's.
    Returns (the raw value or None, the files read).
    """
    reader = _reader(config_file, config_dir)
    files = tuple(reader.get_config_files(missing_ok=True))
    value = None
    for fname in files:
        try:
            raw = confget.BACKENDS['ini'](
                confget.Config([], filename=fname)).read_file()
        except Exception as exc:
            raise exception.ConfigError(
                f'cannot read the StorPool configuration file {fname}: '
                f'{exc}', files=files, section=section) from exc
        value = raw.get(section, {}).get(OURID, value)
    if not files:
        files = (f'{reader.PATH_CONFIG} (missing)',)
    return value, files


def _reader(config_file: str | None, config_dir: str | None):
    """SPConfig, or a subclass of it that reads other paths."""
    if config_file is None and config_dir is None:
        return spconfig.SPConfig
    attrs = {}
    if config_file is not None:
        attrs['PATH_CONFIG'] = config_file
    if config_dir is not None:
        attrs['PATH_CONFIG_DIR'] = config_dir
    return type('SPConfigAt', (spconfig.SPConfig,), attrs)


def load(section: str | None = None, *,
         overrides: dict[str, str] | None = None,
         config_file: str | None = None,
         config_dir: str | None = None,
         use_env: bool = True,
         override_config: dict[str, str] | None = None,
         override_source: str | dict[str, str] = 'override'
         ) -> StorPoolConfig:
    """Read and validate the StorPool config for `section` (the host).

    `override_config` replaces the files and the environment altogether
    (as SPConfig's own argument does); `overrides` is applied on top of
    what the files and the environment say (e.g. a Cinder backend's own
    API endpoint); `override_source` names where they came from (one
    string, or one per key).
    """
    section = section or platform.node()
    if override_config is not None:
        values = dict(spconfig.DEFAULTS)
        values.update(override_config)
        files: tuple[str, ...] = ()
    else:
        reader = _reader(config_file, config_dir)
        files = tuple(reader.get_config_files(missing_ok=True))
        if not files:
            # Name the paths searched, for the error messages below.
            files = (f'{reader.PATH_CONFIG} (missing)',)
        try:
            # The environment is applied here, not by SPConfig, to know
            # which values it replaced.
            values = dict(reader(section=section, missing_ok=True,
                                 use_env=False).items())
        except (spconfig.SPConfigException, OSError) as exc:
            raise exception.ConfigError(
                f'cannot read the StorPool configuration: {exc}',
                files=files, section=section) from exc
    origins: dict[str, str] = {}
    if use_env and override_config is None:
        for key, val in spconfig.get_env_overrides().items():
            values[key] = val
            origins[key] = ENVIRONMENT
    for key, val in (overrides or {}).items():
        if val is not None and val != '':
            values[key] = str(val)
            origins[key] = (override_source.get(key, 'override')
                            if isinstance(override_source, dict)
                            else override_source)
    return _validate(values, section, files, origins)


def _validate(values: dict[str, str], section: str,
              files: tuple[str, ...],
              origins: dict[str, str]) -> StorPoolConfig:
    def where(key: str) -> str:
        if origins.get(key) == ENVIRONMENT:
            return 'from the environment'
        if key in origins:
            return f'from {origins[key]}'
        return f'read: {_where(files)}'

    token = values.get(TOKEN, '').strip()
    if not token:
        raise exception.ConfigError(
            f'{TOKEN} is not set (read: {_where(files)}); copy it from '
            f'/etc/storpool.conf of a StorPool node, or set the backend\'s '
            f'storpool_api_token option', key=TOKEN, files=files,
            section=section)
    host = values.get(HOST, '').strip()
    if not host:
        raise exception.ConfigError(
            f'{HOST} is empty ({where(HOST)}); set it to the address '
            f'of the StorPool API', key=HOST, files=files, section=section)
    raw_port = values.get(PORT, '')
    try:
        port = int(raw_port)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise exception.ConfigError(
            f'{PORT}="{raw_port}" ({where(PORT)}) is not a TCP port '
            f'number', key=PORT, files=files, section=section)
    prefix = values.get(PREFIX, '').strip() or names.DEFAULT_PREFIX
    if not prefix.replace('_', '').replace('-', '').isalnum() or \
            prefix.startswith('"'):
        raise exception.ConfigError(
            f'{PREFIX}="{prefix}" (read: {_where(files)}) may contain only '
            f'letters, digits, "_" and "-" (write config values unquoted)',
            key=PREFIX, files=files, section=section)
    return StorPoolConfig(api_host=host, api_port=port, auth_token=token,
                          volume_prefix=prefix, section=section, files=files,
                          raw_our_id=values.get(OURID),
                          origins=tuple(sorted(origins.items())))
