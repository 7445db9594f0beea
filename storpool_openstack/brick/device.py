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
"""Waiting for block devices on the local host.

StorPool's client creates the device nodes shortly after the API call that
attaches a volume returns, and picks up a new size shortly after a resize.
Waiting is short exponential polling: the first check is immediate, so the
common case (the node is already there) costs one stat() and no sleep.
"""

import os
import time
from typing import Callable, TypeVar

T = TypeVar('T')

FIRST_DELAY = 0.001
MAX_DELAY = 0.05


def poll(check: Callable[[], T | None], timeout: float, *,
         first_delay: float = FIRST_DELAY,
         max_delay: float = MAX_DELAY) -> T | None:
    """check() until it returns something not None, at most `timeout` s.

    Returns that value, or None when the time ran out (after one last
    check at the deadline).
    """
    deadline = time.monotonic() + timeout
    delay = first_delay
    while True:
        value = check()
        if value is not None:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(delay, left))
        delay = min(delay * 2, max_delay)


def exists(path: str) -> bool:
    """Whether the device (following the StorPool symlink) is there."""
    return os.path.exists(path)


def wait_for_device(path: str, timeout: float) -> bool:
    """Wait until `path` exists; False on timeout."""
    return poll(lambda: True if exists(path) else None, timeout) is not None


def size_of(path: str) -> int:
    """The size in bytes of a block device (or file), without root.

    Opening the device read-only and seeking to its end is what blockdev
    does, minus the process and the root helper. Raises OSError (e.g.
    PermissionError when the service may not open the device).
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)
