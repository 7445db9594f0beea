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

"""A volume or a snapshot of the emulated cluster, as the model keeps it.

Plain attributes in the model's own naming; the cluster renders them as
StorPool's JSON and ``persist`` saves them. Assigning a counted attribute
updates the template counters (:class:`accounting.Counted`).
"""

import time

from storpool_openstack.emulator import accounting


class Record(accounting.Counted):
    """A volume or a snapshot."""

    def __init__(self, kind: str, name: str, vid: int, gid: str,
                 size: int, data: str) -> None:
        self.kind = kind
        self.name = name
        self.vid = vid
        self.gid = gid
        self.size = size
        self.data = data
        self.created = int(time.time())
        self.parent: int | None = None
        self.template = ''
        self.replication = 3
        self.place_all = self.place_tail = self.place_head = 'default'
        self.iops: int | str = '-'
        self.bw: int | str = '-'
        self.limit_type: str | None = None
        self.reuse_server = False
        self.tags: dict[str, str] = {}
        # snapshots only
        self.on_volume = ''
        self.auto_name = False
        self.bound = False
        self.deleted = False
        self.transient = False
        self.target_delete_date: int | None = None

    @property
    def is_snapshot(self) -> bool:
        return self.kind == 'snapshot'

    def copy_policy(self, other: 'Record') -> None:
        self.template = other.template
        self.replication = other.replication
        self.place_all = other.place_all
        self.place_tail = other.place_tail
        self.place_head = other.place_head
        self.iops = other.iops
        self.bw = other.bw
        self.limit_type = other.limit_type
        self.reuse_server = other.reuse_server
