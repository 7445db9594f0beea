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
"""StorPool tags from volume types: vc-policy and storpool:tag:<name>."""

from cinder import exception
import ddt

from storpool_openstack.cinder import policy
from tests.unit.cinder import base


@ddt.ddt
class TagsTestCase(base.DriverTestCase):

    def test_create_sets_every_tag_in_one_call(self):
        vol = self.volume(type_id=self.vtype('vc', {
            'storpool:vc_policy': 'daily-7',
            'storpool:tag:team': 'db',
            'storpool:qos_class': 'gold'}))
        self.driver.create_volume(vol)
        self.assertEqual(['VolumeCreate'], self.queries())
        self.assertEqual({'vc-policy': 'daily-7', 'team': 'db', 'qc': 'gold'},
                         self.sp_volume(vol)['tags'])

    @ddt.data(
        ('storpool:tag:bad name', 'x', 'tag name'),
        ('storpool:tag:', 'x', 'tag name'),
        ('storpool:tag:team', 'two words', 'tag value'),
        ('storpool:tag:team', '', 'tag value'),
        ('storpool:vc_policy', 'a/b', 'tag value'),
        ('storpool:tag:' + 'n' * 200, 'x', 'tag name'),
        ('storpool:tag:qc', 'gold', 'storpool:qos_class'),
        ('storpool:tag:osvm', 'x', 'Nova'),
        ('storpool:tag:vc-policy', 'weekly', 'also set'),
    )
    @ddt.unpack
    def test_refused_tag_names_the_spec(self, spec, value, why):
        extra = {spec: value}
        if spec == 'storpool:tag:vc-policy':
            extra['storpool:vc_policy'] = 'daily'
        vol = self.volume(type_id=self.vtype('bad', extra))
        exc = self.assertRaises(exception.InvalidVolumeType,
                                self.driver.create_volume, vol)
        self.assertIn(spec, str(exc))
        self.assertIn(why, str(exc))
        # Refused before any call: nothing to clean up.
        self.assertEqual([], self.queries())
        self.assertEqual({}, self.state()['volumes'])

    def test_same_tag_twice_with_one_value_is_fine(self):
        self.assertEqual({'vc-policy': 'daily'}, policy.tags_from_specs(
            {'storpool:vc_policy': 'daily',
             'storpool:tag:vc-policy': 'daily'}))

    def test_derived_volumes_follow_their_own_type(self):
        src = self.volume(type_id=self.vtype('src', {
            'storpool:vc_policy': 'daily', 'storpool:tag:team': 'db',
            'storpool:tag:app': 'erp'}))
        self.driver.create_volume(src)
        dst_type = self.vtype('dst', {'storpool:tag:team': 'web'})
        snap = self.snapshot(src)
        self.driver.create_snapshot(snap)
        for make in (lambda v: self.driver.create_cloned_volume(v, src),
                     lambda v: self.driver.create_volume_from_snapshot(
                         v, snap)):
            for type_id, want in (
                    (dst_type, {'team': 'web'}),
                    (src.volume_type_id, {'vc-policy': 'daily',
                                          'team': 'db', 'app': 'erp'})):
                vol = self.volume(type_id=type_id)
                self.clear_calls()
                make(vol)
                self.assertEqual(['VolumeCreate'], self.queries())
                self.assertEqual(want, self.sp_volume(vol)['tags'])

    def test_retype_to_a_refused_tag_changes_nothing(self):
        vol = self.volume(type_id=self.vtype('ok', {
            'storpool:vc_policy': 'daily'}))
        self.driver.create_volume(vol)
        bad = self.vtype('bad', {'storpool:vc_policy': 'no way'})
        self.clear_calls()
        exc = self.assertRaises(
            exception.InvalidVolumeType, self.driver.retype, self.ctxt,
            vol, {'id': bad, 'name': 'bad'}, {}, {'host': vol.host})
        self.assertIn('extra spec storpool:vc_policy', str(exc))
        self.assertEqual([], self.queries())
        self.assertEqual({'vc-policy': 'daily'},
                         self.sp_volume(vol)['tags'])
