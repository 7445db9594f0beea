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

from typing import Callable

from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config as sp_config


def connect(*, config_file: str | None = None,
            config_dir: str | None = None, section: str | None = None,
            api_timeout: float = 30.0, api_retries: int = 1,
            secret_sink: Callable[[str], None] = lambda _s: None
            ) -> tuple[sp_config.StorPoolConfig, sp_api.StorPoolAPI]:
    """The host's StorPool config and an API client.

    The config comes from the files only, as the services read it (not
    from the environment); its token goes to `secret_sink` (the console's
    mask list) before any API call can print anything.
    """
    cfg = sp_config.load(section, config_file=config_file,
                         config_dir=config_dir, use_env=False)
    secret_sink(cfg.auth_token)
    return cfg, sp_api.from_config(cfg, timeout=api_timeout,
                                   retries=api_retries, retry_delay=0.5)
