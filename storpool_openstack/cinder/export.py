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
"""Snapshot attachments of the StorPool driver.

Cinder's backup service (``backup_use_temp_snapshot = True``, or a backup
of a snapshot) and any other user read a snapshot without a temporary
volume: `initialize_connection_snapshot` returns the connection info of a
volume with ``snapshot`` instead of ``volume``, always read-only. StorPool
attaches a snapshot to a host as it does a volume, so there is nothing to
export and nothing to undo in the driver: the connector on the host
attaches, records the user in the attach-state file, and detaches.

Only this package's connector reads ``snapshot``; os-brick's in-tree
StorPool connector knows ``volume`` only (see the README, "Backups").
"""

from typing import Any

from cinder.common import constants

SNAPSHOT_KEY = 'snapshot'


class SnapshotExportMixin:
    """Attach snapshots read-only (the driver's `_client_id` is used)."""

    def create_export_snapshot(self, context: Any, snapshot: Any,
                               connector: dict) -> None:
        """Nothing to export: the connector attaches it on the host."""

    def remove_export_snapshot(self, context: Any, snapshot: Any) -> None:
        """Nothing to undo."""

    def initialize_connection_snapshot(self, snapshot: Any,
                                       connector: dict,
                                       **kwargs: Any) -> dict:
        """client_id, snapshot (its Cinder id), access_mode 'ro'."""
        return {'driver_volume_type': constants.STORPOOL,
                'data': {'client_id': self._client_id(connector),
                         SNAPSHOT_KEY: snapshot['id'],
                         'access_mode': 'ro'}}

    def terminate_connection_snapshot(self, snapshot: Any,
                                      connector: dict,
                                      **kwargs: Any) -> None:
        """Nothing: the connector detaches on the host."""
