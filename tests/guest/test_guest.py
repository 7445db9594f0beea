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
"""A qemu guest under libvirtd reads and writes StorPool volumes.

See `tests.guest.base` for the set-up. Every volume is made by Cinder's
REST API and attached through LibvirtStorPoolVolumeDriver on a compute
host process; the guest is the boot sector of `tests.guest.bootsector`.
"""

import os
import socket
import time
import uuid

from tests.guest import base
from tests.guest import bootsector

VDA = {'bus': 'virtio', 'dev': 'vda', 'type': 'disk'}
SDA = {'bus': 'scsi', 'dev': 'sda', 'type': 'disk', 'unit': 0}


class BootFromVolumeMixin(object):

    def boot_from_new_volume(self, image: dict, text: bytes):
        """Volume from `image`, attach on compute-a, boot, check serial."""
        vol = self.create_volume(1, imageRef=image['id'])
        host = self.hosts.get(base.HOST_A) or self.compute_host()
        inst = 'a1b2c3d4-0000-4000-8000-%012d' % len(self.hosts_booted)
        self.hosts_booted.append(inst)
        att_id, info = self.attachment(vol['id'], inst, base.HOST_A)
        self.assertEqual('storpool', info['driver_volume_type'])
        self.assertEqual(1, info['data']['client_id'])
        info = host.call('connect', connection_info=info,
                         instance=inst)['connection_info']
        name = self.vol_name(vol['id'])
        self.assertEqual(f'{self.emulator.dev_dir}/storpool/{name}',
                         info['data']['device_path'])
        self.complete(att_id)
        self.assertEqual([(1, 'rw')], self.sp_attachments(name))

        t0 = time.monotonic()
        dom, serial, _ = self.start_guest(
            host, [{'connection_info': info, 'disk_info': VDA}], inst)
        out = self.wait_serial(serial)
        boot = time.monotonic() - t0
        base.record_figure(f'boot-to-marker ({self.virt_type}): '
                           f'{boot:.2f} s')
        self.assertIn(bootsector.MARKER, out)
        self.assertIn(b'READ:' + text, out)
        self.assertIn(b'WRITE:OK', out)
        # The guest's write reached the StorPool volume's data.
        self.assertEqual(bootsector.WROTE,
                         self.control.read(name, 1024, 512)[
                             :len(bootsector.WROTE)])
        # The guest exited through isa-debug-exit.
        self._wait_stopped(host, dom)
        host.call('destroy', uuid=dom)
        host.call('disconnect', connection_info=info, instance=inst)
        self.delete_attachment(att_id)
        self.assertEqual([], self.sp_attachments(name))
        self.assertEqual({}, self.attach_state(base.HOST_A))
        return vol

    def _wait_stopped(self, host, inst, timeout=60):
        deadline = time.monotonic() + timeout
        while host.call('is_running', uuid=inst):
            if time.monotonic() > deadline:
                self.fail(f'guest {inst} still runs after {timeout} s')
            time.sleep(0.1)


class BootFromVolumeCacheOnTest(BootFromVolumeMixin, base.GuestTestBase):
    driver_options = {'storpool_image_cache': True}

    def test_boot_from_volume(self):
        self.hosts_booted = []
        image = self.boot_image(b'cache-on-sector-1')

        self.boot_from_new_volume(image, b'cache-on-sector-1')
        cached = [s for s in self.emu_snapshots() if '--image--' in s]
        mark = self.emu_mark()
        self.boot_from_new_volume(image, b'cache-on-sector-1')

        self.assertEqual(1, len(cached))
        # The second volume is a clone of the cache entry, not a copy.
        creates = [c for c in self.emu_calls()[mark:]
                   if c.get('query') == 'VolumeCreate']
        self.assertEqual(cached[0], creates[0]['body'].get('parent'),
                         creates)


class BootFromVolumeCacheOffTest(BootFromVolumeMixin, base.GuestTestBase):
    driver_options = {'storpool_image_cache': False}

    def test_boot_from_volume(self):
        self.hosts_booted = []
        image = self.boot_image(b'cache-off-sector-1')

        self.boot_from_new_volume(image, b'cache-off-sector-1')

        self.assertEqual([], [s for s in self.emu_snapshots()
                              if '--image--' in s])


class RunningGuestTest(base.GuestTestBase):
    """A guest that stays up: extend, hot-plug, detach."""

    def boot_running_guest(self, host_name=base.HOST_A):
        image = self.boot_image(b'running', stay=True)
        vol = self.create_volume(1, imageRef=image['id'])
        host = self.hosts.get(host_name) or self.compute_host(host_name)
        inst = '0c0ffee0-0000-4000-8000-000000000001'
        att_id, info = self.attachment(vol['id'], inst, host_name)
        info = host.call('connect', connection_info=info,
                         instance=inst)['connection_info']
        self.complete(att_id)
        self.addCleanup(self._quiet_disconnect, host, info, inst)
        _, serial, _ = self.start_guest(
            host, [{'connection_info': info, 'disk_info': VDA}], inst)
        out = self.wait_serial(serial)
        self.assertIn(b'READ:running', out)
        return host, vol, inst, info, serial

    def _quiet_disconnect(self, host, info, inst):
        try:
            host.call('destroy', uuid=inst)
            host.call('disconnect', connection_info=info, instance=inst,
                      force=True)
        except Exception:  # noqa: cleanup only
            pass

    def test_live_extend(self):
        host, vol, inst, info, _ = self.boot_running_guest()
        self.assertEqual(base.GiB, host.call(
            'block_capacity', uuid=inst, dev='vda')['capacity'])

        self.action(vol['id'], {'os-extend': {'new_size': 2}})
        self.wait_volume(vol['id'], status='in-use')
        self.assertEqual(2, self.api.get_volume(vol['id'])['size'])
        res = host.call('extend_volume', uuid=inst, connection_info=info,
                        requested_size=2 * base.GiB)

        self.assertEqual(2 * base.GiB, res['size'])
        self.assertEqual(2 * base.GiB, host.call(
            'block_capacity', uuid=inst, dev='vda')['capacity'])
        self.assertTrue(host.call('is_running', uuid=inst))

    def test_detach_from_running_guest(self):
        host, _vol, inst, _info, _ = self.boot_running_guest()
        data = self.create_volume(1)
        name = self.vol_name(data['id'])
        att_id, info = self.attachment(data['id'], inst, base.HOST_A)
        # A boot-sector guest cannot answer a PCI hot-unplug request, so
        # the hot-plugged disk is on virtio-scsi, which unplugs without
        # the guest's help (Nova's hw_scsi_model=virtio-scsi).
        info = host.call('attach_volume', uuid=inst, connection_info=info,
                         disk_info=SDA)['connection_info']
        self.complete(att_id)
        self.assertIn(name, host.call('domain_xml', uuid=inst))
        self.assertEqual([(1, 'rw')], self.sp_attachments(name))
        self.assertEqual(1, len([e for e in self.attach_state(
            base.HOST_A).values() if e.get('volume') == name]))

        host.call('detach_volume', uuid=inst, connection_info=info,
                  disk_info=SDA)
        self.delete_attachment(att_id)

        self.assertNotIn(name, host.call('domain_xml', uuid=inst))
        self.assertEqual([], self.sp_attachments(name))
        self.assertEqual([], [e for e in self.attach_state(
            base.HOST_A).values() if e.get('volume') == name])
        self.assertTrue(host.call('is_running', uuid=inst))


class LiveMigrationTest(base.GuestTestBase):
    """compute-a (client 1) to compute-b (client 2), as Nova does it.

    Connect on the destination first, then disconnect on the source.
    """

    def _migrate(self, force: bool):
        image = self.boot_image(b'migrating', stay=True)
        vol = self.create_volume(1, imageRef=image['id'])
        name = self.vol_name(vol['id'])
        src = self.compute_host(base.HOST_A)
        dst = self.compute_host(base.HOST_B)
        inst = 'feed0000-0000-4000-8000-00000000000%d' % int(force)
        att_a, info_a = self.attachment(vol['id'], inst, base.HOST_A)
        info_a = src.call('connect', connection_info=info_a,
                          instance=inst)['connection_info']
        self.complete(att_a)
        # One libvirtd plays both hosts, and it holds one domain per
        # uuid: each side's domain gets its own.
        dom_a, serial_a = self.start_guest_as(src, info_a, 'src')
        self.wait_serial(serial_a)
        self.assertEqual([(1, 'rw')], self.sp_attachments(name))

        # pre_live_migration on the destination: a new attachment for
        # compute-b (client 2 from the cinder host's [compute-b] section).
        att_b, info_b = self.attachment(vol['id'], inst, base.HOST_B,
                                        migration=True)
        self.assertEqual(2, info_b['data']['client_id'])
        info_b = dst.call('connect', connection_info=info_b,
                          instance=inst)['connection_info']
        dev_b = f'{self.emulator.client_dev_dirs[2]}/storpool/{name}'
        self.assertEqual(dev_b, info_b['data']['device_path'])
        self.assertEqual([(1, 'rw'), (2, 'rw')], self.sp_attachments(name))

        # The guest moves: it stops on the source and runs on the
        # destination, from the destination's device.
        if not force:
            src.call('destroy', uuid=dom_a)
        dom_b, serial_b = self.start_guest_as(dst, info_b, 'dst')
        self.assertIn(b'READ:migrating', self.wait_serial(serial_b))

        # post_live_migration on the source. Forced: the source guest
        # still holds the device (as after a failed cleanup).
        src.call('disconnect', connection_info=info_a, instance=inst,
                 force=force)
        self.delete_attachment(att_a)

        self.assertEqual([(2, 'rw')], self.sp_attachments(name))
        self.assertEqual({}, self.attach_state(base.HOST_A))
        self.assertEqual([name], [e['volume'] for e in self.attach_state(
            base.HOST_B).values()])
        with open(dev_b, 'rb') as dev:
            self.assertEqual(bootsector.boot_sector(), dev.read(512))
        self.assertTrue(dst.call('is_running', uuid=dom_b))
        dst.call('destroy', uuid=dom_b)
        dst.call('disconnect', connection_info=info_b, instance=inst)
        self.delete_attachment(att_b)
        self.assertEqual([], self.sp_attachments(name))

    def start_guest_as(self, host, info, side):
        dom, serial, _ = self.start_guest(
            host, [{'connection_info': info, 'disk_info': VDA}],
            name=f'sp-{side}-{uuid.uuid4().hex[:8]}')
        return dom, serial

    def test_live_migration(self):
        self._migrate(force=False)

    def test_live_migration_forced_source_disconnect(self):
        self._migrate(force=True)


class ReadOnlyTest(base.GuestTestBase):

    def test_read_only_attachment(self):
        image = self.boot_image(b'read-only', stay=False)
        vol = self.create_volume(1, imageRef=image['id'])
        name = self.vol_name(vol['id'])
        host = self.compute_host()
        inst = str(uuid.uuid4())
        # Cinder 29 puts the access_mode in connection_info from the
        # volume's admin metadata: the read-only flag. (An attachment's
        # "mode": "ro" reaches the driver, but the manager then replaces
        # access_mode from admin metadata that is only written after the
        # first attachment update.)
        self.action(vol['id'], {'os-update_readonly_flag':
                                {'readonly': True}})
        att_id, info = self.attachment(vol['id'], inst, base.HOST_A)
        self.assertEqual('ro', info['data']['access_mode'])
        info = host.call('connect', connection_info=info,
                         instance=inst)['connection_info']
        self.complete(att_id)
        self.assertEqual([(1, 'ro')], self.sp_attachments(name))
        before = self.control.read(name, 1024, 512)

        _, serial, _ = self.start_guest(
            host, [{'connection_info': info, 'disk_info': VDA}], inst)
        out = self.wait_serial(serial)

        self.assertIn(b'READ:read-only', out)
        self.assertIn(b'WRITE:FAIL', out)
        self.assertNotIn(b'WRITE:OK', out)
        self.assertEqual(before, self.control.read(name, 1024, 512))
        self.assertIn("<readonly/>", host.call(
            'disk_xml', connection_info=info, disk_info=VDA))
        host.call('disconnect', connection_info=info, instance=inst)
        self.delete_attachment(att_id)
        self.assertEqual([], self.sp_attachments(name))


class FailureTest(base.GuestTestBase):

    def test_device_never_appears(self):
        vol = self.create_volume(1)
        name = self.vol_name(vol['id'])
        host = self.compute_host(device_timeout=2)
        inst = str(uuid.uuid4())
        att_id, info = self.attachment(vol['id'], inst, base.HOST_A)
        self.control.lose_devices(None)
        self.addCleanup(self.control.clear_faults)

        t0 = time.monotonic()
        err = self.assertRaises(base.compute.ComputeError, host.call,
                                'connect', connection_info=info,
                                instance=inst)
        took = time.monotonic() - t0

        self.assertEqual('DeviceNeverAppeared', err.kind)
        self.assertIn('VolumeDeviceNotFound', err.classes)
        self.assertIn(f'{self.emulator.dev_dir}/storpool/{name}:',
                      err.message)
        self.assertIn('within 2.0 s (device_timeout); the attachment was '
                      'undone', err.message)
        # It waited for the device_timeout, and no more than a few
        # seconds beyond it (not the 31 s of a retrying client).
        self.assertGreaterEqual(took, 2)
        self.assertLess(took, 20)
        self.assertEqual([], self.sp_attachments(name))
        self.assertEqual({}, self.attach_state(base.HOST_A))
        self.delete_attachment(att_id)

    def test_libvirtd_down(self):
        # What a libvirtd that died leaves: its socket file, with nobody
        # listening on it (connections are refused).
        sock_path = os.path.join(self.work, 'dead-libvirt-sock')
        dead = socket.socket(socket.AF_UNIX)
        dead.bind(sock_path)
        dead.close()
        host = self.compute_host(
            uri=f'qemu:///system?socket={sock_path}')
        vol = self.create_volume(1)
        name = self.vol_name(vol['id'])
        inst = str(uuid.uuid4())
        att_id, info = self.attachment(vol['id'], inst, base.HOST_A)
        mark = self.emu_mark()

        err = self.assertRaises(base.compute.ComputeError, host.call,
                                'attach_volume', uuid=inst,
                                connection_info=info, disk_info=SDA)

        self.assertEqual('HypervisorUnavailable', err.kind)
        self.assertIn('onnection to the hypervisor is broken', err.message)
        self.assertEqual([], self.emu_call_names(mark))
        self.assertEqual([], self.sp_attachments(name))
        self.assertEqual({}, self.attach_state(base.HOST_A))
        self.delete_attachment(att_id)


class ConnectCostTest(base.GuestTestBase):
    """What the Nova driver's connect/disconnect cost over a bare attach.

    Measured in one run on one compute host process, alternating the two
    so that load on the machine hits both alike; the figure goes to
    $STORPOOL_GUEST_FIGURES (never a timed assertion).
    """

    ROUNDS = 5

    def test_connect_disconnect_against_bare_attach_detach(self):
        vol = self.create_volume(1)
        name = self.vol_name(vol['id'])
        host = self.compute_host()
        inst = str(uuid.uuid4())
        att_id, info = self.attachment(vol['id'], inst, base.HOST_A)
        path = f'{self.emulator.dev_dir}/storpool/{name}'
        ours = [0.0, 0.0]
        bare = [0.0, 0.0]
        for _ in range(self.ROUNDS):
            res = host.call('connect', connection_info=dict(info),
                            instance=inst)
            ours[0] += res['seconds']
            self.assertTrue(os.path.exists(path))
            self.assertEqual([(1, 'rw')], self.sp_attachments(name))
            ours[1] += host.call('disconnect', connection_info=dict(info),
                                 instance=inst)['seconds']
            self.assertEqual([], self.sp_attachments(name))
            self.assertEqual({}, self.attach_state(base.HOST_A))

            res = host.call('bare_cycle', name=name)
            self.assertTrue(res['gone'])
            bare[0] += res['attach']
            bare[1] += res['detach']
        self.delete_attachment(att_id)

        ms = 1000.0 / self.ROUNDS
        base.record_figure(
            f'connect+disconnect through LibvirtStorPoolVolumeDriver: '
            f'{ours[0] * ms:.1f}+{ours[1] * ms:.1f} ms; emulator bare '
            f'attach+detach: {bare[0] * ms:.1f}+{bare[1] * ms:.1f} ms; '
            f'ratio {sum(ours) / sum(bare):.2f}x '
            f'({self.ROUNDS} rounds, one run)')
