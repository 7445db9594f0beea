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
"""Volume life cycle through the Cinder REST API, checked on the emulator."""

from tests.functional import base

GiB = base.GiB


class VolumeLifeCycleTest(base.StorPoolFunctionalTestBase):

    def test_create_delete(self):
        mark = self.emu_mark()
        vol = self.create_volume(2)
        name = self.vol_name(vol['id'])
        volumes = self.emu_volumes()
        self.assertEqual([name], list(volumes))
        self.assertEqual(2 * GiB, volumes[name]['size'])
        self.assertEqual(1, self.emu_call_names(mark).count('VolumeCreate'))

        mark = self.emu_mark()
        self.delete_volume(vol['id'])
        self.assertEqual({}, self.emu_volumes())
        self.assertEqual(['VolumeDelete'],
                         [c for c in self.emu_call_names(mark)
                          if not c.endswith('List') and c != 'DisksList'
                          and not c.startswith('VolumeTemplates')])
        self.assert_emulator_empty()
