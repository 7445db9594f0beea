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
"""The driver's iSCSI connection info in Nova's own iSCSI volume driver.

Cinder cannot be imported here (its options clash with Nova's), so the
connection info is the shape tests/unit/cinder/test_iscsi.py asserts the
driver returns, plus the device_path os-brick's ISCSIConnector adds when
it has logged in (the kernel here has no iSCSI initiator to do that).
"""

from xml.etree import ElementTree

import ddt
from nova.tests.unit.virt.libvirt.volume import test_volume
from nova.virt.libvirt import driver as libvirt_driver
from nova.virt.libvirt.volume import iscsi as nova_iscsi

IQN = 'iqn.2026-12.com.storpool.emulator:os--volume-5a9e1b8c'
PORTALS = ['127.0.0.1:3260', '127.0.0.2:3260']
DEVICE = '/dev/disk/by-path/ip-127.0.0.1:3260-iscsi-' + IQN + '-lun-0'


def _connection_info(mode='rw', multipath=False):
    data = {'target_discovered': False, 'target_iqn': IQN,
            'target_portal': PORTALS[0], 'target_lun': 0,
            'volume_id': '5a9e1b8c-7f3d-4d0e-9a61-2b4c6d8e0f13',
            'discard': True, 'access_mode': mode,
            # What os-brick's connect_volume adds.
            'device_path': DEVICE}
    if multipath:
        data.update(target_iqns=[IQN] * 2, target_portals=PORTALS,
                    target_luns=[0, 0])
    return {'driver_volume_type': 'iscsi', 'data': data,
            'serial': data['volume_id']}


@ddt.ddt
class NovaISCSITestCase(test_volume.LibvirtVolumeBaseTestCase):

    def test_nova_picks_its_iscsi_driver(self):
        self.assertEqual(
            'nova.virt.libvirt.volume.iscsi.LibvirtISCSIVolumeDriver',
            libvirt_driver.VOLUME_DRIVERS['iscsi'])

    @ddt.data(('rw', False), ('ro', True), ('rw', True))
    @ddt.unpack
    def test_disk_xml(self, mode, multipath):
        drv = nova_iscsi.LibvirtISCSIVolumeDriver(self.fake_host)
        conf = drv.get_config(_connection_info(mode, multipath),
                              self.disk_info)
        disk = ElementTree.fromstring(conf.to_xml())
        self.assertEqual('block', disk.get('type'))
        self.assertEqual(DEVICE, disk.find('source').get('dev'))
        # discard: True becomes libvirt's discard='unmap'.
        self.assertEqual('unmap', disk.find('driver').get('discard'))
        self.assertEqual(mode == 'ro', disk.find('readonly') is not None)
