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

"""The StorPool clients whose block devices the emulator makes.

The emulator's own client (``--client-id``) makes its devices under
``--dev-dir``. Further local clients (``--extra-client ID:DIR``) stand
for other hosts on the same machine, e.g. the source and the destination
of a live migration: each makes the devices of its attachments under its
own directory. Attachments to any other client id exist in the model
only, as before.

`LocalClients` keeps the `DeviceManager` interface of the emulator's own
client (what the model and the tests have always used) and applies the
by-name operations (resize, rename, flush, close) to every local client.
It also carries the "lost device" fault: the next attaches record the
attachment but no device appears, as when a host's StorPool client
never makes the device node.
"""

import threading
import typing

from storpool_openstack.emulator import devices as sp_devices


class LocalClients:
    """The device managers of the local StorPool clients, by client id."""

    def __init__(self, primary: sp_devices.DeviceManager) -> None:
        self.primary = primary
        self._by_client: dict[int, sp_devices.DeviceManager] = {
            primary.client_id: primary}
        self._lock = threading.Lock()
        # None: off; -1: every attach; N > 0: the next N attaches.
        self._lose: int | None = None

    # -- the emulator's own client, as before --------------------------------
    @property
    def client_id(self) -> int:
        return self.primary.client_id

    @property
    def mode(self) -> str:
        return self.primary.mode

    @property
    def dev_dir(self) -> str:
        return self.primary.dev_dir

    @property
    def by_name(self) -> str:
        return self.primary.by_name

    @property
    def by_id(self) -> str:
        return self.primary.by_id

    def name_path(self, name: str) -> str:
        return self.primary.name_path(name)

    def id_path(self, global_id: str) -> str:
        return self.primary.id_path(global_id)

    def get(self, name: str) -> sp_devices.Device | None:
        """The device of ``name`` on the own client, else on any other."""
        for mgr in self.managers():
            dev = mgr.get(name)
            if dev is not None:
                return dev
        return None

    def names(self) -> list[str]:
        return self.primary.names()

    def holders(self, name: str) -> list[int]:
        return self.primary.holders(name)

    @property
    def ignored_holders(self) -> typing.Callable[[], set[int]]:
        """Processes that hold devices open but are no native user.

        (The emulator's tgtd.)  Set once, it applies to every local
        client's devices, those added later included.
        """
        return self.primary.ignored_holders

    @ignored_holders.setter
    def ignored_holders(self,
                        pids: typing.Callable[[], set[int]]) -> None:
        for mgr in self.managers():
            mgr.ignored_holders = pids

    def attach(self, name: str, global_id: str, backing: str,
               readonly: bool) -> sp_devices.Device | None:
        return self.attach_for(self.client_id, name, global_id, backing,
                               readonly)

    def detach(self, name: str, force: bool = False) -> None:
        self.primary.detach(name, force)

    # -- every local client --------------------------------------------------
    def add_client(self, client_id: int, dev_dir: str) -> None:
        """Make ``client_id`` a local client with devices under dev_dir."""
        if client_id in self._by_client:
            raise ValueError(
                f'client {client_id} already has its devices under '
                f'{self._by_client[client_id].dev_dir}')
        mgr = sp_devices.DeviceManager(dev_dir, self.primary.mode, client_id)
        mgr.ignored_holders = self.primary.ignored_holders
        self._by_client[client_id] = mgr

    def for_client(self, client_id: int
                   ) -> sp_devices.DeviceManager | None:
        """The device manager of a local client; None for a remote one."""
        return self._by_client.get(client_id)

    def managers(self) -> list[sp_devices.DeviceManager]:
        return [self._by_client[c] for c in sorted(self._by_client)]

    def clients(self) -> dict[int, str]:
        """{client id: device directory} of every local client."""
        return {c: m.dev_dir for c, m in sorted(self._by_client.items())}

    def attach_for(self, client_id: int, name: str, global_id: str,
                   backing: str, readonly: bool
                   ) -> sp_devices.Device | None:
        mgr = self._by_client[client_id]
        if mgr.get(name) is None and self._take_lost():
            return None  # the fault: attached, but no device appears
        return mgr.attach(name, global_id, backing, readonly)

    def resize(self, name: str) -> None:
        for mgr in self.managers():
            mgr.resize(name)

    def rename(self, old: str, new: str) -> None:
        for mgr in self.managers():
            mgr.rename(old, new)

    def flush(self, name: str) -> None:
        for mgr in self.managers():
            mgr.flush(name)

    def describe(self) -> list[dict]:
        res = []
        for mgr in self.managers():
            for item in mgr.describe():
                item['client'] = mgr.client_id
                res.append(item)
        return res

    def close(self) -> None:
        for mgr in self.managers():
            mgr.close()

    # -- the lost-device fault ---------------------------------------------
    def lose_devices(self, count: int | None) -> None:
        """The next ``count`` new devices never appear (None: all, 0: off)."""
        with self._lock:
            if count is None:
                self._lose = -1
            elif count <= 0:
                self._lose = None
            else:
                self._lose = int(count)

    def lost_devices(self) -> int | None:
        """How many more devices will not appear (-1: all; None: off)."""
        with self._lock:
            return self._lose

    def _take_lost(self) -> bool:
        with self._lock:
            if self._lose is None:
                return False
            if self._lose > 0:
                self._lose -= 1
                if self._lose == 0:
                    self._lose = None
            return True
