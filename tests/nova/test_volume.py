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
"""LibvirtStorPoolVolumeDriver on Nova's own libvirt volume test base.

The connector underneath is the real one, configured through nova.conf's
[storpool_connector] group, against the StorPool emulator (in a subprocess:
Nova's tests run eventlet-monkey-patched) with real block devices where the
host allows. The generated disk XML is also defined in libvirt's test driver
when libvirt-python is installed.
"""

import os
from unittest import mock
from xml.etree import ElementTree

import ddt
from nova import context as nova_context
from nova.tests.unit import fake_instance
from nova.tests.unit.virt.libvirt.volume import test_volume
from nova.virt import fake
from nova.virt.libvirt import driver as libvirt_driver
from nova.virt.libvirt.volume import volume as libvirt_volume
from os_brick import exception as brick_exception
from oslo_utils.fixture import uuidsentinel as uuids

from storpool_openstack.brick import device
from storpool_openstack.nova import volume as sp_volume
from tests import compat
from tests.unit.brick import base as brick_base

MiB = brick_base.MiB
VOL = '5a9e1b8c-7f3d-4d0e-9a61-2b4c6d8e0f13'
OUR_CLASS = 'storpool_openstack.nova.volume.LibvirtStorPoolVolumeDriver'


def _connection_info(volume=VOL, mode='rw', **more):
    info = {'driver_volume_type': 'storpool',
            'data': {'client_id': 1, 'volume': volume, 'access_mode': mode},
            'serial': volume}
    info.update(more)
    return info


class StorPoolNovaTestCase(test_volume.LibvirtVolumeBaseTestCase):
    """An emulator, nova.conf [storpool_connector] there, two instances."""

    def setUp(self):
        # Before Nova's set-up: its cleanups (e.g. the one that forbids
        # looking at /sys) must be gone when the emulator checks, at its
        # own cleanup, that it left no loop device behind.
        self.sp = self.useFixture(brick_base.StorPoolConnectorFixture())
        super().setUp()
        self.flags(group='storpool_connector',
                   config_file=self.sp.emu.conf_path,
                   dev_root=self.sp.emu.dev_dir,
                   attach_state_file=self.sp.state_file,
                   device_timeout=5, detach_busy_retries=2, api_retries=0)
        self.name = self.sp.create_volume(VOL)
        self.path = self.sp.dev_path(self.name)
        ctx = nova_context.get_admin_context()
        self.inst_a = fake_instance.fake_instance_obj(ctx, uuid=uuids.inst_a)
        self.inst_b = fake_instance.fake_instance_obj(ctx, uuid=uuids.inst_b)
        self.driver = sp_volume.LibvirtStorPoolVolumeDriver(self.fake_host)

    def disk_xml(self, connection_info, disk_info=None):
        conf = self.driver.get_config(connection_info,
                                      disk_info or self.disk_info)
        return ElementTree.fromstring(conf.to_xml())


@ddt.ddt
class ConfigTestCase(StorPoolNovaTestCase):

    @ddt.data(('rw', 'virtio', 'vdb'), ('ro', 'virtio', 'vdc'),
              ('rw', 'scsi', 'sdb'))
    @ddt.unpack
    def test_disk_xml(self, mode, bus, dev):
        info = _connection_info(mode=mode)
        info['data']['device_path'] = self.path
        tree = self.disk_xml(info, {'bus': bus, 'dev': dev, 'type': 'disk'})

        self.assertEqual('disk', tree.tag)
        self.assertEqual('block', tree.get('type'))
        self.assertEqual('disk', tree.get('device'))
        self.assertEqual(self.path, tree.find('source').get('dev'))
        drv = tree.find('driver')
        self.assertEqual({'name': 'qemu', 'type': 'raw', 'cache': 'none',
                          'io': 'native'}, dict(drv.attrib))
        self.assertEqual({'bus': bus, 'dev': dev},
                         dict(tree.find('target').attrib))
        self.assertEqual(VOL, tree.find('serial').text)
        self.assertEqual(mode == 'ro', tree.find('readonly') is not None)

    def test_get_config_needs_no_storpool(self):
        # Generating XML must not build the connector (no config read).
        info = _connection_info()
        info['data']['device_path'] = self.path
        self.disk_xml(info)
        self.assertIsNone(self.driver._connector)

    @ddt.data((None, 'none', 'native'),
              (['block=writeback'], 'writeback', 'threads'),
              (['block=directsync'], 'directsync', 'native'),
              (['file=writeback'], 'none', 'native'))
    @ddt.unpack
    def test_cache_mode_from_libvirt_driver(self, cachemodes, cache, aio):
        """LibvirtDriver applies [libvirt] disk_cachemodes to our disk."""
        if cachemodes:
            self.flags(disk_cachemodes=cachemodes, group='libvirt')
        # What add-storpool-nova-driver does to driver.py, in memory.
        registered = mock.patch.dict(libvirt_driver.VOLUME_DRIVERS,
                                     {'storpool': OUR_CLASS})
        registered.start()
        self.addCleanup(registered.stop)
        drv = libvirt_driver.LibvirtDriver(fake.FakeVirtAPI(), False)
        info = _connection_info()
        info['data']['device_path'] = self.path

        conf = compat.get_volume_config(drv, self.inst_a, info,
                                        self.disk_info)

        self.assertIsInstance(drv._get_volume_driver(info),
                              sp_volume.LibvirtStorPoolVolumeDriver)
        tree = ElementTree.fromstring(conf.to_xml())
        self.assertEqual(cache, tree.find('driver').get('cache'))
        self.assertEqual(aio, tree.find('driver').get('io'))


class AttachTestCase(StorPoolNovaTestCase):

    def test_connect_write_read_disconnect(self):
        info = _connection_info()

        self.driver.connect_volume(info, self.inst_a)

        self.assertEqual(self.path, info['data']['device_path'])
        # Nova's stored data gains the device path and nothing else.
        self.assertEqual({'client_id', 'volume', 'access_mode',
                          'device_path'}, set(info['data']))
        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        req = f'nova-attach-1-{VOL}-{uuids.inst_a}'
        self.assertEqual({req: {'volume': self.name, 'type': 'nova-attach',
                                'id': req, 'rights': 2, 'volsnap': False,
                                'remove_on_detach': False}},
                         self.sp.state())
        data = os.urandom(8192)
        with open(info['data']['device_path'], 'r+b', buffering=0) as dev:
            dev.write(data)
            os.fsync(dev.fileno())
        with open(info['data']['device_path'], 'rb') as dev:
            self.assertEqual(data, dev.read(8192))
        self.assertEqual(data, self.sp.emu.control.read(self.name, 0, 8192))
        self.assertEqual(self.path,
                         self.disk_xml(info).find('source').get('dev'))

        self.driver.disconnect_volume(info, self.inst_a)

        self.assertEqual({}, self.sp.attachments())
        self.assertEqual({}, self.sp.state())
        self.assertFalse(os.path.lexists(self.path))

    def test_two_instances_on_one_host(self):
        info_a, info_b = _connection_info(), _connection_info()
        self.driver.connect_volume(info_a, self.inst_a)
        self.driver.connect_volume(info_b, self.inst_b)
        self.assertEqual(1, len(self.sp.reassign_calls()))
        self.assertEqual(2, len(self.sp.state()))

        self.driver.disconnect_volume(info_a, self.inst_a)
        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertTrue(os.path.exists(self.path))

        self.driver.disconnect_volume(info_b, self.inst_b)
        self.assertEqual({}, self.sp.attachments())
        self.assertEqual({}, self.sp.state())

    def test_multiattach_instances_are_one_user(self):
        # Nova disconnects a multiattach volume only for the last of its
        # instances on the host (LibvirtDriver._should_disconnect_target).
        info_a = _connection_info(multiattach=True)
        info_b = _connection_info(multiattach=True)
        self.driver.connect_volume(info_a, self.inst_a)
        self.driver.connect_volume(info_b, self.inst_b)
        self.assertEqual([f'nova-attach-1-{VOL}'], list(self.sp.state()))

        self.driver.disconnect_volume(info_b, self.inst_b)

        self.assertEqual({}, self.sp.attachments())
        self.assertEqual({}, self.sp.state())

    def test_readonly_attachment(self):
        info = _connection_info(mode='ro')
        self.driver.connect_volume(info, self.inst_a)

        self.assertEqual({(self.name, 1): 'ro'}, self.sp.attachments())
        self.assertIsNotNone(self.disk_xml(info).find('readonly'))
        self.driver.disconnect_volume(info, self.inst_a)
        self.assertEqual({}, self.sp.attachments())

    def test_extend_while_attached(self):
        info = _connection_info()
        self.driver.connect_volume(info, self.inst_a)
        self.sp.api.volume_update(self.name, {'size': 4 * MiB})

        size = self.driver.extend_volume(info, self.inst_a, 4 * MiB)

        self.assertEqual(4 * MiB, size)
        self.assertEqual(4 * MiB,
                         device.size_of(info['data']['device_path']))
        self.driver.disconnect_volume(info, self.inst_a)

    def test_forced_disconnect_of_an_open_device(self):
        info = _connection_info()
        self.driver.connect_volume(info, self.inst_a)
        fd = os.open(info['data']['device_path'], os.O_RDONLY)
        self.addCleanup(os.close, fd)

        self.assertRaises(brick_exception.BrickException,
                          self.driver.disconnect_volume, info, self.inst_a)
        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())

        self.driver.disconnect_volume(info, self.inst_a, force=True)

        self.assertEqual({}, self.sp.attachments())
        self.assertEqual(
            [False, False, False, True],
            [c['reassign'][0]['force']
             for c in self.sp.reassign_calls()[-4:]])

    def test_disconnect_of_a_volume_attached_by_the_in_tree_driver(self):
        # os-brick's in-tree connector recorded nothing locally and Nova
        # stored its /dev/storpool-byid/<globalId> path.
        self.sp.api.volumes_reassign([{'volume': self.name, 'rw': [1]}])
        gid = self.sp.api.volume(self.name)['globalId']
        info = _connection_info()
        info['data']['device_path'] = self.sp.byid_path(gid)

        self.driver.disconnect_volume(info, self.inst_a)

        self.assertEqual({}, self.sp.attachments())

    def test_misconfigured_host_fails_at_attach_not_at_load(self):
        self.flags(group='storpool_connector', config_file=os.path.join(
            self.sp.state_dir, 'missing.conf'))
        self.useFixture(brick_base.fixtures.EnvironmentVariable(
            'SP_AUTH_TOKEN'))
        driver = sp_volume.LibvirtStorPoolVolumeDriver(self.fake_host)

        err = self.assertRaises(brick_exception.BrickException,
                                driver.connect_volume, _connection_info(),
                                self.inst_a)

        self.assertIn('SP_AUTH_TOKEN', str(err))
        self.assertEqual([], self.sp.reassign_calls())


@ddt.ddt
class LibvirtDomainTestCase(StorPoolNovaTestCase):
    """The disk XML is accepted by libvirt itself (its test driver)."""

    def setUp(self):
        super().setUp()
        if compat.LIBVIRT is None:
            self.skipTest(
                f'libvirt-python is not installed '
                f'({compat.LIBVIRT_IMPORT_ERROR}); install it with '
                f'`apt-get install -y libvirt-dev pkg-config && pip install '
                f'libvirt-python` to run this test')
        self.libvirt = compat.LIBVIRT
        self.conn = self.libvirt.open('test:///default')
        self.addCleanup(self.conn.close)

    def _define(self, name, disk_xml):
        xml = (f"<domain type='test'><name>{name}</name>"
               f"<uuid>{uuids.domain}</uuid>"
               f"<memory unit='MiB'>64</memory><vcpu>1</vcpu>"
               f"<os><type arch='x86_64'>hvm</type></os>"
               f"<devices>{disk_xml}</devices></domain>")
        dom = self.conn.defineXML(xml)
        self.addCleanup(dom.undefine)
        return dom

    def _disk_of(self, dom):
        tree = ElementTree.fromstring(dom.XMLDesc(0))
        disks = tree.findall('./devices/disk')
        self.assertEqual(1, len(disks))
        return disks[0]

    @ddt.data('rw', 'ro')
    def test_define_and_start_a_domain_with_the_disk(self, mode):
        info = _connection_info(mode=mode)
        self.driver.connect_volume(info, self.inst_a)
        self.addCleanup(self.driver.disconnect_volume, info, self.inst_a)
        conf = self.driver.get_config(info, self.disk_info)

        dom = self._define(f'sp-{mode}', conf.to_xml())
        dom.create()
        self.addCleanup(dom.destroy)

        self.assertTrue(dom.isActive())
        disk = self._disk_of(dom)
        self.assertEqual('block', disk.get('type'))
        self.assertEqual(self.path, disk.find('source').get('dev'))
        self.assertEqual('native', disk.find('driver').get('io'))
        self.assertEqual('none', disk.find('driver').get('cache'))
        self.assertEqual(mode == 'ro', disk.find('readonly') is not None)
        self.assertEqual(('vde', 'virtio'),
                         (disk.find('target').get('dev'),
                          disk.find('target').get('bus')))
        self.assertEqual(VOL, disk.find('serial').text)


class SignaturesTestCase(
        test_volume.LibvirtBaseVolumeDriverSubclassSignatureTestCase):
    """Nova's own check: our methods have the base class's signatures.

    Our class is imported here, so it is among the subclasses checked.
    """

    def test_our_driver_is_checked(self):
        self.assertIn(sp_volume.LibvirtStorPoolVolumeDriver,
                      libvirt_volume.LibvirtVolumeDriver.__subclasses__())
