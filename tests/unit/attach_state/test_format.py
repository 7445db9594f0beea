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
"""The file format and data model, checked against AttachDB 3.2.0 itself."""

import grp
import json
import logging
import os
import stat
import time

import ddt
from oslotest import base
from storpool.spopenstack import AttachDB

from storpool_openstack import attach_state
from storpool_openstack.common import names
from tests.unit.attach_state import base as state_base
from tests.unit.attach_state.base import side_pending


def attachdb(path: str) -> AttachDB:
    return AttachDB(logging.getLogger('attachdb'), fname=path)


class FormatTestCase(state_base.FileTestCase):
    def test_ours_read_by_attachdb(self):
        state = attach_state.AttachState(self.path)
        state.add('req-1', 'os--volume-1111', kind='cinder-attach',
                  rights=attach_state.RIGHTS_RW)
        state.add('req-2', 'os--snap--none--snapshot-2', kind='backup',
                  rights=attach_state.RIGHTS_RO, volsnap=True,
                  remove_on_detach=True)
        # Byte for byte what AttachDB's json.dumps defaults would write.
        want = {
            'req-1': {'volume': 'os--volume-1111', 'type': 'cinder-attach',
                      'id': 'req-1', 'rights': 2, 'volsnap': False,
                      'remove_on_detach': False},
            'req-2': {'volume': 'os--snap--none--snapshot-2',
                      'type': 'backup', 'id': 'req-2', 'rights': 1,
                      'volsnap': True, 'remove_on_detach': True},
        }
        self.assertEqual(json.dumps(want).encode(), self.raw())
        self.assertEqual(want, attachdb(self.path).get())

    def test_attachdb_written_read_by_ours(self):
        with open(self.path, 'w') as f:
            f.write('{}\n')  # what StorPool's installer provisions
        db = attachdb(self.path)
        db.add('req-1', {'volume': 'os--volume-1111',
                         'type': 'cinder-attach', 'id': 'req-1',
                         'rights': 2, 'volsnap': False})
        db.add('req-2', {'volume': 'os--volume-1111', 'type': 'brick',
                         'id': 'req-2', 'rights': 1, 'volsnap': False})
        entries = attach_state.AttachState(self.path).entries()
        self.assertEqual(db.get(), entries)
        self.assertEqual(2, attach_state.wanted_rights(entries,
                                                       'os--volume-1111'))

    def test_attachdb_add_remove_on_our_file(self):
        state = attach_state.AttachState(self.path)
        state.add('ours', 'os--volume-1', kind='brick', rights=2)
        ino = os.stat(self.path).st_ino
        db = attachdb(self.path)
        db.add('theirs', {'volume': 'os--volume-2', 'type': 'brick',
                          'id': 'theirs', 'rights': 1, 'volsnap': False})
        self.assertEqual({'ours', 'theirs'}, set(state.entries()))
        db.remove('ours')
        self.assertEqual(['theirs'], list(state.entries()))
        state.remove('theirs')
        self.assertEqual({}, db.get())
        self.assertEqual(ino, os.stat(self.path).st_ino)  # same inode

    def test_same_size_rewrite_seen_by_attachdb(self):
        # AttachDB trusts its cache while (ino, mtime, size) hold; pin the
        # mtime in the future (as a coarse clock tick or a clock step
        # would) and make a same-size change: the mtime must still move.
        state = attach_state.AttachState(self.path)
        state.add('req-a', 'os--volume-1', kind='brick', rights=2)
        future = time.time_ns() + 30 * 10 ** 9
        os.utime(self.path, ns=(future, future))
        db = attachdb(self.path)
        self.assertEqual(['req-a'], list(db.get()))
        size = os.stat(self.path).st_size
        with state.locked() as entries:
            entries['req-b'] = dict(entries.pop('req-a'), id='req-b')
        after = os.stat(self.path)
        self.assertEqual(size, after.st_size)
        self.assertGreater(after.st_mtime, future / 1e9)
        self.assertEqual(['req-b'], list(db.get()))

    def test_no_write_without_change(self):
        state = attach_state.AttachState(self.path)
        state.add('req-a', 'os--volume-1', kind='brick', rights=2)
        before = os.stat(self.path)
        with state.locked() as entries:
            entries['req-a']['rights'] = 2
        self.assertEqual(before.st_mtime_ns,
                         os.stat(self.path).st_mtime_ns)
        self.assertEqual({'req-a'}, set(state.entries()))

    def test_exception_writes_nothing(self):
        state = attach_state.AttachState(self.path)
        state.add('req-a', 'os--volume-1', kind='brick', rights=2)
        before = self.raw()

        def clear_and_fail():
            with state.locked() as entries:
                entries.clear()
                raise RuntimeError('boom')
        self.assertRaises(RuntimeError, clear_and_fail)
        self.assertEqual(before, self.raw())
        self.assertFalse(side_pending(state.side_path))

    def test_created_when_missing(self):
        state = attach_state.AttachState(self.path)
        self.assertEqual({}, state.entries())
        st = os.stat(self.path)
        self.assertEqual(0o660, stat.S_IMODE(st.st_mode))
        try:
            gid = grp.getgrnam(names.ATTACH_STATE_GROUP).gr_gid
        except KeyError:
            gid = None
        if gid is not None:
            self.assertEqual(gid, st.st_gid)
        self.assertEqual(b'{}', self.raw())
        self.assertEqual(['openstack-attach.json'], os.listdir(self.dir))
        self.assertEqual({}, attachdb(self.path).get())

    def test_nested_lock_refused(self):
        state = attach_state.AttachState(self.path)
        with state.locked():
            err = self.assertRaises(attach_state.AttachStateError,
                                    state.entries)
        self.assertIn('nested', str(err))

    def test_stale_side_copy_ignored_and_removed(self):
        state = attach_state.AttachState(self.path)
        state.add('req-a', 'os--volume-1', kind='brick', rights=2)
        with open(state.side_path, 'w') as f:
            f.write('{"stale": {}}')
        self.assertEqual(['req-a'], list(state.entries()))
        self.assertFalse(side_pending(state.side_path))


@ddt.ddt
class EntriesTestCase(base.BaseTestCase):
    ENTRIES = {
        'a': attach_state.make_entry('a', 'v1', kind='brick', rights=1),
        'b': attach_state.make_entry('b', 'v1', kind='nova-attach',
                                     rights=2),
        'c': attach_state.make_entry('c', 'v2', kind='copy-to', rights=1),
        'd': attach_state.make_entry('d', 's1', kind='backup', rights=1,
                                     volsnap=True),
        'junk': {'volume': 'v3'},  # written by something else; skipped
    }

    @ddt.data(('v1', ['a', 'b'], 2), ('v2', ['c'], 1), ('s1', ['d'], 1),
              ('v3', [], 0), ('nope', [], 0))
    @ddt.unpack
    def test_users_and_rights(self, volume, users, rights):
        self.assertEqual(users, [e['id'] for e in
                                 attach_state.users_of(self.ENTRIES, volume)])
        self.assertEqual(rights,
                         attach_state.wanted_rights(self.ENTRIES, volume))

    def test_volumes(self):
        self.assertEqual({'v1': 2, 'v2': 1, 's1': 1},
                         attach_state.volumes(self.ENTRIES))
        self.assertTrue(attach_state.is_snapshot(self.ENTRIES, 's1'))
        self.assertFalse(attach_state.is_snapshot(self.ENTRIES, 'v1'))

    @ddt.data(
        (('', 'v'), {'kind': 'k', 'rights': 1}, 'request id'),
        (('r', ''), {'kind': 'k', 'rights': 1}, 'volume name'),
        (('r', 'v'), {'kind': 'k', 'rights': 3}, 'rights'),
        (('r', 's'), {'kind': 'k', 'rights': 2, 'volsnap': True},
         'read-only'),
    )
    @ddt.unpack
    def test_make_entry_refuses(self, args, kwargs, words):
        err = self.assertRaises(ValueError, attach_state.make_entry,
                                *args, **kwargs)
        self.assertIn(words, str(err))

    def test_make_entry_shape(self):
        self.assertEqual(
            ['volume', 'type', 'id', 'rights', 'volsnap',
             'remove_on_detach'],
            list(attach_state.make_entry('r', 'v', kind='k', rights=1)))
