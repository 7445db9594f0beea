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
"""Volume types: templates, QoS classes, QoS specs, retype in place."""

import itertools

from cinder import exception
from cinder.tests.unit import test
import ddt

from storpool_openstack.cinder import policy
from tests.unit.cinder import base

GiB = base.GiB
MiB = 1 << 20

# The kinds of volume types a retype goes between.
KINDS = {
    'none': ({}, None),
    'tmplA': ({'storpool_template': 'hybrid'}, None),
    'tmplB': ({'storpool_template': 'ssd'}, None),
    'class': ({'storpool:qos_class': 'gold'}, None),
    'limits': ({}, {'consumer': 'back-end', 'total_iops_sec': '1000',
                    'total_bytes_sec': str(100 * MiB)}),
    'tmplB+perGB': ({'storpool_template': 'ssd',
                     'storpool:qos_class': 'silver'},
                    {'consumer': 'both', 'total_iops_sec_per_gb': '100'}),
    'tags': ({'storpool:vc_policy': 'daily', 'storpool:tag:team': 'db'},
             None),
    'tmplA+tag': ({'storpool_template': 'hybrid',
                   'storpool:tag:team': 'web'}, None),
}


@ddt.ddt
class PolicyTestCase(test.TestCase):
    """Cinder QoS specs -> StorPool limits, without a cluster."""

    @ddt.data(
        ({}, 10, (None, None, False)),
        ({'total_iops_sec': '500'}, 10, (500, None, False)),
        ({'total_bytes_sec': str(10 * MiB)}, 10, (None, 10240, False)),
        ({'total_bytes_sec': '1000'}, 1, (None, 1, False)),
        ({'total_iops_sec': '0', 'total_bytes_sec': '0'}, 1,
         (None, None, False)),
        ({'total_iops_sec_per_gb': '30'}, 10, (300, None, True)),
        ({'total_iops_sec_per_gb': '30', 'total_iops_sec_per_gb_min': '500'},
         10, (500, None, True)),
        ({'total_iops_sec_per_gb': '30', 'total_iops_sec_max': '200'}, 10,
         (200, None, True)),
        ({'total_bytes_sec_per_gb': str(MiB)}, 5, (None, 5120, True)),
        ({'read_iops_sec': '100'}, 5, (None, None, False)),
    )
    @ddt.unpack
    def test_limits(self, specs, size, expected):
        self.assertEqual(expected, policy.limits_from_qos(specs, size))

    @ddt.data({'total_iops_sec': 'lots'}, {'total_bytes_sec': '-5'},
              {'total_iops_sec_per_gb': 'nan'})
    def test_bad_limits(self, specs):
        exc = self.assertRaises(exception.InvalidQoSSpecs,
                                policy.limits_from_qos, specs, 1)
        self.assertIn(list(specs)[0], str(exc))


@ddt.ddt
class TypesTestCase(base.DriverTestCase):

    def make_type(self, kind: str, name: str | None = None) -> str:
        extra, qos = KINDS[kind]
        return self.vtype(name or kind, dict(extra),
                          dict(qos) if qos else None)

    def test_create_with_class_and_limits(self):
        type_id = self.vtype('gold', {'storpool_template': 'ssd',
                                      'storpool:qos_class': 'gold'},
                             {'consumer': 'back-end',
                              'total_iops_sec_per_gb': '100',
                              'total_bytes_sec': str(50 * MiB)})
        vol = self.volume(size=3, type_id=type_id)
        self.driver.create_volume(vol)
        self.assertEqual(['VolumeCreate'], self.queries())
        spv = self.sp_volume(vol)
        self.assertEqual(('ssd', 300, 50 * 1024, {'qc': 'gold'}),
                         (spv['templateName'], spv['iops'], spv['bw'],
                          spv['tags']))
        # Per-GB limits follow the size, in the same single call.
        self.clear_calls()
        self.driver.extend_volume(vol, 5)
        self.assertEqual(['VolumeUpdate'], self.queries())
        spv = self.sp_volume(vol)
        self.assertEqual((5 * GiB, 500, 50 * 1024),
                         (spv['size'], spv['iops'], spv['bw']))

    @ddt.data(('front-end', '-'), (None, 100), ('both', 100))
    @ddt.unpack
    def test_qos_consumer(self, consumer, iops):
        # Cinder's own default consumer is back-end.
        specs = {'total_iops_sec': '100'}
        if consumer:
            specs['consumer'] = consumer
        vol = self.volume(type_id=self.vtype('fe', {}, specs))
        self.driver.create_volume(vol)
        self.assertEqual(iops, self.sp_volume(vol)['iops'])

    def test_config_qos_class(self):
        drv = self.make_driver(storpool_qos_class='bronze')
        vol = self.volume()
        drv.create_volume(vol)
        self.assertEqual({'qc': 'bronze'}, self.sp_volume(vol)['tags'])

    def test_clone_follows_its_own_type(self):
        src = self.volume(type_id=self.make_type('limits'))
        self.driver.create_volume(src)
        self.driver._api.volume_update(self.vname(src),
                                       {'tags': {'qc': 'old'}})
        dst = self.volume(type_id=self.make_type('none'))
        self.driver.create_cloned_volume(dst, src)
        spv = self.sp_volume(dst)
        self.assertEqual(('-', '-', {}),
                         (spv['iops'], spv['bw'], spv['tags']))

    @ddt.data(*itertools.permutations(KINDS, 2))
    @ddt.unpack
    def test_retype(self, src_kind, dst_kind):
        src_type = self.make_type(src_kind)
        dst_type = self.make_type(dst_kind)
        vol = self.volume(size=2, type_id=src_type)
        self.driver.create_volume(vol)
        # os-brick's tags on an attached volume must survive.
        self.driver._api.volume_update(
            self.vname(vol), {'tags': {'disk': 'vda', 'osvm': 'vm-1'}})
        ref = self.volume(size=2, type_id=dst_type)
        self.driver.create_volume(ref)
        self.clear_calls()

        new_type = {'id': dst_type, 'name': dst_kind}
        self.assertTrue(self.driver.retype(
            self.ctxt, vol, new_type, {'encryption': {}},
            {'host': f'{base.HOST}@storpool#default'}))

        self.assertLessEqual(len(self.queries()), 1)
        self.assertEqual(set(self.queries()) - {'VolumeUpdate'}, set())
        got = self.sp_volume(vol)
        want = self.sp_volume(ref)
        self.assertEqual({'disk': 'vda', 'osvm': 'vm-1'},
                         {k: got['tags'].get(k) for k in ('disk', 'osvm')})
        fields = ('iops', 'bw', 'replication')
        if KINDS[dst_kind][0].get('storpool_template'):
            fields += ('templateName',)
        self.assertEqual({f: want[f] for f in fields},
                         {f: got[f] for f in fields})
        for tag in ('qc', 'vc-policy', 'team'):
            self.assertEqual(want['tags'].get(tag), got['tags'].get(tag),
                             tag)

    def test_retype_same_settings_makes_no_call(self):
        vol = self.volume(type_id=self.make_type('tmplA'))
        self.driver.create_volume(vol)
        other = self.vtype('also-hybrid', {'storpool_template': 'hybrid'})
        self.clear_calls()
        self.assertTrue(self.driver.retype(self.ctxt, vol, {'id': other},
                                           {}, {'host': vol.host}))
        self.assertEqual([], self.queries())

    @ddt.data(({'encryption': {'cipher': (None, 'aes')}},
               f'{base.HOST}@storpool#default'),
              ({}, f'{base.HOST}@other#default'))
    @ddt.unpack
    def test_retype_needs_migration(self, diff, host):
        vol = self.volume(type_id=self.make_type('tmplA'))
        self.driver.create_volume(vol)
        self.clear_calls()
        self.assertFalse(self.driver.retype(
            self.ctxt, vol, {'id': self.make_type('tmplB')}, diff,
            {'host': host}))
        self.assertEqual([], self.queries())

    def test_retype_error(self):
        vol = self.volume(type_id=self.make_type('tmplA'))
        self.assertRaises(exception.VolumeNotFound, self.driver.retype,
                          self.ctxt, vol, {'id': self.make_type('tmplB')},
                          {}, {'host': vol.host})
