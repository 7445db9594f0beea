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
"""The one guard for tests that need root.

Loop block devices, groupadd/usermod in a scratch prefix and a child
process dropped to another user need root. Such a test skips with a
reason that names root and says how to run it, so a run as a normal user
shows what it did not cover instead of failing on EPERM.
"""

import os

import testtools

HOW = 'run the tests as root (e.g. sudo tox -e py3)'


def is_root() -> bool:
    return os.geteuid() == 0


def reason(what: str) -> str:
    """The skip reason: `what` needs root, and how to run it."""
    return f'needs root: {what}; {HOW}'


def needs_root(what: str):
    """A decorator for a test or a class that cannot run without root."""
    return testtools.skipUnless(is_root(), reason(what))


def skip_unless_root(test: testtools.TestCase, what: str) -> None:
    """Skip `test` (from inside it or its setUp) unless we are root."""
    if not is_root():
        test.skipTest(reason(what))
