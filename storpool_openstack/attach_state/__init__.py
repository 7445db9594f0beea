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
"""The per-host attach-state JSON manager (AttachDB-compatible).

See `store` for the file protocol, `entries` for the data model and the
reference counts, and `reconcile` for `sync` with StorPool.
"""

from storpool_openstack.attach_state.entries import is_snapshot  # noqa
from storpool_openstack.attach_state.entries import make_entry  # noqa
from storpool_openstack.attach_state.entries import RIGHTS_RO  # noqa
from storpool_openstack.attach_state.entries import RIGHTS_RW  # noqa
from storpool_openstack.attach_state.entries import users_of  # noqa
from storpool_openstack.attach_state.entries import volumes  # noqa
from storpool_openstack.attach_state.entries import wanted_rights  # noqa
from storpool_openstack.attach_state.reconcile import \
    entries_from_attachments  # noqa
from storpool_openstack.attach_state.reconcile import REBUILT_KIND  # noqa
from storpool_openstack.attach_state.reconcile import sync  # noqa
from storpool_openstack.attach_state.reconcile import SyncResult  # noqa
from storpool_openstack.attach_state.store import AttachState  # noqa
from storpool_openstack.attach_state.store import AttachStateError  # noqa
from storpool_openstack.attach_state.store import \
    AttachStateLockTimeout  # noqa
from storpool_openstack.attach_state.store import lock_holders  # noqa
