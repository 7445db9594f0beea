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
"""`storpool-openstack deferred [list]` against a real emulator.

The kept volumes are made as the driver's delete_volume makes them: the
driver's `deferred.defer`, then the volume deleted.
"""

import json
import time

import ddt

from storpool_openstack.cinder import deferred
from storpool_openstack.cinder import image_cache
from storpool_openstack.common import names
from tests.unit.ops import base

GIB = 1 << 30
HOUR = 3600
DRIVER = 'storpool_openstack.cinder.driver.StorPoolDriver'
VOL_OLD = 'aaaaaaaa-0000-4000-8000-000000000001'
VOL_NEW = 'bbbbbbbb-0000-4000-8000-000000000002'


def utc(epoch: int) -> str:
    return time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(epoch))


@ddt.ddt
class DeferredTestCase(base.CLITestCase):

    def setUp(self):
        super().setUp()
        self.start_cluster()
        self.now = int(time.time())
        self.no_cinder_conf = self.tmp + '/no-cinder.conf'

    def delete_deferred(self, volume_id: str, deleted_at: int,
                        size: int = GIB) -> str:
        """What delete_volume does with deferred deletion on."""
        name = names.volume_name(volume_id, self.prefix)
        self.api.volume_create({'name': name, 'size': size})
        kept = deferred.defer(self.api, name, volume_id, self.prefix,
                              now=deleted_at)
        self.api.volume_delete(name)
        return kept

    def two(self) -> tuple[str, str]:
        """One deleted 30 h ago, one 1.5 h ago (newest last)."""
        new = self.delete_deferred(VOL_NEW, self.now - 90 * 60, 2 * GIB)
        old = self.delete_deferred(VOL_OLD, self.now - 30 * HOUR)
        return old, new

    def noise(self) -> None:
        vol = names.volume_name('live', self.prefix)
        self.api.volume_create({'name': vol, 'size': GIB})
        self.api.snapshot_create(vol, {'name': names.snapshot_name(
            'snap-1', self.prefix)})
        self.api.snapshot_create(vol, {'name': image_cache.cache_snapshot_name(
            'img', 'abc', self.prefix)})
        self.api.snapshot_create(vol, {'name': deferred.snapshot_name(
            'other', 'other', 5)})
        # Tagged with garbage: the driver leaves it alone, so do we.
        self.api.snapshot_create(vol, {
            'name': deferred.snapshot_name('bad', self.prefix, 7),
            'tags': {deferred.TAG: 'soon'}})

    def deferred_cmd(self, *extra: str) -> base.Result:
        return self.run_cli('deferred', *extra, '--storpool-conf',
                            self.emu.conf_path)

    def cinder_conf(self, text: str) -> str:
        return self.write('cinder.conf', text)

    def snapshots(self) -> list[str]:
        return sorted(s['name'] for s in self.api.snapshots_list())

    def test_list_hours(self):
        old, new = self.two()
        self.noise()
        before = self.snapshots()
        self.emu.control.clear_calls()
        res = self.deferred_cmd('--hours', '24', '--cinder-conf',
                                self.no_cinder_conf)
        self.assertEqual(0, res.code, res)
        self.assertEqual('', res.err)
        old_at, new_at = self.now - 30 * HOUR, self.now - 90 * 60
        self.assertEqual([
            f'deferred deletions of volume prefix "os", kept 24 h '
            f'(--hours), StorPool API http://{self.emu.host}:'
            f'{self.emu.port}',
            'VOLUME                                SIZE   DELETED      '
            '         DELETED FOR GOOD' + ' ' * 16 + 'SNAPSHOT',
            f'{VOL_OLD}  1 GiB  {utc(old_at)}  due since '
            f'{utc(old_at + 24 * HOUR)}  {old}',
            f'{VOL_NEW}  2 GiB  {utc(new_at)}  '
            f'{utc(new_at + 24 * HOUR)} (in 22 h)  {new}',
            '2 volume(s), 3 GiB; 1 due: cinder-volume deletes them while '
            'it runs, every storpool_deferred_delete_purge_interval '
            'seconds (default 60), up to '
            'storpool_deferred_delete_purge_batch (default 100) at a time',
            'to get a volume back, create a StorPool volume from its '
            'snapshot before then and "cinder manage" it',
        ], res.out.splitlines())
        # One read, nothing changed.
        self.assertEqual(['SnapshotsList'], self.emu.control.queries())
        self.assertEqual(before, self.snapshots())

    def test_json(self):
        old, new = self.two()
        res = self.deferred_cmd('list', '--json', '--hours', '24')
        self.assertEqual(0, res.code, res)
        data = json.loads(res.out)
        gids = {s['name']: s['globalId'] for s in self.api.snapshots_list()}
        old_at, new_at = self.now - 30 * HOUR, self.now - 90 * 60
        self.assertEqual({'hours': 24, 'hours_from': '--hours', 'volumes': [
            {'volume_id': VOL_OLD, 'snapshot': old, 'size': GIB,
             'globalId': gids[old], 'deleted_at': old_at,
             'expires_at': old_at + 24 * HOUR, 'due': True},
            {'volume_id': VOL_NEW, 'snapshot': new, 'size': 2 * GIB,
             'globalId': gids[new], 'deleted_at': new_at,
             'expires_at': new_at + 24 * HOUR, 'due': False}]}, data)

    def test_agrees_with_the_driver_reap(self):
        """What the list calls due is what the driver's reap deletes."""
        old, new = self.two()
        res = self.deferred_cmd('--json', '--hours', '24')
        due = [v['snapshot'] for v in json.loads(res.out)['volumes']
               if v['due']]
        self.assertEqual(due, deferred.reap(self.api, self.prefix, 24))
        self.assertEqual([new], self.snapshots())

    @ddt.data(
        # (cinder.conf, --backend, hours, source)
        (f'[DEFAULT]\nenabled_backends = sp\n'
         f'storpool_deferred_delete_hours = 99\n'
         f'[sp]\nvolume_driver = {DRIVER}\n'
         f'storpool_deferred_delete_hours = 48\n', None, 48, '[sp]'),
        (f'[backend_defaults]\nstorpool_deferred_delete_hours = 12\n'
         f'[sp]\nvolume_driver = {DRIVER}\n', None, 12, '[sp]'),
        (f'[DEFAULT]\nstorpool_deferred_delete_hours = 99\n'
         f'[sp]\nvolume_driver = {DRIVER}\n', None, 0, '[sp]'),
        (f'[a]\nvolume_driver = {DRIVER}\n'
         f'storpool_deferred_delete_hours = 6\n'
         f'[b]\nvolume_driver = {DRIVER}\n'
         f'storpool_deferred_delete_hours = 6\n'
         f'[lvm]\nvolume_driver = cinder.volume.drivers.lvm.LVMVolumeDriver'
         f'\nstorpool_deferred_delete_hours = 1\n', None, 6, '[a], [b]'),
        (f'[a]\nvolume_driver = {DRIVER}\n'
         f'storpool_deferred_delete_hours = 6\n'
         f'[b]\nvolume_driver = {DRIVER}\n'
         f'storpool_deferred_delete_hours = 7\n', 'b', 7, '[b]'),
        ('[lvm]\nvolume_driver = x\n', None, None, 'unknown: no backend'),
    )
    @ddt.unpack
    def test_hours_from_cinder_conf(self, text, backend, hours, source):
        self.delete_deferred(VOL_OLD, self.now - 30 * HOUR)
        path = self.cinder_conf(text)
        args = ['--json', '--cinder-conf', path]
        if backend:
            args += ['--backend', backend]
        res = self.deferred_cmd(*args)
        self.assertEqual(0, res.code, res)
        data = json.loads(res.out)
        self.assertEqual(hours, data['hours'])
        self.assertTrue(data['hours_from'].startswith(source),
                        data['hours_from'])
        item = data['volumes'][0]
        if hours:
            self.assertEqual(item['deleted_at'] + hours * HOUR,
                             item['expires_at'])
        else:
            self.assertEqual((None, None),
                             (item['expires_at'], item['due']))

    def test_deferred_deletion_off(self):
        old = self.delete_deferred(VOL_OLD, self.now - 30 * HOUR)
        path = self.cinder_conf(f'[sp]\nvolume_driver = {DRIVER}\n')
        res = self.deferred_cmd('--cinder-conf', path)
        self.assertEqual(0, res.code, res)
        lines = res.out.splitlines()
        self.assertIn(f'deferred deletion off ([sp] of {path})', lines[0])
        self.assertIn('  never (deferred deletion is off)  ' + old, lines[2])
        self.assertEqual('1 volume(s), 1 GiB; with deferred deletion off '
                         'nothing deletes them: delete the snapshots by '
                         'hand when they are not needed', lines[3])

    def test_hours_unknown(self):
        self.delete_deferred(VOL_OLD, self.now - 30 * HOUR)
        res = self.deferred_cmd('--cinder-conf', self.no_cinder_conf)
        self.assertEqual(0, res.code, res)
        lines = res.out.splitlines()
        self.assertIn(f'retention unknown: {self.no_cinder_conf} not '
                      f'found; pass --hours N', lines[0])
        self.assertIn(' unknown ', lines[2])
        self.assertEqual('1 volume(s), 1 GiB; pass --hours N or '
                         '--cinder-conf to see when they go', lines[3])

    def test_hours_unknown_but_each_row_knows(self):
        """No "retention unknown" above a table that shows when each goes."""
        name = names.volume_name(VOL_NEW, self.prefix)
        self.api.volume_create({'name': name, 'size': GIB})
        deferred.defer(self.api, name, VOL_NEW, self.prefix,
                       now=self.now - HOUR, hours=48)
        self.api.volume_delete(name)
        res = self.deferred_cmd('--cinder-conf', self.no_cinder_conf)
        self.assertEqual(0, res.code, res)
        lines = res.out.splitlines()
        self.assertNotIn('unknown', res.out)
        self.assertIn('each kept until the time its deletion recorded',
                      lines[0])
        self.assertRegex(lines[2], r'\(in 4[67] h\)')
        self.assertEqual('1 volume(s), 1 GiB', lines[3])

    def test_wrong_token_names_file_endpoint_fix(self):
        conf = self.write('sp.conf', open(self.emu.conf_path).read(
        ).replace(self.emu.token, '9999888877776666'))
        for argv in (('deferred', '--hours', '1'), ('image-cache',),
                     ('attachments', '--attach-state-file',
                      self.write('attach.json', '{}'))):
            res = self.run_cli(*argv, '--storpool-conf', conf)
            self.assertEqual(1, res.code, res)
            self.assertIn(f'the StorPool API at http://127.0.0.1:'
                          f'{self.emu.port} refused the token from '
                          f'SP_AUTH_TOKEN in {conf}; copy SP_AUTH_TOKEN '
                          f'from /etc/storpool.conf of a StorPool node',
                          res.err)
            self.assertNotIn('9999888877776666', res.out + res.err)

    def test_keep_until_tag_wins(self):
        """The deleting backend's window, whatever --hours says."""
        name = names.volume_name(VOL_NEW, self.prefix)
        self.api.volume_create({'name': name, 'size': GIB})
        deleted_at = self.now - 30 * HOUR
        kept = deferred.defer(self.api, name, VOL_NEW, self.prefix,
                              now=deleted_at, hours=48)
        self.api.volume_delete(name)
        for extra in (('--hours', '24'),
                      ('--cinder-conf', self.no_cinder_conf)):
            res = self.deferred_cmd('--json', *extra)
            self.assertEqual(0, res.code, res)
            [row] = json.loads(res.out)['volumes']
            self.assertEqual((kept, deleted_at + 48 * HOUR, False),
                             (row['snapshot'], row['expires_at'],
                              row['due']))
        self.assertEqual([], deferred.reap(self.api, self.prefix, 24))

    def test_empty(self):
        self.noise()
        res = self.deferred_cmd('--hours', '1')
        self.assertEqual(0, res.code, res)
        self.assertEqual('no volumes kept by deferred deletion',
                         res.out.splitlines()[-1])
        self.assertEqual({'hours': 1, 'hours_from': '--hours',
                          'volumes': []},
                         json.loads(self.deferred_cmd('--hours', '1',
                                                      '--json').out))

    @ddt.data(
        (f'[a]\nvolume_driver = {DRIVER}\n'
         f'storpool_deferred_delete_hours = 6\n'
         f'[b]\nvolume_driver = {DRIVER}\n', (),
         'the StorPool backends in {path} keep deleted volumes for '
         'different times: a (6 h), b (0 h); pass --backend NAME'),
        (f'[sp]\nvolume_driver = {DRIVER}\n', ('--backend', 'nope'),
         '{path} has no [nope] section; StorPool backends there: sp'),
        (f'[sp]\nvolume_driver = {DRIVER}\n[lvm]\nvolume_driver = x\n',
         ('--backend', 'lvm'),
         f'[lvm] in {{path}} does not use {DRIVER}; StorPool backends '
         f'there: sp'),
        (f'[sp]\nvolume_driver = {DRIVER}\n'
         f'storpool_deferred_delete_hours = a day\n', (),
         "[sp] storpool_deferred_delete_hours = 'a day' in {path} is not "
         "a whole number of hours >= 0"),
        ('[sp\nvolume_driver = x\n', (), 'cannot read {path}: '),
    )
    @ddt.unpack
    def test_bad_cinder_conf(self, text, extra, message):
        path = self.cinder_conf(text)
        res = self.deferred_cmd('--cinder-conf', path, *extra)
        self.assertEqual(1, res.code, res)
        self.assertEqual('', res.out)
        self.assertEqual(1, len(res.err.splitlines()), res.err)
        self.assertIn('storpool-openstack: error: ' +
                      message.format(path=path), res.err)
        self.assertEqual([], self.emu.control.queries())

    def test_backend_without_cinder_conf(self):
        res = self.deferred_cmd('--cinder-conf', self.no_cinder_conf,
                                '--backend', 'sp')
        self.assertEqual(1, res.code, res)
        self.assertIn(f'{self.no_cinder_conf} does not exist, so backend '
                      f'sp cannot be read from it; pass --cinder-conf PATH '
                      f'or --hours N', res.err)

    def test_token_in_cinder_conf_and_debug(self):
        self.two()
        path = self.cinder_conf(
            f'[sp]\nvolume_driver = {DRIVER}\n'
            f'storpool_deferred_delete_hours = 24\n'
            f'storpool_api_token = {self.emu.token}\n')
        res = self.run_cli('--debug', 'deferred', '--storpool-conf',
                           self.emu.conf_path, '--cinder-conf', path)
        self.assertEqual(0, res.code, res)
        self.assertIn('2 volume(s), 3 GiB; 1 due', res.out)
        # The base class checks every output for the token.

    def test_api_down_is_one_line(self):
        self.emu.control.add_fault('SnapshotsList', 'busy', times=None)
        res = self.deferred_cmd('--hours', '1')
        self.assertEqual(1, res.code)
        self.assertEqual(1, len(res.err.splitlines()), res.err)
        self.assertTrue(res.err.startswith('storpool-openstack: error: '))
