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
"""What differs between the supported OpenStack releases, for the tests.

The one place where the test suites meet a difference between the
releases they run against (tox -e os-2025.1, os-2025.2, os-2026.1 and
functional for 2026.2); each difference names the releases. The package's
runtime code needs no such switch so far.
"""

import inspect


def get_volume_config(libvirt_driver, instance, connection_info: dict,
                      disk_info: dict):
    """LibvirtDriver._get_volume_config on every supported Nova.

    Nova 31-33 (2025.1, 2025.2, 2026.1) take the instance first, to check
    whether it uses SEV memory encryption; Nova 34 (2026.2) takes only the
    connection and the disk.
    """
    params = inspect.signature(libvirt_driver._get_volume_config).parameters
    if 'instance' in params:
        # The SEV check reads the image properties from system_metadata,
        # which a fake instance object does not load.
        if not instance.obj_attr_is_set('system_metadata'):
            instance.system_metadata = {}
        return libvirt_driver._get_volume_config(instance, connection_info,
                                                 disk_info)
    return libvirt_driver._get_volume_config(connection_info, disk_info)


def _import_libvirt():
    """libvirt-python, imported before any of Nova's tests start.

    Nova's test base forbids ``import libvirt`` during a test
    (ImportModulePoisonFixture: the module must be mocked), but lets a
    module imported earlier through. Nova 33 and 34 (2026.1, 2026.2)
    import libvirt when nova.virt.libvirt.host is loaded; Nova 31 and 32
    (2025.1, 2025.2) only when the driver starts, so there the libvirt
    domain test's own import, which wants the real libvirt and its test:///
    driver on purpose, was refused. Importing it here, when the test
    modules load, does what Nova 33 does.
    """
    try:
        import libvirt
    except ImportError as exc:
        return None, exc
    return libvirt, None


LIBVIRT, LIBVIRT_IMPORT_ERROR = _import_libvirt()
