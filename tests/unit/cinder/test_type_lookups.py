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
"""The driver uses the volume type Cinder loaded with the volume.

Cinder reads a volume together with its type and the type's extra specs;
the driver must not ask the database for them again, and must ask for
the QoS specs only when the type has some. Measured two ways: counted
wrappers around the real lookup functions (mock.patch with wraps= runs
the real code; it only counts) and a count of the SQL statements the
database engine executes during the driver call.
"""

import contextlib
from unittest import mock

from cinder.db import api as db_api
from cinder import objects
from cinder.volume import volume_types
import ddt
import sqlalchemy

from tests.unit.cinder import base

GiB = base.GiB
MiB = 1 << 20
TEMPLATE = {'storpool_template': 'ssd', 'storpool:qos_class': 'gold'}
PER_GB = {'consumer': 'back-end', 'total_iops_sec_per_gb': '100',
          'total_bytes_sec': str(50 * MiB)}


@ddt.ddt
class TypeLookupsTestCase(base.DriverTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.sql: list[str] = []
        self.lookups: dict[str, mock.Mock] = {}

    @contextlib.contextmanager
    def counting(self):
        """Count the type lookups and SQL statements inside the block."""
        engine = db_api.get_engine()

        def count(conn, cursor, statement, *args):
            self.sql.append(statement)

        sqlalchemy.event.listen(engine, 'before_cursor_execute', count)
        try:
            with contextlib.ExitStack() as stack:
                for name in ('get_volume_type_extra_specs',
                             'get_volume_type_qos_specs'):
                    self.lookups[name] = stack.enter_context(
                        mock.patch.object(
                            volume_types, name,
                            wraps=getattr(volume_types, name)))
                self.lookups['VolumeType.get_by_id'] = stack.enter_context(
                    mock.patch.object(
                        objects.VolumeType, 'get_by_id',
                        wraps=objects.VolumeType.get_by_id))
                yield
        finally:
            sqlalchemy.event.remove(engine, 'before_cursor_execute', count)

    def count(self, name: str) -> int:
        return self.lookups[name].call_count

    def assertNoTypeLookup(self) -> None:
        self.assertEqual({name: 0 for name in self.lookups},
                         {name: self.count(name) for name in self.lookups})

    # Create: the template and class from the loaded type, no query.

    def test_from_snapshot_of_its_own_type_makes_no_query(self):
        type_id = self.vtype('gold', TEMPLATE)
        src = self.volume(type_id=type_id)
        self.driver.create_volume(src)
        # As Cinder's API makes it: of its volume's type.
        snap = self.snapshot(src, volume_type_id=type_id)
        self.driver.create_snapshot(snap)
        vol = self.volume(type_id=type_id)
        self.clear_calls()
        with self.counting():
            self.driver.create_volume_from_snapshot(vol, snap)
        self.assertNoTypeLookup()
        self.assertEqual([], self.sql)
        self.assertEqual(['VolumeCreate'], self.queries())

    @ddt.data('create', 'from snapshot', 'clone')
    def test_create_without_qos_makes_no_query(self, how):
        type_id = self.vtype('gold', TEMPLATE)
        src = self.volume()
        self.driver.create_volume(src)
        snap = self.snapshot(src)
        self.driver.create_snapshot(snap)
        vol = self.volume(type_id=type_id)
        self.clear_calls()
        with self.counting():
            if how == 'create':
                self.driver.create_volume(vol)
            elif how == 'from snapshot':
                self.driver.create_volume_from_snapshot(vol, snap)
            else:
                self.driver.create_cloned_volume(vol, src)
        if how == 'from snapshot':
            # Into another type: the tag names the snapshot's own type
            # sets (to clear those the new type does not), one lookup of
            # its extra specs; a snapshot has no loaded type to read.
            self.assertEqual({'VolumeType.get_by_id': 0,
                              'get_volume_type_extra_specs': 1,
                              'get_volume_type_qos_specs': 0},
                             {name: self.count(name)
                              for name in self.lookups})
        else:
            self.assertNoTypeLookup()
            self.assertEqual([], self.sql)
        self.assertEqual(['VolumeCreate'], self.queries())
        spv = self.sp_volume(vol)
        self.assertEqual(('ssd', 'gold'),
                         (spv['templateName'], spv['tags'].get('qc')))

    def test_create_with_qos_reads_only_the_qos_specs(self):
        type_id = self.vtype('gold', TEMPLATE, PER_GB)
        vol = self.volume(size=3, type_id=type_id)
        with self.counting():
            self.driver.create_volume(vol)
        self.assertEqual((0, 1, 0), (
            self.count('get_volume_type_extra_specs'),
            self.count('get_volume_type_qos_specs'),
            self.count('VolumeType.get_by_id')))
        spv = self.sp_volume(vol)
        self.assertEqual(('ssd', 300, 50 * 1024, 'gold'),
                         (spv['templateName'], spv['iops'], spv['bw'],
                          spv['tags'].get('qc')))

    def test_front_end_qos_is_not_applied(self):
        type_id = self.vtype('fe', {}, {'consumer': 'front-end',
                                        'total_iops_sec': '100'})
        vol = self.volume(type_id=type_id)
        with self.counting():
            self.driver.create_volume(vol)
        self.assertEqual(1, self.count('get_volume_type_qos_specs'))
        self.assertEqual('-', self.sp_volume(vol)['iops'])

    # Extend: only per-GB QoS matters.

    def test_extend_without_qos_makes_no_query(self):
        vol = self.volume(type_id=self.vtype('gold', TEMPLATE))
        self.driver.create_volume(vol)
        self.clear_calls()
        with self.counting():
            self.driver.extend_volume(vol, 2)
        self.assertNoTypeLookup()
        self.assertEqual([], self.sql)
        self.assertEqual([{'size': 2 * GiB}],
                         [c['body'] for c in self.calls('VolumeUpdate')])
        self.assertEqual(2 * GiB, self.sp_volume(vol)['size'])

    def test_extend_with_per_gb_qos_reads_only_the_qos_specs(self):
        vol = self.volume(size=3, type_id=self.vtype('gold', TEMPLATE,
                                                     PER_GB))
        self.driver.create_volume(vol)
        self.clear_calls()
        with self.counting():
            self.driver.extend_volume(vol, 5)
        self.assertEqual((0, 1, 0), (
            self.count('get_volume_type_extra_specs'),
            self.count('get_volume_type_qos_specs'),
            self.count('VolumeType.get_by_id')))
        self.assertEqual(['VolumeUpdate'], self.queries())
        spv = self.sp_volume(vol)
        self.assertEqual((5 * GiB, 500, 50 * 1024, 'ssd'),
                         (spv['size'], spv['iops'], spv['bw'],
                          spv['templateName']))

    # Snapshots do not look at the type at all.

    def test_snapshot_makes_no_type_lookup(self):
        vol = self.volume(type_id=self.vtype('gold', TEMPLATE, PER_GB))
        self.driver.create_volume(vol)
        snap = self.snapshot(vol)
        self.clear_calls()
        with self.counting():
            self.driver.create_snapshot(snap)
        self.assertNoTypeLookup()
        self.assertEqual(['VolumeSnapshot'], self.queries())
        self.assertIn(self.sname(snap), self.snapshots())

    # Fresh, not cached: a volume read after a change sees the change.

    def test_type_changes_are_seen(self):
        type_id = self.vtype('gold', TEMPLATE)
        first = self.volume(type_id=type_id)
        self.driver.create_volume(first)
        volume_types.update(self.ctxt, type_id, None, None)
        db_api.volume_type_extra_specs_update_or_create(
            self.ctxt, type_id, {'storpool_template': 'hdd'})
        spec = self.vtype('limited', {}, {'total_iops_sec': '77'})
        qos_id = volume_types.get_volume_type_qos_specs(spec)[
            'qos_specs']['id']
        from cinder.volume import qos_specs
        qos_specs.associate_qos_with_type(self.ctxt, qos_id, type_id)
        # As the volume manager has it: read from the database.
        second = objects.Volume.get_by_id(self.ctxt,
                                          self.volume(type_id=type_id).id)
        self.driver.create_volume(second)
        self.assertEqual(('ssd', '-'), (self.sp_volume(first)['templateName'],
                                        self.sp_volume(first)['iops']))
        self.assertEqual(('hdd', 77), (self.sp_volume(second)['templateName'],
                                       self.sp_volume(second)['iops']))

    # Without a loaded type of its own, the driver looks the type up.

    def test_type_not_loaded_is_looked_up(self):
        type_id = self.vtype('gold', TEMPLATE, PER_GB)
        created = self.volume(size=2, type_id=type_id)
        vol = objects.Volume(self.ctxt, id=created.id, _name_id=None,
                             size=2, volume_type_id=type_id)
        self.assertFalse(vol.obj_attr_is_set('volume_type'))
        with self.counting():
            self.driver.create_volume(vol)
        self.assertEqual((1, 1), (
            self.count('get_volume_type_extra_specs'),
            self.count('get_volume_type_qos_specs')))
        self.assertFalse(vol.obj_attr_is_set('volume_type'))
        spv = self.sp_volume(vol)
        self.assertEqual(('ssd', 200), (spv['templateName'], spv['iops']))

    def test_type_of_another_id_is_not_used(self):
        other = self.vtype('other', {'storpool_template': 'hdd'})
        vol = self.volume(type_id=self.vtype('gold', TEMPLATE))
        self.assertEqual('ssd', vol.volume_type.extra_specs[
            'storpool_template'])
        vol.volume_type_id = other
        with self.counting():
            self.driver.create_volume(vol)
        self.assertEqual(1, self.count('get_volume_type_extra_specs'))
        self.assertEqual('hdd', self.sp_volume(vol)['templateName'])
