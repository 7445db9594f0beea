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
"""The cinder.conf options of the StorPool volume driver.

They live in the backend's own section (e.g. ``[storpool]``) and fall back
to ``[backend_defaults]``, as every Cinder driver's options do. The
``storpool_api_*`` options override what the host's storpool.conf says, so
that one cinder-volume can serve several StorPool clusters.
"""

from oslo_config import cfg

from cinder.volume import configuration

DEFAULT_CONFIG_FILE = '/etc/storpool.conf'
DEFAULT_ATTACH_STATE_FILE = \
    '/var/spool/openstack-storpool/openstack-attach.json'

storpool_opts = [
    cfg.StrOpt('storpool_template',
               default=None,
               help='The StorPool template of volumes whose volume type '
                    'names no template (extra spec storpool_template). '
                    'When unset, such volumes get the replication of '
                    'storpool_replication instead. When set, every volume '
                    'of the backend has a template and the pool reports '
                    'the templates\' provisioned capacity to the '
                    'scheduler (otherwise Cinder counts its own).'),
    cfg.IntOpt('storpool_replication',
               default=3, min=1, max=3,
               help='The number of copies StorPool keeps of a volume that '
                    'has no template, and the divisor that turns the raw '
                    'disk space into the capacity reported to the '
                    'scheduler.'),
    cfg.StrOpt('storpool_qos_class',
               default=None,
               help='The StorPool QoS class of volumes whose volume type '
                    'names none (extra spec storpool:qos_class); it is '
                    'set as the volume tag qc=<class>.'),
    cfg.StrOpt('storpool_config_file',
               default=DEFAULT_CONFIG_FILE,
               help='The StorPool configuration file to read the API '
                    'endpoint, token, volume prefix and client ids from; '
                    'the *.conf files in "<file>.d" are read after it.'),
    cfg.StrOpt('storpool_api_host',
               default=None,
               help='The address of the StorPool API; overrides '
                    'SP_API_HTTP_HOST from the StorPool configuration, '
                    'e.g. for a second cluster served by this backend.'),
    cfg.PortOpt('storpool_api_port',
                default=None,
                help='The TCP port of the StorPool API; overrides '
                     'SP_API_HTTP_PORT.'),
    cfg.StrOpt('storpool_api_token',
               default=None,
               secret=True,
               help='The StorPool API authentication token; overrides '
                    'SP_AUTH_TOKEN. Never logged.'),
    cfg.IntOpt('storpool_api_timeout',
               default=300, min=1,
               help='Seconds to wait for one StorPool API call.'),
    cfg.IntOpt('storpool_api_retries',
               default=5, min=0,
               help='How many times to retry a StorPool API call that '
                    'failed with a transient error (with exponential '
                    'back-off from 1 to 16 seconds).'),
    cfg.StrOpt('storpool_dev_root',
               default='/dev',
               help='The directory that holds the storpool/ and '
                    'storpool-byid/ device directories, used when the '
                    'driver attaches volumes on this host (image copies).'),
    cfg.StrOpt('storpool_attach_state_file',
               default=DEFAULT_ATTACH_STATE_FILE,
               help='The attach-state JSON file of this host, shared with '
                    'the os-brick connector, for the driver\'s own local '
                    'attachments.'),
    cfg.BoolOpt('storpool_image_cache',
                default=True,
                help='Keep a StorPool snapshot of each Glance image copied '
                     'into a volume, so that later volumes of the same '
                     'image are instant clones.'),
    cfg.IntOpt('storpool_image_cache_max_entries',
               default=32, min=0,
               help='The most images kept in the StorPool image cache; the '
                    'least recently used ones go first.'),
    cfg.IntOpt('storpool_deferred_delete_hours',
               default=0, min=0,
               help='Keep a deleted volume as a StorPool snapshot, tagged '
                    'deleted-at=<unix time>, for this many hours before '
                    'the driver deletes it for good (0: delete at once).'),
    cfg.BoolOpt('storpool_multiattach',
                default=False,
                deprecated_for_removal=True,
                deprecated_reason='StorPool does not support attaching one '
                                  'volume to several hosts over its native '
                                  'block protocol; the capability is off '
                                  'there whatever this option says.',
                help='Ignored (a warning is logged when set): the '
                     'multiattach capability is decided by the transport, '
                     'and is off over StorPool\'s native protocol.'),
]


def register(conf: cfg.ConfigOpts = cfg.CONF) -> None:
    """Register the options in [backend_defaults].

    The driver does not need this: its Configuration registers them in
    the backend's section and in [backend_defaults] when it starts. It is
    not done on import because Cinder's in-tree StorPool driver declares
    storpool_template and storpool_replication too (with other help text),
    and registering ours first would make importing that module fail.
    An option that is already there is left alone.
    """
    for opt in storpool_opts:
        try:
            conf.register_opt(opt, group=configuration.SHARED_CONF_GROUP)
        except cfg.DuplicateOptError:
            pass


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """For oslo-config-generator (entry point storpool_openstack.cinder)."""
    return [(configuration.SHARED_CONF_GROUP, list(storpool_opts))]
