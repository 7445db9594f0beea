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
"""Cinder's real services in this process, from Cinder's public modules.

`Cinder` writes a cinder.conf the way the README tells an operator to
(``enabled_backends = storpool`` and a ``[storpool]`` backend section with
StorPoolDriver), then starts what cinder-api, cinder-scheduler and
cinder-volume start, each with `cinder.service`, all in this process: the
database is an in-memory sqlite built by Cinder's own migrations, the
message bus is oslo.messaging's ``fake:`` transport, and the REST API is
the WSGI app of Cinder's api-paste.ini with ``auth_strategy = noauth``.
Nothing here comes from ``cinder.tests``.

Importing this module monkey-patches the process with eventlet, as
Cinder's own service scripts do first thing.
"""

try:
    # Cinder 29 (2026.2): patch as its own service scripts do.
    from cinder import monkey_patch  # noqa: I100 (Cinder wants this first)
except ImportError:
    # Cinder 26-28 (2025.1-2026.1) have no cinder.monkey_patch: their
    # service scripts call eventlet directly.
    import eventlet
    eventlet.monkey_patch()
else:
    monkey_patch.patch()

import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from oslo_config import cfg  # noqa: E402

from cinder.common import config as cinder_config  # noqa: E402
from cinder import context  # noqa: E402
from cinder import coordination  # noqa: E402
from cinder.db import migration  # noqa: E402
from cinder import objects  # noqa: E402
from cinder import rpc  # noqa: E402
from cinder import service  # noqa: E402
from cinder import version  # noqa: E402

from storpool_openstack.demo import images  # noqa: E402

CONF = cfg.CONF
BACKEND = 'storpool'
DRIVER = 'storpool_openstack.cinder.driver.StorPoolDriver'
API_VERSION = '3.64'
READY_TIMEOUT = 60.0


def cinder_etc_file(name: str) -> str:
    """A file of Cinder's etc/cinder (the wheel puts it under sys.prefix)."""
    path = os.path.join(sys.prefix, 'etc', 'cinder', name)
    if not os.path.exists(path):
        raise RuntimeError(f'{path} not found: the demo needs Cinder '
                           f'installed from its wheel in this Python '
                           f'({sys.prefix})')
    return path


def cinder_conf(work_dir: str, *, storpool_conf: str, dev_root: str,
                attach_state_file: str) -> str:
    """cinder.conf for the demo's services."""
    lines = f'''\
[DEFAULT]
enabled_backends = {BACKEND}
transport_url = fake:/
auth_strategy = noauth
api_paste_config = {cinder_etc_file("api-paste.ini")}
resource_query_filters_file = {cinder_etc_file("resource_filters.json")}
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = 0
osapi_volume_workers = 1
state_path = {work_dir}
image_conversion_dir = {os.path.join(work_dir, "conversion")}
# A driver with pools is "first received" by the scheduler only at its
# second stats report (periodic_interval, 60 s); do not wait for it.
scheduler_driver_init_wait_time = 1

[database]
connection = sqlite://

[oslo_concurrency]
lock_path = {os.path.join(work_dir, "locks")}

[coordination]
backend_url = file://{os.path.join(work_dir, "coordination")}

[{BACKEND}]
volume_driver = {DRIVER}
volume_backend_name = {BACKEND}
storpool_config_file = {storpool_conf}
storpool_dev_root = {dev_root}
storpool_attach_state_file = {attach_state_file}
storpool_api_retries = 1
storpool_api_timeout = 30
'''
    path = os.path.join(work_dir, 'cinder.conf')
    with open(path, 'w') as fobj:
        fobj.write(lines)
    return path


class Cinder:
    """cinder-api, cinder-scheduler and cinder-volume in this process.

    `start()` returns when the scheduler knows the StorPool backend;
    `stop()` stops the services.  ``endpoint`` is the volume API's v3 URL
    and ``images`` the image service Cinder uses.
    """

    def __init__(self, work_dir: str, *, storpool_conf: str, dev_root: str,
                 attach_state_file: str):
        self.work_dir = work_dir
        for sub in ('conversion', 'locks', 'coordination', 'images'):
            os.makedirs(os.path.join(work_dir, sub), exist_ok=True)
        self.conf_path = cinder_conf(
            work_dir, storpool_conf=storpool_conf, dev_root=dev_root,
            attach_state_file=attach_state_file)
        self.images = images.DirectoryImageService(
            os.path.join(work_dir, 'images'))
        self.services: list = []
        self._undo: list = []

    def start(self) -> None:
        objects.register_all()
        cinder_config.set_middleware_defaults()
        CONF([], project='cinder', version=version.version_string(),
             default_config_files=[self.conf_path])
        self._use_image_service()
        self._run_privileged_here()
        migration.db_sync()
        rpc.init(CONF)
        self._undo.append(rpc.cleanup)
        coordination.COORDINATOR.start()
        self._undo.append(coordination.COORDINATOR.stop)

        # What cinder-volume, cinder-scheduler and cinder-api start.
        self.volume = self._start(service.Service.create(
            host=f'{CONF.host}@{BACKEND}', service_name=BACKEND,
            binary='cinder-volume'))
        self.scheduler = self._start(service.Service.create(
            binary='cinder-scheduler'))
        self.api = self._start(service.WSGIService('osapi_volume'))
        self.endpoint = f'http://{self.api.host}:{self.api.port}/v3'
        self._wait_for_backend()

    def _start(self, svc):
        svc.start()
        self.services.append(svc)
        return svc

    def _use_image_service(self) -> None:
        """Cinder asks `glance` for its image service: hand out ours.

        The demo has no Glance; Cinder has no option for another image
        service, so the one function it asks is pointed at ours.
        """
        # Imported here: cinder.image.glance imported before the service
        # modules hits a circular import inside Cinder.
        from cinder.image import glance

        original = glance.get_default_image_service
        glance.get_default_image_service = lambda: self.images

        def undo():
            glance.get_default_image_service = original

        self._undo.append(undo)

    def _run_privileged_here(self) -> None:
        """Run Cinder's privileged helpers in this process.

        They go through a privsep daemon started with sudo and
        cinder-rootwrap, which a demo machine does not have; the demo
        runs as the user who started it (root for loop devices).
        """
        import cinder.privsep

        cinder.privsep.sys_admin_pctxt.set_client_mode(False)
        self._undo.append(
            lambda: cinder.privsep.sys_admin_pctxt.set_client_mode(True))

    def _wait_for_backend(self) -> None:
        """Have the volume service report its pool to the scheduler now."""
        self.volume.manager.publish_service_capabilities(
            context.get_admin_context())
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.scheduler.manager.driver.is_ready():
            if time.monotonic() > deadline:
                raise RuntimeError('the scheduler got no capabilities from '
                                   'the volume service; see the Cinder log')
            time.sleep(0.05)

    def stop(self) -> None:
        errors = []
        for svc in reversed(self.services):
            try:
                svc.stop()
                svc.wait()
            except Exception as exc:  # stop the others anyway
                errors.append(f'{svc}: {exc}')
        self.services.clear()
        while self._undo:
            self._undo.pop()()
        if errors:
            raise RuntimeError('stopping the Cinder services: '
                               + '; '.join(errors))
