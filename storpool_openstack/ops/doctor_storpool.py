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
"""The doctor's checks of the StorPool config and API from this host.

The config is read as the services read it (the files, then the SP_*
environment variables); the API token goes to the caller's scrubber and
never into a message. The API client fails fast: no retries, a short
timeout.
"""

import os

from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config as sp_config
from storpool_openstack.common import exception
from storpool_openstack.ops import client
from storpool_openstack.ops import doctor_base

# The result of a check, as every family writes it.
Check = doctor_base.Check
PASS = doctor_base.PASS
FAIL = doctor_base.FAIL
SKIP = doctor_base.SKIP


class StorPoolChecks(doctor_base.DoctorBase):
    """The StorPool config, SP_OURID, the API and this host as a client."""

    def check_config(self) -> Check:
        title = 'StorPool config'
        main, extra = doctor_base.conf_files(self.opts)
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
                        doctor_base.conf_files(self.opts)[0])
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
