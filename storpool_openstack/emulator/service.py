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

"""One running emulator: the cluster model behind an HTTP server.

Used by the ``storpool-emulator`` command and by the test fixture's
in-process mode.
"""

import errno
import ipaddress
import os
import secrets
import threading
import typing

from oslo_log import log as logging

from storpool_openstack.emulator import faults as sp_faults
from storpool_openstack.emulator import model
from storpool_openstack.emulator import persist as sp_persist
from storpool_openstack.emulator import wire

LOG = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """Is ``host`` a loopback address (or 'localhost')?"""
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    """A token shaped like StorPool's (a 19-digit number)."""
    return str(secrets.randbelow(9 * 10 ** 18) + 10 ** 18)


def config_text(config: dict[str, str]) -> str:
    """storpool.conf lines; values unquoted, as both readers need."""
    return ''.join(f'{key}={value}\n'
                   for key, value in config.items())


class Emulator:
    """A StorPool API emulator listening on ``host:port``."""

    def __init__(self, state_dir: str, host: str = '127.0.0.1',
                 port: int = 0, dev_dir: str = '/dev',
                 token: str | None = None, client_id: int = 1,
                 device_mode: str = 'auto', templates: typing.Any = None,
                 volume_prefix: str = 'os',
                 allow_remote: bool = False,
                 iscsi_target: str = 'auto',
                 extra_clients: dict[int, str] | None = None,
                 persist: bool = False) -> None:
        """An emulator; see the class.

        `persist`: load the cluster saved in `state_dir` (if any) and save
        it there after every change (see emulator.persist).
        """
        if not allow_remote and not is_loopback(host):
            raise ValueError('refusing to listen on non-loopback address '
                             f'{host} without allow_remote')
        os.makedirs(state_dir, exist_ok=True)
        self.state_dir = state_dir
        self.token = token or new_token()
        self.client_id = int(client_id)
        self.volume_prefix = volume_prefix
        self.cluster = model.Cluster(state_dir, dev_dir=dev_dir,
                                     device_mode=device_mode,
                                     client_id=self.client_id,
                                     templates=templates,
                                     iscsi_target=iscsi_target)
        try:
            for client, client_dev_dir in (extra_clients or {}).items():
                self.cluster.add_local_client(client, client_dev_dir)
        except Exception:
            self.cluster.close()
            raise
        self.saver: sp_persist.Saver | None = None
        if persist:
            try:
                sp_persist.load(self.cluster, state_dir)
            except sp_persist.StateError as exc:
                self.cluster.close()
                raise RuntimeError(str(exc)) from None
            self.saver = sp_persist.Saver(self.cluster, state_dir)
        self.faults = sp_faults.FaultInjector()
        self.calls = sp_faults.CallLog()
        try:
            self.server = wire.EmulatorHTTPServer(
                (host, port), self.cluster, self.token, self.faults,
                self.calls, self.info)
        except OSError as exc:
            self.cluster.close()
            if exc.errno == errno.EADDRINUSE:
                raise OSError(exc.errno, f'cannot listen on {host} port '
                              f'{port}: the port is already in use (pick '
                              'another --port, or 0 for any free port)'
                              ) from None
            raise
        except Exception:
            self.cluster.close()
            raise
        if self.saver is not None:
            # Between requests, the server loop's idle hook.
            self.server.service_actions = self.saver
        self.host = host
        self.port = self.server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f'http://{self.host}:{self.port}'

    @property
    def device_mode(self) -> str:
        return self.cluster.devices.mode

    @property
    def dev_dir(self) -> str:
        return self.cluster.devices.dev_dir

    def info(self) -> dict:
        return {'host': self.host, 'port': self.port,
                'clientId': self.client_id,
                'deviceMode': self.device_mode, 'devDir': self.dev_dir,
                'stateDir': self.state_dir,
                'volumePrefix': self.volume_prefix,
                'iscsiTarget': self.cluster.iscsi.mode,
                'iscsiWhyNotTgtd': self.cluster.iscsi.why_not,
                'generation': self.cluster.generation,
                'localClients': {str(c): d for c, d in
                                 self.cluster.devices.clients().items()}}

    def config(self) -> dict[str, str]:
        """The storpool.conf keys a client needs to reach this emulator."""
        return {'SP_API_HTTP_HOST': self.host,
                'SP_API_HTTP_PORT': str(self.port),
                'SP_AUTH_TOKEN': self.token,
                'SP_OURID': str(self.client_id),
                'SP_OPENSTACK_VOLUME_PREFIX': self.volume_prefix}

    def write_config(self, path: str) -> None:
        tmp = path + '.tmp'
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as fobj:
            fobj.write(config_text(self.config()))
        os.rename(tmp, path)

    def listen_line(self) -> str:
        """The one line the command prints (never the token)."""
        return (f'storpool-emulator listening on {self.url} (device mode: '
                f'{self.device_mode}, state: {self.state_dir})')

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={'poll_interval': 0.02},
                                        name='storpool-emulator',
                                        daemon=True)
        self._thread.start()

    def serve_forever(self) -> None:
        self.server.serve_forever(poll_interval=0.02)

    def shutdown(self) -> None:
        """Stop serving (from another thread) without cleaning up."""
        self.server.shutdown()

    def stop(self) -> None:
        """Stop serving and remove every device and loop device."""
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(10)
            self._thread = None
        self.server.server_close()
        if self.saver is not None:
            self.saver()
        self.cluster.close()
