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
"""The StorPool config and API client of the operator's subcommands."""

from typing import Any, Callable

from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config as sp_config
from storpool_openstack.common import exception


def is_auth_error(exc: exception.APIError) -> bool:
    """StorPool refused the token (not the request)."""
    return 'auth' in (exc.name or '').lower() or exc.status in (401, 403)


class OperatorAPI(sp_api.StorPoolAPI):
    """The API client of the subcommands.

    A refused token says where the token was read and how to fix it, not
    only StorPool's error name.
    """

    def __init__(self, cfg: sp_config.StorPoolConfig, **kwargs: Any):
        super().__init__(cfg, **kwargs)
        self._token_origin = cfg.origin(sp_config.TOKEN)

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return super()._call(method, *args)
        except exception.APIError as exc:
            if not is_auth_error(exc):
                raise
            raise exception.APIError(
                exc.call, exc.name,
                f'{exc.desc}: the StorPool API at {self.endpoint} refused '
                f'the token from {self._token_origin}; copy SP_AUTH_TOKEN '
                f'from /etc/storpool.conf of a StorPool node (or run '
                f'"storpool-openstack doctor")', status=exc.status) from None


def connect(*, config_file: str | None = None,
            config_dir: str | None = None, section: str | None = None,
            api_timeout: float = 30.0, api_retries: int = 1,
            secret_sink: Callable[[str], None] = lambda _s: None
            ) -> tuple[sp_config.StorPoolConfig, sp_api.StorPoolAPI]:
    """The host's StorPool config and an API client.

    The config is read exactly as the services read it (the files, then
    the SP_* environment variables); its token goes to `secret_sink` (the
    console's mask list) before any API call can print anything.
    """
    cfg = sp_config.load(section, config_file=config_file,
                         config_dir=config_dir)
    secret_sink(cfg.auth_token)
    return cfg, OperatorAPI(cfg, timeout=api_timeout, retries=api_retries,
                            retry_delay=0.5)
