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
"""The StorPool driver on Cinder's test base, against a real emulator.

Each test class starts one emulator subprocess (the test process is
eventlet-patched by cinder.tests.unit) and resets it before every test;
the driver talks to it over HTTP with the real API client, and the tests
assert the emulator's state and call log.
"""

from cinder import context
from cinder import objects
from cinder.tests.unit import test
from cinder.tests.unit import utils as test_utils
from cinder.volume import configuration
from cinder.volume import qos_specs
from cinder.volume import volume_types
from oslo_utils import units

from storpool_openstack.cinder import driver as sp_driver
from storpool_openstack.cinder import options
from storpool_openstack.emulator import fixture

GiB = units.Gi
TEMPLATES = 'hybrid:3,ssd:2,hdd:3'
HOST = 'cinder-host'


class DriverTestCase(test.TestCase):
    """A driver for backend [storpool] on a fresh emulated cluster."""

    EMULATORS = 1
    _emus: list = []

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls._emus = []
        try:
            for _ in range(cls.EMULATORS):
                emu = fixture.EmulatorFixture(device_mode='file',
                                              templates=TEMPLATES)
                emu.setUp()
                cls._emus.append(emu)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        for emu in cls._emus:
            emu.cleanUp()
        cls._emus = []
        super().tearDownClass()

    def setUp(self) -> None:
        super().setUp()
        for emu in self._emus:
            emu.control.reset()
        self.emu = self._emus[0]
        self.ctxt = context.get_admin_context()
        self.driver = self.make_driver()
        self.prefix = self.emu.volume_prefix
        self.emu.control.clear_calls()

    # The driver

    def make_driver(self, group: str = 'storpool', emu=None,
                    setup: bool = True, **opts) -> sp_driver.StorPoolDriver:
        emu = emu or self.emu
        conf = configuration.Configuration(options.storpool_opts,
                                           config_group=group)
        values = {'storpool_config_file': emu.conf_path,
                  'storpool_api_retries': 0,
                  'storpool_api_timeout': 10,
                  'volume_backend_name': group}
        values.update(opts)
        drv = sp_driver.StorPoolDriver(configuration=conf,
                                       host=f'{HOST}@{group}')
        for key, value in values.items():
            self.override_config(key, value, group=group)
        if setup:
            drv.do_setup(self.ctxt)
        return drv

    # Cinder objects

    def vtype(self, name: str, extra: dict | None = None,
              qos: dict | None = None) -> str:
        vtype = volume_types.create(self.ctxt, name, extra or {})
        if qos is not None:
            specs = qos_specs.create(self.ctxt, name + '-qos', qos)
            qos_specs.associate_qos_with_type(self.ctxt, specs['id'],
                                              vtype['id'])
        return vtype['id']

    def volume(self, size: int = 1, type_id: str | None = None, **kw):
        return test_utils.create_volume(
            self.ctxt, host=f'{HOST}@storpool#default', size=size,
            volume_type_id=type_id, **kw)

    def snapshot(self, volume, **kw):
        return test_utils.create_snapshot(self.ctxt, volume.id, **kw)

    def migrate_then_snapshot(self, drv, orig, new):
        """A snapshot of `orig` migrated onto `new` (keeping _name_id).

        As Cinder's manager gets a snapshot: without its volume loaded.
        """
        res = drv.update_migrated_volume(self.ctxt, orig, new, 'available')
        self.assertEqual({'_name_id': new.id}, res)
        orig.update(res)
        orig.save()
        snap = objects.Snapshot.get_by_id(self.ctxt,
                                          self.snapshot(orig).id)
        self.assertFalse(snap.obj_attr_is_set('volume'))
        return snap

    # The emulator

    def state(self, emu=None) -> dict:
        return (emu or self.emu).control.state()

    def sp_volume(self, volume, emu=None) -> dict | None:
        return self.state(emu)['volumes'].get(self.vname(volume))

    def snapshots(self, emu=None) -> dict:
        """The snapshots that exist.

        Not the deleted ones StorPool keeps while child volumes need them.
        """
        return {name: snap for name, snap in
                self.state(emu)['snapshots'].items() if not snap['deleted']}

    def vname(self, volume) -> str:
        return f'{self.prefix}--volume-{volume.name_id}'

    def sname(self, snapshot) -> str:
        return f'{self.prefix}--snap--none--snapshot-{snapshot.id}'

    def queries(self, emu=None) -> list[str]:
        return (emu or self.emu).control.queries()

    def calls(self, query: str | None = None, emu=None) -> list[dict]:
        return (emu or self.emu).control.calls(query)

    def clear_calls(self) -> None:
        self.emu.control.clear_calls()

    def attach_open(self, volume) -> None:
        """Attach `volume` here; its next detach fails as "is open"."""
        self.driver._api.volumes_reassign(
            [{'volume': self.vname(volume), 'rw': [self.emu.client_id]}])
        self.inject('VolumesReassign', name='busy',
                    descr=f"'{self.vname(volume)}' is open at client "
                          f"{self.emu.client_id}")

    def inject(self, query: str, name: str = 'invalidParam',
               descr: str | None = None, **kw) -> None:
        """Make the next `query` fail with a permanent StorPool error."""
        kw.setdefault('transient', False)
        self.emu.control.add_fault(query=query, name=name, descr=descr,
                                   **kw)
