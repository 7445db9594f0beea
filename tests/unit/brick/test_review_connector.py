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
"""Regression tests from the review of the connector's attach path."""

import os

from storpool_openstack import attach_state
from storpool_openstack.brick import exception
from tests.unit.brick import test_connector

VOL = test_connector.VOL
INST_A = test_connector.INST_A
_props = test_connector._props


class TestLegacyRecords(test_connector.ConnectorTestCase):
    """Records that os-brick <= 6.8 left (brick-<client_id>-<volume>)."""

    def setUp(self):
        super().setUp()
        self.legacy = f'brick-1-{VOL}'
        attach_state.AttachState(self.sp.state_file).add(
            self.legacy, self.name, kind='brick',
            rights=attach_state.RIGHTS_RW)
        self.sp.api.volumes_reassign([{'volume': self.name, 'rw': [1]}])

    def test_other_users_do_not_take_the_legacy_record(self):
        # A Cinder image copy of the in-use volume must not detach it
        # from under the instance that os-brick <= 6.8 recorded.
        props = _props(storpool_attach_type='cinder-image')
        self.conn.connect_volume(props)

        self.conn.disconnect_volume(props, None)

        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertEqual([self.legacy], list(self.sp.state()))

    def test_legacy_user_takes_only_its_volume_s_record(self):
        other = self.sp.create_volume('other')
        attach_state.AttachState(self.sp.state_file).add(
            'brick-1-other', other, kind='brick',
            rights=attach_state.RIGHTS_RW)
        props = _props(instance=INST_A, storpool_legacy_user=True)

        self.conn.disconnect_volume(props, None)

        self.assertEqual({}, self.sp.attachments(self.name))
        self.assertEqual(['brick-1-other'], list(self.sp.state()))


class TestUnrecordedAttachments(test_connector.ConnectorTestCase):
    """A volume attached here by something that keeps no record.

    os-brick's in-tree connector (6.9 and later) attaches with no
    attach-state record, so after an upgrade every running instance's
    volume is such a volume.
    """

    def setUp(self):
        super().setUp()
        self.sp.api.volumes_reassign([{'volume': self.name, 'rw': [1]}])

    def test_forced_disconnect_of_a_new_user_keeps_the_unknown_user(self):
        self.require_loop()
        self.hold_open(self.path)  # the instance's qemu
        # Cinder's copy_volume_to_image of the in-use volume: connect,
        # then disconnect with force=True, ignore_errors=True.
        props = _props(storpool_attach_type='cinder-image')
        info = self.conn.connect_volume(props)

        self.conn.disconnect_volume(props, info, force=True,
                                    ignore_errors=True)

        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertTrue(os.path.exists(self.path))
        self.assertEqual([], [c for c in self.sp.reassign_calls()
                              if 'detach' in c['reassign'][0]])
        self.assertEqual([f'rebuilt-{self.name}'], list(self.sp.state()))

    def test_readonly_user_does_not_downgrade_the_unknown_user(self):
        self.conn.connect_volume(_props(mode='ro'))

        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertEqual([], self.sp.reassign_calls())
        self.assertEqual(
            {f'rebuilt-{self.name}': 2, f'brick-1-{VOL}': 1},
            {k: v['rights'] for k, v in self.sp.state().items()})


class TestUnwritableState(test_connector.ConnectorTestCase):

    def test_attach_that_cannot_be_recorded_is_undone(self):
        # The new content's side copy cannot be written (here: a
        # directory is in its place; in production, e.g. a directory
        # the service may not write in): the connect fails, and must
        # not leave the volume attached with no record of a user.
        attach_state.AttachState(self.sp.state_file).entries()
        os.mkdir(self.sp.state_file + '.next')

        err = self.assertRaises(exception.AttachStateFailure,
                                self.conn.connect_volume, _props())

        self.assertIn('.next', str(err))
        self.assertEqual({}, self.sp.attachments())
        self.assertEqual({}, self.sp.state())
        self.assertEqual(
            [[{'volume': self.name, 'rw': [1], 'force': False}],
             [{'volume': self.name, 'detach': [1], 'force': False}]],
            [c['reassign'] for c in self.sp.reassign_calls()])

    def test_failed_record_keeps_the_volume_of_other_users(self):
        self.conn.connect_volume(_props(instance=INST_A))
        os.unlink(self.sp.state_file + '.next')  # the empty side copy
        os.mkdir(self.sp.state_file + '.next')

        self.assertRaises(exception.AttachStateFailure,
                          self.conn.connect_volume,
                          _props(instance=test_connector.INST_B))

        self.assertEqual({(self.name, 1): 'rw'}, self.sp.attachments())
        self.assertEqual([f'brick-1-{VOL}-{INST_A}'],
                         list(self.sp.state()))
