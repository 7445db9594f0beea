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
"""What the doctor's check families share: options, results, state.

Each family of checks (``doctor_storpool``, ``doctor_cinder``,
``doctor_attach``, ``doctor_host``) is a mixin of :class:`DoctorBase`,
whose attributes are what one check leaves for the later ones (the
StorPool config, the API, the cinder.conf backends).
"""

import dataclasses
import os
import sys
from typing import Callable

from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config as sp_config
from storpool_openstack.common import names

PASS = 'pass'
FAIL = 'fail'
SKIP = 'skip'


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


def conf_files(opts: DoctorOptions) -> tuple[str, list[str]]:
    main = opts.config_file or '/etc/storpool.conf'
    conf_dir = opts.config_dir or main + '.d'
    extra = []
    if os.path.isdir(conf_dir):
        extra = [os.path.join(conf_dir, name)
                 for name in sorted(os.listdir(conf_dir))
                 if name.endswith('.conf') and not name.startswith('.')]
    return main, extra


@dataclasses.dataclass
class Backend:
    section: str
    options: dict[str, str]
    valid: bool = True

    def get(self, key: str) -> str | None:
        value = self.options.get(key)
        return value.strip() if isinstance(value, str) else value


class DoctorBase:
    """The state the checks share; each check family is a subclass."""

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
        self.backends: list[Backend] = []
        # Backend section -> the template names of that backend's cluster.
        self.backend_templates: dict[str, set[str]] = {}
        self.checks: list[Check] = []
