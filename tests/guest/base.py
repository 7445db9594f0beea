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
"""Real guests on StorPool volumes: the pieces every guest test uses.

* Cinder's REST API, scheduler and volume service in this process, with
  StorPoolDriver on the emulator in loop mode (`tests.functional.base`);
  the emulator also serves client 2, a second host on this machine, whose
  devices appear under a directory of their own;
* a private libvirtd (`libvirtd`), one per test process;
* compute hosts (`compute.ComputeHost`): Nova's libvirt classes and
  LibvirtStorPoolVolumeDriver in processes of their own, host "compute-a"
  as StorPool client 1 and "compute-b" as client 2.

Volumes reach the compute hosts as Nova gets them: a Cinder attachment
(``POST /attachments`` with the host's connector, as os-brick's own
connector list reports it for a StorPool host: no client id), so the
driver's ``initialize_connection`` picks the client id from the compute
host's section of its StorPool config.
"""

import os
import time
import uuid

import fixtures

from tests.functional import base
from tests.guest import bootsector
from tests.guest import compute
from tests.guest import libvirtd

GiB = 1024 ** 3
HOST_A = 'compute-a'
HOST_B = 'compute-b'
BOOT_TIMEOUT = 120.0


def virt_type() -> tuple[str, str]:
    """('kvm' or 'qemu', why): KVM where /dev/kvm opens, else TCG."""
    forced = os.environ.get('STORPOOL_GUEST_VIRT_TYPE')
    if forced:
        return forced, 'STORPOOL_GUEST_VIRT_TYPE'
    try:
        fd = os.open('/dev/kvm', os.O_RDWR)
    except OSError as exc:
        return 'qemu', f'TCG: /dev/kvm is unusable ({exc.strerror})'
    os.close(fd)
    return 'kvm', 'KVM: /dev/kvm is usable'


def figures_file() -> str | None:
    return os.environ.get('STORPOOL_GUEST_FIGURES')


def record_figure(line: str) -> None:
    """Append a measured figure to $STORPOOL_GUEST_FIGURES, if set."""
    path = figures_file()
    if path:
        with open(path, 'a') as fobj:
            fobj.write(line + '\n')


class GuestTestBase(base.StorPoolFunctionalTestBase):
    """Cinder + emulator (clients 1 and 2) + libvirtd + compute hosts."""

    emulator_options = {'device_mode': 'loop', 'extra_clients': [2]}
    driver_options: dict = {}

    def setUp(self):
        self.virt = libvirtd.shared()
        super().setUp()
        self.virt_type, self.virt_why = virt_type()
        self.addDetail('virt_type', _text(self.virt_why))
        self.work = self.useFixture(fixtures.TempDir()).path
        # The cinder-volume host's StorPool config has a section for each
        # compute host (as StorPool's standard config does): that is
        # where the driver finds their client ids (the top-level SP_OURID
        # is the cinder-volume host's own, never another host's).
        with open(self.emulator.conf_path, 'a') as fobj:
            fobj.write(f'[{HOST_A}]\nSP_OURID=1\n'
                       f'[{HOST_B}]\nSP_OURID=2\n')
        self.hosts = {}
        # Nova deletes its attachments with a service token; Cinder's
        # functional API runs without Keystone, so there is no token to
        # send, and Cinder would ask Nova's API (not running here)
        # whether the attachment is still in use. These requests are
        # Nova's.
        from cinder.volume import api as volume_api
        self.mock_object(volume_api.API, 'is_service_request',
                         staticmethod(lambda ctxt: True))

    # Compute hosts

    def compute_host(self, name: str = HOST_A, *, uri: str | None = None,
                     device_timeout: float = 10) -> compute.ComputeHost:
        """A compute host process, as StorPool client 1 (a) or 2 (b)."""
        client = 1 if name == HOST_A else 2
        conf = os.path.join(self.work, f'{name}-storpool.conf')
        values = dict(self.emulator.config, SP_OURID=str(client))
        with open(os.open(conf, os.O_WRONLY | os.O_CREAT, 0o600),
                  'w') as fobj:
            fobj.write(''.join(f'{k}={v}\n' for k, v in values.items()))
        host = compute.ComputeHost(
            self.work, uri=uri or self.virt.uri, virt_type=self.virt_type,
            config_file=conf,
            dev_root=self.emulator.client_dev_dirs[client],
            attach_state_file=self.attach_state_path(name),
            device_timeout=device_timeout)
        self.addCleanup(host.close)
        self.addOnException(lambda _exc: self.addDetail(
            f'{name}.log', _text(host.log())))
        self.hosts[name] = host
        return host

    def attach_state_path(self, name: str) -> str:
        return os.path.join(self.work, f'{name}-attach.json')

    def attach_state(self, name: str) -> dict:
        import json
        try:
            with open(self.attach_state_path(name)) as fobj:
                return json.load(fobj)
        except FileNotFoundError:
            return {}

    # Cinder

    def boot_image(self, text: bytes, *, stay: bool = False) -> dict:
        path = os.path.join(self.work, f'boot-{uuid.uuid4().hex[:8]}.raw')
        with open(path, 'wb') as fobj:
            fobj.write(bootsector.disk_image(text, stay=stay))
        return self.glance.add_image(path, disk_format='raw')

    def attachment(self, volume_id: str, instance: str, host: str, *,
                   migration: bool = False) -> tuple[str, dict]:
        """(attachment id, connection_info) as Nova gets them.

        A boot or an attach: the API reserves an attachment (no
        connector), then the compute host updates it with its connector.
        A live migration's destination (`migration`): one create with
        the destination's connector (Cinder refuses a second connector
        through an update of a volume that is not multiattach).
        """
        connector = {'host': host, 'ip': '127.0.0.1', 'initiator': None,
                     'platform': 'x86_64', 'os_type': 'linux',
                     'multipath': False, 'do_local_attach': False}
        body = {'volume_uuid': volume_id, 'instance_uuid': instance}
        if migration:
            body['connector'] = connector
        att = self.api.api_post('/attachments',
                                {'attachment': body})['attachment']
        if not migration:
            att = self.api.api_put(f'/attachments/{att["id"]}', {
                'attachment': {'connector': connector}})['attachment']
        # Nova's cinder API turns the flat attachment form back into the
        # old connection_info (nova.volume.cinder._translate_attachment_ref)
        # and its block device adds the serial.
        data = dict(att['connection_info'])
        data.pop('attachment_id', None)
        info = {'driver_volume_type': data.pop('driver_volume_type'),
                'data': data, 'serial': volume_id}
        return att['id'], info

    def complete(self, attachment_id: str) -> None:
        self.api.api_post(f'/attachments/{attachment_id}/action',
                          {'os-complete': {}},
                          check_response_status=[204])

    def delete_attachment(self, attachment_id: str) -> None:
        self.api.api_request(f'/attachments/{attachment_id}',
                             method='DELETE', check_response_status=[200])

    # Guests

    def start_guest(self, host: compute.ComputeHost, disks: list,
                    inst: str | None = None, name: str | None = None
                    ) -> tuple[str, str, float]:
        """(domain uuid, serial file, seconds to start) of a new guest.

        The domain's uuid is the instance's, as in Nova, unless the test
        needs two domains of one instance in this one libvirtd.
        """
        inst = inst or str(uuid.uuid4())
        serial = os.path.join(self.work, f'serial-{inst}.log')
        self.addCleanup(host.call, 'destroy', uuid=inst)
        res = host.call('define_and_start', name=name or f'sp-{inst}',
                        uuid=inst, disks=disks, serial_path=serial)
        return inst, serial, res['seconds']

    def wait_serial(self, serial: str, want: bytes = bootsector.END,
                    timeout: float = BOOT_TIMEOUT) -> bytes:
        deadline = time.monotonic() + timeout
        data = b''
        while time.monotonic() < deadline:
            try:
                with open(serial, 'rb') as fobj:
                    data = fobj.read()
            except FileNotFoundError:
                pass
            if want in data:
                return data
            time.sleep(0.02)
        self.fail(f'no {want!r} on the serial console within {timeout} s; '
                  f'got {data!r}')

    def sp_attachments(self, name: str) -> list[tuple[int, str]]:
        return sorted((a['client'], a['rights'])
                      for a in self.emu_attachments() if a['volume'] == name)


def _text(value: str):
    from testtools import content
    return content.text_content(value)
