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

"""storpool.spopenstack.AttachDB (3.2.0) against the emulator.

AttachDB syncs its JSON file with AttachmentsList/VolumesList/
SnapshotsList and attaches through VolumesReassign on this host.
"""

import json
import logging
import os
import types

import fixtures
from storpool.spopenstack import spattachdb

from tests.unit.emulator import base


class _DevRedirect(object):
    """Stands in for ``os`` inside spattachdb, and only there.

    After attaching, AttachDB polls the hard-coded ``/dev/storpool/<name>``
    for up to 10 s; the emulator's devices live under the fixture's
    temporary dev dir, so that one check is redirected there.  Everything
    else is the real ``os`` module.
    """

    def __init__(self, dev_dir: str) -> None:
        self._dev_dir = dev_dir
        self.seen = []
        self.path = types.SimpleNamespace(exists=self._exists)

    def _exists(self, path: str) -> bool:
        self.seen.append(path)
        if path.startswith('/dev/storpool/'):
            path = os.path.join(self._dev_dir, path[len('/dev/'):])
        return os.path.exists(path)

    def __getattr__(self, name: str):
        return getattr(os, name)


class _Sleeps(object):
    """Stands in for ``time`` inside spattachdb: records, never sleeps.

    Only spattachdb's own sleeps (the device poll, the 0.2 s detach
    retries) are affected; the global ``time.sleep`` stays real.
    """

    def __init__(self) -> None:
        self.calls = []

    def sleep(self, secs: float) -> None:
        self.calls.append(secs)


class AttachDBTestCase(base.TestCase):

    in_process = False
    device_mode = 'auto'

    def setUp(self) -> None:
        super().setUp()
        dbdir = self.useFixture(fixtures.TempDir()).path
        self.dbfile = os.path.join(dbdir, 'openstack-attach.json')
        with open(self.dbfile, 'w') as fobj:
            fobj.write('{}\n')
        self.redirect = _DevRedirect(self.emu.dev_dir)
        self.useFixture(fixtures.MonkeyPatch(
            'storpool.spopenstack.spattachdb.os', self.redirect))
        self.db = spattachdb.AttachDB(logging.getLogger('attachdb'),
                                      fname=self.dbfile,
                                      override_config=self.emu.config)
        self.db.config()

    def patch_sleep(self) -> _Sleeps:
        sleeps = _Sleeps()
        self.useFixture(fixtures.MonkeyPatch(
            'storpool.spopenstack.spattachdb.time', sleeps))
        return sleeps

    def test_sync_attach_detach(self) -> None:
        name = self.db.volumeName('1111')
        self.assertEqual('os--volume-1111', name)
        api = self.db.api()
        api.volumeCreate({'name': name, 'size': base.GiB})
        self.emu.control.clear_calls()
        self.db.add('req-1', {'volume': name, 'type': 'cinder-attach',
                              'id': 'req-1', 'rights': 2,
                              'volsnap': False})
        sleeps = self.patch_sleep()
        self.db.sync('req-1', None)
        # The device was there at the first look: no waiting at all.
        self.assertEqual([], sleeps.calls)
        self.assertEqual(['/dev/storpool/' + name], self.redirect.seen)
        self.assertTrue(os.path.exists(self.dev_path(name)))
        self.assertEqual(
            ['AttachmentsList', 'VolumesList', 'SnapshotsList',
             'VolumesReassign'], self.emu.control.queries())
        self.assertEqual([{'volume': name, 'rw': [1], 'force': False}],
                         self.emu.control.calls('VolumesReassign')[0]
                         ['body'])
        atts = self.emu.control.state()['attachments']
        self.assertEqual([(name, 1, 'rw')],
                         [(a['volume'], a['client'], a['rights'])
                          for a in atts])
        # A second sync sees the attachment and changes nothing.
        self.emu.control.clear_calls()
        self.db.sync('req-1', None)
        self.assertNotIn('VolumesReassign', self.emu.control.queries())

        self.emu.control.clear_calls()
        self.db.sync('req-1', name)
        self.db.remove('req-1')
        self.assertEqual([{'volume': name, 'detach': [1], 'force': False}],
                         self.emu.control.calls('VolumesReassign')[0]
                         ['body'])
        self.assertEqual([], self.emu.control.state()['attachments'])
        self.assertFalse(os.path.lexists(self.dev_path(name)))
        with open(self.dbfile) as fobj:
            self.assertEqual({}, json.load(fobj))

    def test_sync_detach_retries_busy_then_forces(self) -> None:
        name = self.db.volumeName('2222')
        self.db.api().volumeCreate({'name': name, 'size': base.GiB})
        self.db.add('req-2', {'volume': name, 'type': 'brick',
                              'id': 'req-2', 'rights': 2,
                              'volsnap': False})
        self.db.sync('req-2', None)
        fd = os.open(self.dev_path(name), os.O_RDONLY)
        try:
            sleeps = self.patch_sleep()
            self.db.sync('req-2', name)
        finally:
            os.close(fd)
        reassigns = self.emu.control.calls('VolumesReassign')[1:]
        # AttachDB recognises "is open at", retries 10 times, then forces.
        self.assertEqual(['busy'] * 10 + [None],
                         [c['error'] for c in reassigns])
        self.assertEqual([0.2] * 10, sleeps.calls)
        self.assertEqual([False] * 10 + [True],
                         [c['body'][0]['force'] for c in reassigns])
        self.assertEqual([], self.emu.control.state()['attachments'])

    def test_sync_drops_entries_of_deleted_volumes(self) -> None:
        self.db.add('req-3', {'volume': 'os--volume-gone', 'type': 'brick',
                              'id': 'req-3', 'rights': 1,
                              'volsnap': False})
        self.db.add('req-4', {'volume': 'os--volume-4', 'type': 'brick',
                              'id': 'req-4', 'rights': 1,
                              'volsnap': False})
        self.db.api().volumeCreate({'name': 'os--volume-4',
                                    'size': base.GiB})
        self.db.sync('req-4', None)
        self.assertEqual(['req-4'], sorted(self.db.get()))
        atts = self.emu.control.state()['attachments']
        self.assertEqual([('os--volume-4', 'ro')],
                         [(a['volume'], a['rights']) for a in atts])
        self.db.sync('req-4', 'os--volume-4')
