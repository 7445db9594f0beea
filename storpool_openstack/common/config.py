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
unnamed top section, then the section named after the host. The API
endpoint and token may be overridden (from cinder.conf, or by tests).
"""

import dataclasses
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


def parse_client_id(value: str | None, *, section: str,
                    files: tuple[str, ...]) -> int:
    """SP_OURID as an int in 1..4095, or a ConfigError that says why."""
    if value is None or not value.strip():
        raise exception.ConfigError(
            f'{OURID} is not set for host "{section}" (read: '
            f'{_where(files)}); add "{OURID}=<client id>" to the [{section}] '
            f'section of /etc/storpool.conf or to the top of '
            f'/etc/storpool.conf.d/*.conf on that host',
            key=OURID, files=files, section=section)
    try:
        client_id = int(value)
    except ValueError:
        client_id = -1
    if not 1 <= client_id <= MAX_CLIENT_ID:
        raise exception.ConfigError(
            f'{OURID}="{value}" for host "{section}" (read: {_where(files)}) '
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
         override_config: dict[str, str] | None = None) -> StorPoolConfig:
    """Read and validate the StorPool config for `section` (the host).

    `override_config` replaces the files and the environment altogether
    (as SPConfig's own argument does); `overrides` is applied on top of
    what the files say (e.g. a Cinder backend's own API endpoint).
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
            values = dict(reader(section=section, missing_ok=True,
                                 use_env=use_env).items())
        except (spconfig.SPConfigException, OSError) as exc:
            raise exception.ConfigError(
                f'cannot read the StorPool configuration: {exc}',
                files=files, section=section) from exc
    values.update({key: str(val) for key, val in (overrides or {}).items()
                   if val is not None and val != ''})
    return _validate(values, section, files)


def _validate(values: dict[str, str], section: str,
              files: tuple[str, ...]) -> StorPoolConfig:
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
            f'{HOST} is empty (read: {_where(files)}); set it to the address '
            f'of the StorPool API', key=HOST, files=files, section=section)
    raw_port = values.get(PORT, '')
    try:
        port = int(raw_port)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise exception.ConfigError(
            f'{PORT}="{raw_port}" (read: {_where(files)}) is not a TCP port '
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
                          raw_our_id=values.get(OURID))
