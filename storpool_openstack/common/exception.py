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
"""The package's own small exception hierarchy.

Everything that talks to StorPool raises these; the Cinder driver and the
os-brick connector translate them at their boundaries.
"""


class StorPoolError(Exception):
    """Base class of every error raised by storpool_openstack."""


class ConfigError(StorPoolError):
    """The StorPool configuration is missing or invalid.

    The message always names the file(s), the section and the key, and
    says how to fix it.
    """

    def __init__(self, message: str, *, key: str | None = None,
                 files: tuple[str, ...] = (), section: str | None = None):
        super().__init__(message)
        self.key = key
        self.files = files
        self.section = section


class APIConnectionError(StorPoolError):
    """The StorPool API could not be reached at all."""

    def __init__(self, call: str, endpoint: str, reason: str):
        super().__init__(
            f'StorPool API {call}: cannot reach the API at {endpoint}: '
            f'{reason}; check SP_API_HTTP_HOST/SP_API_HTTP_PORT and that '
            f'the storpool_mgmt service is running')
        self.call = call
        self.endpoint = endpoint
        self.reason = reason


class APIError(StorPoolError):
    """The StorPool API answered a call with an error object."""

    def __init__(self, call: str, name: str, desc: str, *,
                 status: int | None = None, transient: bool = False):
        super().__init__(f'StorPool API {call} failed: {name}: {desc}')
        self.call = call
        self.name = name
        self.desc = desc
        self.status = status
        self.transient = transient


class NotFound(APIError):
    """objectDoesNotExist: the volume, snapshot or template is not there."""


class AlreadyExists(APIError):
    """objectExists: an object of that name is already there."""


class Busy(APIError):
    """The volume is still open on a client ("is open at client N")."""


class InvalidParam(APIError):
    """The request was refused as invalid, by the client or by StorPool."""


class TransientError(APIError):
    """StorPool said the failure is temporary, and retries ran out."""


def classify(call: str, name: str, desc: str, *, status: int | None = None,
             transient: bool = False) -> APIError:
    """Map a StorPool error object onto the most specific class."""
    if name == 'objectDoesNotExist':
        cls = NotFound
    elif name == 'objectExists':
        cls = AlreadyExists
    elif name in ('busy', 'invalidParam') and 'is open at' in desc:
        cls = Busy
    elif transient:
        cls = TransientError
    elif name == 'invalidParam':
        cls = InvalidParam
    else:
        cls = APIError
    return cls(call, name, desc, status=status, transient=transient)
