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
"""Which id names a Cinder volume's data in StorPool, without the database.

A volume's StorPool name comes from its ``name_id``: its own id, or after
a migration that could not rename the data, the id in ``_name_id``.  A
snapshot only carries its ``volume_id``; reading ``snapshot.volume`` is a
database load of the whole volume (its type, metadata, attachments), which
cost more than the StorPool call itself.

So the driver remembers the ``name_id`` of every volume it has handled.
That is exact, not a guess: a volume's ``_name_id`` changes only at the
end of a migration *to* this backend, through this driver's
``update_migrated_volume`` (whose answer Cinder stores as is), and every
backend runs in a process of its own.  Not so in an active-active cluster,
where another service of the backend may run that migration: there the
driver does not use this table.  A volume not seen since the
service started (or pushed out of the bounded table) is loaded from the
database once, as before.
"""

import collections
import threading
from typing import Any

MAX_ENTRIES = 100_000  # about 20 MB at worst


class NameIds:
    """volume id -> name id, for the volumes this process has handled."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max = max_entries
        self._ids: collections.OrderedDict[str, str] = \
            collections.OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ids)

    def get(self, volume_id: str) -> str | None:
        with self._lock:
            name_id = self._ids.get(volume_id)
            if name_id is not None:
                self._ids.move_to_end(volume_id)
            return name_id

    def set(self, volume_id: str, name_id: str | None) -> None:
        """Record where `volume_id`'s data is (None: under its own id)."""
        with self._lock:
            self._ids[volume_id] = name_id or volume_id
            self._ids.move_to_end(volume_id)
            while len(self._ids) > self._max:
                self._ids.popitem(last=False)

    def seen(self, volume: Any) -> None:
        """Record a Volume object's name id, if it has one loaded."""
        try:
            if not volume.obj_attr_is_set('_name_id'):
                return
            self.set(volume.id, volume._name_id)
        except AttributeError:
            return  # not a Volume object (a dict in some code paths)

    def forget(self, volume_id: str) -> None:
        with self._lock:
            self._ids.pop(volume_id, None)
