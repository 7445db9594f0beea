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
"""Options of the StorPool os-brick connector (``[storpool_connector]``).

The connector runs inside whatever service loads it (nova-compute, or
cinder-volume for its own local attaches), so the options live in that
service's configuration file, in the ``[storpool_connector]`` group.

The group was ``[storpool]`` before: the name the README gives the Cinder
backend section too, so in cinder.conf one section mixed the backend's
``storpool_*`` options and the connector's (``storpool_api_timeout`` 300 s
beside ``api_timeout`` 120 s).  A group of its own, named for what it
configures, cannot be taken for a backend; every option keeps
``deprecated_group='storpool'`` so that existing nova.conf files keep
working (oslo.config logs a deprecation warning for them).
"""

from oslo_config import cfg

from storpool_openstack.common import names

GROUP = 'storpool_connector'
DEPRECATED_GROUP = 'storpool'

connector_opts = [
    cfg.StrOpt('config_file',
               deprecated_group=DEPRECATED_GROUP,
               help='The StorPool configuration file to read (SP_OURID, '
                    'SP_API_HTTP_HOST, SP_API_HTTP_PORT, SP_AUTH_TOKEN, '
                    'SP_OPENSTACK_VOLUME_PREFIX), then <config_file>.d/'
                    '*.conf (as the Cinder driver\'s storpool_config_file); '
                    '/etc/storpool.conf.d is not read then. Unset: '
                    '/etc/storpool.conf and /etc/storpool.conf.d/*.conf, as '
                    'every StorPool tool reads them.'),
    cfg.StrOpt('attach_state_file',
               deprecated_group=DEPRECATED_GROUP,
               default=names.ATTACH_STATE_FILE,
               help='The JSON file that records which OpenStack users of '
                    'this host need which StorPool volume attached. It is '
                    'shared with storpool.spopenstack (AttachDB) and must '
                    'be the same for every service on the host.'),
    cfg.FloatOpt('device_timeout',
                 deprecated_group=DEPRECATED_GROUP,
                 default=30.0, min=0.1,
                 help='Seconds to wait for the block device of a volume to '
                      'appear after an attach, or to show the new size '
                      'after an extend.'),
    cfg.StrOpt('dev_root',
               deprecated_group=DEPRECATED_GROUP,
               default=names.DEFAULT_DEV_ROOT,
               help='The directory under which the StorPool client makes '
                    'the storpool/<name> and storpool-byid/<globalId> '
                    'device links. Change it only for tests or the '
                    'emulator.'),
    cfg.IntOpt('detach_busy_retries',
               deprecated_group=DEPRECATED_GROUP,
               default=10, min=0,
               help='How many more times to try a detach that StorPool '
                    'refuses because the device is still open on this host '
                    '(with a short exponential backoff, about 3 s in all '
                    'for the default). The volume is force-detached after '
                    'that only when the caller asks for a forced '
                    'disconnect.'),
    cfg.FloatOpt('api_timeout',
                 deprecated_group=DEPRECATED_GROUP,
                 default=120.0, min=1.0,
                 help='Timeout in seconds of one StorPool API call.'),
    cfg.IntOpt('api_retries',
               deprecated_group=DEPRECATED_GROUP,
               default=3, min=0,
               help='How many times to retry a StorPool API call that '
                    'failed with a transient error or could not connect.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the connector options in ``conf`` (idempotent)."""
    conf.register_opts(connector_opts, group=GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """For oslo-config-generator (``storpool_openstack.brick``)."""
    return [(GROUP, list(connector_opts))]
