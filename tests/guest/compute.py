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
"""A "compute host": Nova's libvirt classes and our driver, in a process.

Cinder and Nova register clashing options, so they cannot share the test
process (which runs Cinder's services); a compute host is a separate
process in a real cloud too. This one runs ``LibvirtStorPoolVolumeDriver``
with nova.conf's ``[storpool]`` options, Nova's own ``Host`` and
``Guest`` (``nova.virt.libvirt.host``/``guest``) against the test's
libvirtd, and builds domains with ``nova.virt.libvirt.config``. The test
drives it with one JSON request per line on stdin and reads one JSON
answer per line on stdout (`ComputeHost` is the client side).

Each operation follows the order of Nova's ``LibvirtDriver`` (e.g. attach:
look the guest up, connect the volume, build the disk config, attach the
device, and disconnect again if that fails).
"""

import json
import os
import subprocess
import sys
import time
import traceback

SCSI_CONTROLLER = 'virtio-scsi'
QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0'


class ComputeError(Exception):
    """An operation failed on the compute host; `kind` names its class."""

    def __init__(self, kind: str, classes: list, message: str,
                 trace: str) -> None:
        super().__init__(f'{kind}: {message}')
        self.kind = kind
        self.classes = classes
        self.message = message
        self.trace = trace


class ComputeHost(object):
    """The test's side: starts the process and calls it."""

    def __init__(self, work_dir: str, **settings) -> None:
        self.log_path = os.path.join(work_dir, 'compute.log')
        env = dict(os.environ)
        env.pop('OS_STDOUT_CAPTURE', None)
        self._log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'tests.guest.compute'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._log, env=env, close_fds=True)
        self.call('init', **settings)

    def call(self, op: str, **args):
        line = json.dumps({'op': op, 'args': args}) + '\n'
        self.proc.stdin.write(line.encode())
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            raise ComputeError('ProcessExited', [], 'the compute host '
                               f'exited; see {self.log_path}', self.log())
        res = json.loads(answer)
        if 'error' in res:
            err = res['error']
            raise ComputeError(err['kind'], err['classes'], err['message'],
                               err['trace'])
        return res['result']

    def log(self) -> str:
        with open(self.log_path, errors='replace') as fobj:
            return fobj.read()[-6000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self._log.close()


class _Server(object):
    """The compute host's side (runs in the child process)."""

    def op_init(self, uri, virt_type, config_file, dev_root,
                attach_state_file, device_timeout=10, api_retries=0,
                detach_busy_retries=2):
        import nova.conf
        from nova import config as nova_config
        from nova import objects
        from nova import rpc
        from nova.virt.libvirt import host

        import oslo_messaging as messaging

        self.conf = nova.conf.CONF
        nova_config.parse_args(['compute'], configure_db=False,
                               init_rpc=False)
        # Nova's Host notifies when libvirt is unreachable: an in-memory
        # transport for that (this registers transport_url too).
        messaging.get_rpc_transport(self.conf, url='fake:/')
        self.conf.set_override('transport_url', 'fake:/')
        rpc.init(self.conf)
        objects.register_all()
        self.conf.set_override('virt_type', virt_type, group='libvirt')
        self.conf.set_override('connection_uri', uri, group='libvirt')
        from storpool_openstack.brick import options as sp_options
        from storpool_openstack.nova import volume as sp_volume
        for key, value in (('config_file', config_file),
                           ('dev_root', dev_root),
                           ('attach_state_file', attach_state_file),
                           ('device_timeout', device_timeout),
                           ('api_retries', api_retries),
                           ('detach_busy_retries', detach_busy_retries)):
            self.conf.set_override(key, value, group=sp_options.GROUP)
        self.objects = objects
        self.host = host.Host(uri)
        self.driver = sp_volume.LibvirtStorPoolVolumeDriver(self.host)
        return {'pid': os.getpid(), 'our_id': self.driver.connector.our_id}

    def _instance(self, uuid):
        return self.objects.Instance(uuid=uuid)

    # The volume driver alone

    def op_connect(self, connection_info, instance):
        t0 = time.monotonic()
        self.driver.connect_volume(connection_info, self._instance(instance))
        return {'connection_info': connection_info,
                'seconds': time.monotonic() - t0}

    def op_disconnect(self, connection_info, instance, force=False):
        t0 = time.monotonic()
        self.driver.disconnect_volume(connection_info,
                                      self._instance(instance), force=force)
        return {'seconds': time.monotonic() - t0}

    def op_bare_cycle(self, name):
        """The emulator's own attach and detach, without the driver.

        The same API client and device wait as the connector's, from
        the same process: what connect/disconnect cost is compared with.
        """
        from storpool_openstack.brick import device
        from storpool_openstack.common import api as sp_api
        from storpool_openstack.common import config as sp_config

        from storpool_openstack.brick import options as sp_options
        opts = getattr(self.conf, sp_options.GROUP)
        cfg = sp_config.load(config_file=opts.config_file,
                             config_dir=opts.config_file + '.d')
        api = sp_api.StorPoolAPI(cfg, retries=0)
        path = os.path.join(opts.dev_root, 'storpool', name)
        t0 = time.monotonic()
        api.volumes_reassign_wait([{'volume': name, 'rw': [cfg.our_id]}],
                                  attach_timeout=10)
        if not device.wait_for_device(path, opts.device_timeout):
            raise RuntimeError(f'{path} did not appear')
        t1 = time.monotonic()
        api.volumes_reassign_wait([{'volume': name,
                                    'detach': [cfg.our_id]}])
        t2 = time.monotonic()
        return {'attach': t1 - t0, 'detach': t2 - t1,
                'gone': not os.path.exists(path)}

    def op_disk_xml(self, connection_info, disk_info):
        return self.driver.get_config(connection_info, disk_info).to_xml()

    # Guests

    def op_define_and_start(self, name, uuid, disks, serial_path,
                            memory_mib=32):
        """A guest made of Nova's config classes; disks from get_config."""
        from lxml import etree
        from nova.virt.libvirt import config as vconfig

        guest = vconfig.LibvirtConfigGuest()
        guest.virt_type = self.conf.libvirt.virt_type
        guest.name = name
        guest.uuid = uuid
        guest.memory = memory_mib * 1024
        guest.vcpus = 1
        guest.os_type = 'hvm'
        guest.os_boot_dev = ['hd']
        for disk in disks:
            guest.add_device(self.driver.get_config(
                disk['connection_info'], disk['disk_info']))
        controller = vconfig.LibvirtConfigGuestController()
        controller.type = 'scsi'
        controller.model = SCSI_CONTROLLER
        controller.index = 0
        guest.add_device(controller)
        serial = vconfig.LibvirtConfigGuestSerial()
        serial.type = 'file'
        serial.source_path = serial_path
        guest.add_device(serial)
        video = vconfig.LibvirtConfigGuestVideo()
        video.type = 'none'
        guest.add_device(video)
        # The one thing Nova's classes do not model: the isa-debug-exit
        # device through which the boot sector ends qemu.
        root = etree.fromstring(guest.to_xml())
        nsroot = etree.Element(root.tag, nsmap={'qemu': QEMU_NS})
        nsroot.extend(list(root))
        cmdline = etree.SubElement(nsroot, f'{{{QEMU_NS}}}commandline')
        for value in ('-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'):
            etree.SubElement(cmdline, f'{{{QEMU_NS}}}arg', value=value)
        for key, value in root.attrib.items():
            nsroot.set(key, value)
        xml = etree.tostring(nsroot, encoding='unicode')
        t0 = time.monotonic()
        domain = self.host.write_instance_config(xml)
        domain.launch()
        return {'xml': xml, 'started': time.time(),
                'seconds': time.monotonic() - t0}

    def _guest(self, uuid):
        return self.host.get_guest(self._instance(uuid))

    def op_domain_xml(self, uuid):
        return self._guest(uuid).get_xml_desc()

    def op_is_running(self, uuid):
        return bool(self._guest(uuid).is_active())

    def op_destroy(self, uuid):
        """Power off (if running) and undefine; quiet if gone."""
        import libvirt

        try:
            guest = self._guest(uuid)
        except Exception as exc:  # noqa: gone already
            return {'gone': str(exc)}
        try:
            if guest.is_active():
                guest.poweroff()
        except libvirt.libvirtError:
            pass
        guest.delete_configuration()
        return {'ok': True}

    def op_attach_volume(self, uuid, connection_info, disk_info):
        """LibvirtDriver.attach_volume's order, with a live guest."""
        instance = self._instance(uuid)
        guest = self.host.get_guest(instance)
        self.driver.connect_volume(connection_info, instance)
        conf = self.driver.get_config(connection_info, disk_info)
        try:
            guest.attach_device(conf, persistent=True, live=True)
        except Exception:
            self.driver.disconnect_volume(connection_info, instance)
            raise
        return {'connection_info': connection_info}

    def op_detach_volume(self, uuid, connection_info, disk_info,
                         timeout=30):
        """Hot-unplug, wait until the live XML has no disk, disconnect.

        Nova waits for libvirt's DEVICE_REMOVED event; this polls the
        live domain for the same fact.
        """
        instance = self._instance(uuid)
        guest = self.host.get_guest(instance)
        conf = self.driver.get_config(connection_info, disk_info)
        guest.detach_device(conf, persistent=True, live=True)
        deadline = time.monotonic() + timeout
        while guest.get_disk(disk_info['dev']) is not None:
            if time.monotonic() > deadline:
                raise RuntimeError(f'{disk_info["dev"]} is still in the '
                                   f'live domain after {timeout} s')
            time.sleep(0.1)
        self.driver.disconnect_volume(connection_info, instance)
        return {'ok': True}

    def op_extend_volume(self, uuid, connection_info, requested_size):
        """LibvirtDriver.extend_volume: the driver, then a block resize."""
        instance = self._instance(uuid)
        new_size = self.driver.extend_volume(connection_info, instance,
                                             requested_size)
        guest = self.host.get_guest(instance)
        path = connection_info['data']['device_path']
        guest.get_block_device(path).resize(new_size)
        return {'size': new_size}

    def op_block_capacity(self, uuid, dev):
        guest = self._guest(uuid)
        capacity, _alloc, _phys = guest._domain.blockInfo(dev)
        return {'capacity': capacity}


def main() -> int:
    import logging

    # Everything logged goes to stderr (the test's compute.log); stdout
    # carries the answers only.
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG,
                        format='%(asctime)s %(levelname)s %(name)s: '
                               '%(message)s')
    logging.getLogger('stevedore').setLevel(logging.INFO)
    server = _Server()
    for line in sys.stdin:
        req = json.loads(line)
        try:
            result = getattr(server, 'op_' + req['op'])(**req['args'])
            answer = {'result': result}
        except Exception as exc:  # noqa: report every failure to the test
            answer = {'error': {
                'kind': type(exc).__name__,
                'classes': [c.__name__ for c in type(exc).__mro__],
                'message': str(exc), 'trace': traceback.format_exc()}}
            traceback.print_exc()
        sys.stdout.write(json.dumps(answer) + '\n')
        sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
