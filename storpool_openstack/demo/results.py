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
"""What one step of the demo did: the story makes them, the runner shows them.

A module of its own so that the runner and the story do not import each
other.
"""

import collections
import dataclasses

OK = 'ok'
FAILED = 'failed'
SKIPPED = 'skipped'


@dataclasses.dataclass
class StepResult:
    title: str
    status: str
    seconds: float
    calls: list[str]
    detail: str = ''


class StepSkipped(Exception):
    """The step cannot run; the message says why (shown to the user)."""


def count_calls(calls: list[str]) -> str:
    """`VolumeCreate, VolumesList x2` in order of first appearance."""
    if not calls:
        return 'no StorPool calls'
    counted = collections.Counter(calls)
    parts = []
    for name in dict.fromkeys(calls):
        parts.append(name if counted[name] == 1
                     else f'{name} x{counted[name]}')
    return ', '.join(parts)
