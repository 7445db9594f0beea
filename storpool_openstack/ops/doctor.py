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
"""`storpool-openstack doctor`: is this host ready for StorPool?

Each check returns pass / fail / skip with a message and, when it fails,
the fix.  Checks that need an earlier one (the API needs the config) are
skipped when it failed, so the first failure is the one to fix first.
The StorPool config is read as the services read it (the files, then the
SP_* environment variables, then each Cinder backend's own storpool_api_*
options for that backend); the API token is handed to the caller's
scrubber and never put in a message.  The API client fails fast (no
retries, a short timeout) and `progress` says what is being waited for.

The checks live by family in ``doctor_storpool`` (config, API),
``doctor_cinder`` (cinder.conf, templates), ``doctor_attach`` (the
attach-state file), ``doctor_host`` (devices, qemu-img, Nova, os-brick)
and ``doctor_cluster`` (active-active coordination); this module runs
them in order.
"""

from oslo_log import log as logging

from storpool_openstack.ops import doctor_attach
from storpool_openstack.ops import doctor_base
from storpool_openstack.ops import doctor_cinder
from storpool_openstack.ops import doctor_cluster
from storpool_openstack.ops import doctor_host

# The names the command line and the tests use, at this import path.
PASS = doctor_base.PASS
FAIL = doctor_base.FAIL
SKIP = doctor_base.SKIP
DoctorOptions = doctor_base.DoctorOptions
Check = doctor_base.Check
Report = doctor_base.Report
CONNECTOR_OPTIONS = doctor_cinder.CONNECTOR_OPTIONS

LOG = logging.getLogger(__name__)


class Doctor(doctor_cinder.CinderChecks, doctor_attach.AttachStateChecks,
             doctor_host.HostChecks):
    """Runs the checks in order; see the module docstring."""

    def run(self) -> Report:
        for func in (self.check_config, self.check_our_id, self.check_api,
                     self.check_client, self.check_cinder_conf,
                     self.check_backend_apis, self.check_templates,
                     self.check_attach_file, self.check_attach_sync,
                     self.check_devices, self.check_qemu_img,
                     self.check_nova, self.check_os_brick,
                     self.check_coordination):
            try:
                check = func()
            except Exception as exc:  # a bug in a check must not hide others
                LOG.exception('doctor check %s failed', func.__name__)
                check = Check(func.__name__.replace('check_', ''),
                              func.__name__, FAIL,
                              f'the check itself failed: '
                              f'{type(exc).__name__}: {exc}',
                              'rerun with --debug and report it')
            self.checks.append(check)
            self.on_check(check)
        return Report(self.checks)

    # Active-active cinder-volume (doctor_cluster.py)

    def check_coordination(self) -> Check:
        return Check('coordination', doctor_cluster.TITLE,
                     *doctor_cluster.check(self.opts.cinder_conf))
