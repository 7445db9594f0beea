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

from storpool_openstack.common import api as sp_api
from storpool_openstack.common import names

# cinder.volume.SHARED_CONF_GROUP, written out so that the
# options (and the docs' configuration reference) load without Cinder.
SHARED_CONF_GROUP = 'backend_defaults'
DEFAULT_CONFIG_FILE = '/etc/storpool.conf'

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
                    'every .conf file in "<file>.d" is read after it.'),
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
               default=sp_api.DEFAULT_TIMEOUT, min=1,
               help='Seconds to wait for one StorPool API call.'),
    cfg.IntOpt('storpool_api_retries',
               default=sp_api.DEFAULT_RETRIES, min=0,
               help='How many times to retry a StorPool API call that '
                    'failed with a transient error (with exponential '
                    'back-off from 1 to 16 seconds).'),
    cfg.StrOpt('storpool_dev_root',
               default=names.DEFAULT_DEV_ROOT,
               help='The directory that holds the storpool/ and '
                    'storpool-byid/ device directories, used when the '
                    'driver attaches volumes on this host (image copies).'),
    cfg.StrOpt('storpool_attach_state_file',
               default=names.ATTACH_STATE_FILE,
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

# iSCSI export (issue 15). The names and meanings are those of StorPool's
# own fork of the driver (storpool-openstack-integration), so that its
# cinder.conf keeps working.
storpool_iscsi_opts = [
    cfg.BoolOpt('storpool_iscsi_cinder_volume',
                default=False,
                help='Attach volumes over iSCSI for this cinder-volume '
                     'host\'s own use (image copies, backups) instead of '
                     'through the StorPool block client. Needs '
                     'storpool_iscsi_portal_group and an iSCSI initiator '
                     '(open-iscsi) on this host.'),
    cfg.StrOpt('storpool_iscsi_export_to',
               default='',
               help='Which attachments go over iSCSI. Empty (the '
                    'default): none, every host uses the StorPool block '
                    'client. An asterisk alone: all of them (and the '
                    'backend reports multiattach and the iSCSI protocol). '
                    'Otherwise a whitespace-separated list of shell '
                    'patterns (fnmatch) matched against the connector\'s '
                    'initiator IQN, e.g. iqn.1991-05.com.microsoft:* for '
                    'every Windows host; hosts whose IQN matches none use '
                    'the StorPool block client.'),
    cfg.BoolOpt('storpool_iscsi_learn_initiator_iqns',
                default=True,
                help='Define an initiator that StorPool does not know yet '
                     '(allowed from any network) when a volume is first '
                     'exported to it. When False, an unknown initiator is '
                     'refused; define it in StorPool first.'),
    cfg.StrOpt('storpool_iscsi_portal_group',
               default=None,
               help='The StorPool iSCSI portal group to export volumes in. '
                    'Required when storpool_iscsi_export_to or '
                    'storpool_iscsi_cinder_volume is set.'),
]

# Deferred-deletion purge: a periodic task, as the RBD driver's trash purge
# (see cinder/reaper.py). With the defaults it deletes up to 6,000 expired
# volumes an hour with at most 101 API calls a minute.
storpool_opts += [
    cfg.IntOpt('storpool_deferred_delete_purge_interval',
               default=60, min=1,
               help='Seconds between runs of the periodic task that '
                    'deletes the volumes kept by deferred deletion '
                    '(storpool_deferred_delete_hours) once their time is '
                    'up. Each run is one SnapshotsList call and at most '
                    'storpool_deferred_delete_purge_batch SnapshotDelete '
                    'calls.'),
    cfg.IntOpt('storpool_deferred_delete_purge_batch',
               default=100, min=1,
               help='The most expired deferred deletions one run of the '
                    'purge task deletes; with the interval this bounds '
                    'both the API load and the rate (batch * 3600 / '
                    'interval deletions per hour).'),
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
    for opt in storpool_opts + storpool_iscsi_opts:
        try:
            conf.register_opt(opt, group=SHARED_CONF_GROUP)
        except cfg.DuplicateOptError:
            pass


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """For oslo-config-generator (entry point storpool_openstack.cinder)."""
    return [(SHARED_CONF_GROUP,
             list(storpool_opts) + list(storpool_iscsi_opts))]
