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
"""The connector's errors, as os-brick exceptions.

os-brick's callers (Nova, Cinder) catch BrickException; every failure of
the connector reaches them as one of these, with the StorPool error that
caused it chained (``__cause__``) and named in the message.
"""

from os_brick import exception as brick_exception


class StorPoolBrickError(brick_exception.BrickException):
    """Base class of the StorPool connector's errors."""

    message = 'StorPool connector: %(reason)s'


class StorPoolConfigError(StorPoolBrickError):
    """The host's StorPool configuration is missing or invalid."""

    message = 'StorPool connector: bad StorPool configuration: %(reason)s'


class InvalidConnectionProperties(StorPoolBrickError,
                                  brick_exception.InvalidParameterValue):
    """The connection properties do not describe a StorPool volume."""

    message = ('Invalid StorPool connection properties: %(reason)s')


class StorPoolAPIFailure(StorPoolBrickError):
    """A StorPool API call failed (the reason names the call)."""

    message = 'StorPool connector: %(action)s failed: %(reason)s'


class VolumeBusy(StorPoolBrickError):
    """StorPool refused a detach: the device is still open on this host."""

    message = ('StorPool volume %(name)s is still open on this host (client '
               '%(client)s) after %(tries)d detach attempts: %(reason)s; '
               'close whatever uses %(path)s and retry, or disconnect with '
               'force=True')


class AttachStateFailure(StorPoolBrickError):
    """The attach-state file could not be locked, read or written."""

    message = ('StorPool connector: the attach-state file %(path)s: '
               '%(reason)s')


class DeviceNeverAppeared(StorPoolBrickError,
                          brick_exception.VolumeDeviceNotFound):
    """StorPool attached the volume, but no device came in time.

    A VolumeDeviceNotFound, as os-brick's callers expect; the message says
    what was undone and where to look.
    """

    message = ('Volume device not found at %(device)s: StorPool attached '
               '%(name)s to client %(client)s but the device did not appear '
               'within %(timeout).1f s (device_timeout); %(undone)s. Check '
               'that the StorPool block service runs on this '
               'host and that SP_OURID (%(client)s) is this host\'s client '
               'id')


class DeviceSizeMismatch(StorPoolBrickError):
    """The block device did not show the volume's new size in time."""

    message = ('StorPool volume %(name)s is %(expected)d bytes but its '
               'device %(path)s still shows %(actual)s bytes after '
               '%(timeout).1f s')
