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
"""The one way to the StorPool API for everything in this package.

A thin layer over `storpool.spapi.Api`: one method per StorPool call,
answers as plain JSON data, errors as `common.exception` classes, and a
retry policy the caller chooses. The auth token lives only inside the
spapi object's request header; it is never logged or put in a message.
"""

import http.client
from typing import Any

from oslo_log import log as logging
from storpool import spapi
from storpool import spcatch

from storpool_openstack.common import config as sp_config
from storpool_openstack.common import exception

LOG = logging.getLogger(__name__)

# The client's defaults, and the Cinder driver's storpool_api_timeout and
# storpool_api_retries (cinder/options.py) take them from here.
DEFAULT_TIMEOUT = 300
DEFAULT_RETRIES = 5
DEFAULT_RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 16.0

Json = Any


class StorPoolAPI:
    """A StorPool API client with the package's error classes."""

    def __init__(self, cfg: sp_config.StorPoolConfig, *,
                 timeout: float = DEFAULT_TIMEOUT,
                 retries: int = DEFAULT_RETRIES,
                 retry_delay: float = DEFAULT_RETRY_DELAY,
                 multicluster: bool = True):
        self.endpoint = cfg.endpoint
        self._api = spapi.Api(
            host=cfg.api_host, port=cfg.api_port, auth=cfg.auth_token,
            timeout=timeout, transientRetries=retries,
            transientSleep=lambda attempt: min(retry_delay * 2 ** attempt,
                                               MAX_RETRY_DELAY),
            multiCluster=multicluster)

    def __repr__(self) -> str:
        return f'<StorPoolAPI {self.endpoint}>'

    def _call(self, method: str, *args: Json) -> Json:
        LOG.debug('StorPool API %s%r', method, args)
        try:
            return getattr(self._api, method)(*args, returnRawAPIData=True)
        except spapi.ApiError as err:
            raise exception.classify(
                method, err.name, err.desc, status=err.status,
                transient=err.transient) from None
        except spcatch.InvalidArgumentError as err:
            raise exception.InvalidParam(method, 'invalidParam',
                                         str(err)) from None
        except (OSError, http.client.HTTPException) as err:
            raise exception.APIConnectionError(
                method, self.endpoint, str(err) or type(err).__name__
            ) from None
        except ValueError as err:
            # A body that is not JSON: not a StorPool API at that address.
            raise exception.APIConnectionError(
                method, self.endpoint,
                f'the answer is not StorPool API JSON ({err})') from None

    # Volumes

    def volumes_list(self) -> list[dict]:
        return self._call('volumesList')

    def volume(self, name: str) -> dict:
        """One volume's summary (VolumesList fields), by name or ~globalId."""
        found = self._call('volumeList', name)
        if not found:
            raise exception.NotFound('volumeList', 'objectDoesNotExist',
                                     f'volume {name} does not exist')
        return found[0]

    def volume_info(self, name: str) -> dict:
        return self._call('volumeInfo', name)

    def volume_create(self, desc: dict) -> dict:
        return self._call('volumeCreate', desc)

    def volume_update(self, name: str, desc: dict) -> dict:
        return self._call('volumeUpdate', name, desc)

    def volume_delete(self, name: str) -> dict:
        return self._call('volumeDelete', name)

    def volume_revert(self, name: str, snapshot: str) -> dict:
        return self._call('volumeRevert', name, {'toSnapshot': snapshot})

    def volumes_space(self) -> list[dict]:
        return self._call('volumesSpace')

    # Snapshots

    def snapshot_create(self, volume: str, desc: dict) -> dict:
        return self._call('snapshotCreate', volume, desc)

    def snapshots_list(self) -> list[dict]:
        return self._call('snapshotsList')

    def snapshots_space(self) -> list[dict]:
        return self._call('snapshotsSpace')

    def snapshot(self, name: str) -> dict:
        found = self._call('snapshotList', name)
        if not found:
            raise exception.NotFound('snapshotList', 'objectDoesNotExist',
                                     f'snapshot {name} does not exist')
        return found[0]

    def snapshot_update(self, name: str, desc: dict) -> dict:
        return self._call('snapshotUpdate', name, desc)

    def snapshot_delete(self, name: str) -> dict:
        return self._call('snapshotDelete', name)

    def group_snapshot(self, volumes: list[dict],
                       tags: dict | None = None) -> dict:
        """Consistent snapshots of several volumes (VolumesGroupSnapshot)."""
        desc: dict = {'volumes': volumes}
        if tags:
            desc['tags'] = tags
        return self._call('snapshotCreateGroup', desc)

    # Attachments

    def volumes_reassign(self, items: list[dict]) -> dict:
        return self._call('volumesReassign', items)

    def volumes_reassign_wait(self, items: list[dict],
                              attach_timeout: int | None = None) -> dict:
        desc: dict = {'reassign': items}
        if attach_timeout is not None:
            desc['attachTimeout'] = attach_timeout
        return self._call('volumesReassignWait', desc)

    def attachments_list(self) -> list[dict]:
        return self._call('attachmentsList')

    # Cluster

    def templates_list(self) -> list[dict]:
        return self._call('volumeTemplatesList')

    def templates_status(self) -> list[dict]:
        return self._call('volumeTemplatesStatus')

    def disks_list(self) -> dict:
        return self._call('disksList')

    def placement_groups_list(self) -> dict:
        return self._call('placementGroupsList')

    def services_list(self) -> dict:
        return self._call('servicesList')

    def clients_config_dump(self) -> list[dict]:
        """Every client the cluster knows, with its configuration status."""
        return self._call('clientsConfigDump')

    # iSCSI (targets, initiators, exports, portal groups)

    def iscsi_config(self) -> dict:
        """GET iSCSIConfig: baseName, portalGroups, initiators, targets."""
        return self._call('iSCSIConfig')['iscsi']

    def iscsi_config_change(self, commands: list[dict]) -> dict:
        """POST iSCSIConfig: commands such as createTarget, export.

        Each command is a dict with one key, applied in order.
        """
        return self._call('iSCSIConfigChange', {'commands': commands})
