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

"""Fault injection and the call log, via ControlClient and Python."""

import http.client
import threading
import time

from storpool import spapi

from storpool_openstack.emulator import control
from storpool_openstack.emulator import faults
from tests.unit.emulator import base


class FaultsTestCase(base.TestCase):

    in_process = False
    device_mode = 'file'

    def setUp(self) -> None:
        super().setUp()
        self.ctl = self.emu.control
        self.api = spapi.Api(self.emu.host, self.emu.port, self.emu.token,
                             transientRetries=0)

    def retrying_api(self, retries: int = 5, sleep: float = 0):
        return spapi.Api(self.emu.host, self.emu.port, self.emu.token,
                         transientRetries=retries,
                         transientSleep=lambda retry: sleep)

    def test_transient_fault_retried_by_spapi(self) -> None:
        self.ctl.add_fault('VolumeCreate', name='busy', descr='try later',
                           transient=True, times=2)
        self.retrying_api().volumeCreate({'name': 'vol', 'size': base.GiB})
        calls = self.ctl.calls('VolumeCreate')
        self.assertEqual(['busy', 'busy', None],
                         [c['error'] for c in calls])
        self.assertEqual([503, 503, 200], [c['status'] for c in calls])
        self.assertEqual([{'name': 'vol', 'size': base.GiB}] * 3,
                         [c['body'] for c in calls])
        self.assertEqual(['vol'], list(self.ctl.state()['volumes']))
        self.assertEqual([], self.ctl.faults())

    def test_permanent_fault(self) -> None:
        self.ctl.add_fault('VolumeCreate', name='diskFailure',
                           descr='disk on fire', transient=False, times=1)
        exc = self.assertRaises(spapi.ApiError, self.retrying_api().
                                volumeCreate, {'name': 'v', 'size': 512})
        self.assertEqual(('diskFailure', 'disk on fire', False, 500),
                         (exc.name, exc.desc, exc.transient, exc.status))
        # Not retried, and the failed call changed nothing.
        self.assertEqual(1, len(self.ctl.calls('VolumeCreate')))
        self.assertEqual({}, self.ctl.state()['volumes'])
        self.api.volumeCreate({'name': 'v', 'size': 512})

    def test_only_nth_call_fails(self) -> None:
        self.ctl.add_fault('VolumesList', name='busy', nth=3,
                           transient=False)
        self.api.volumesList()
        self.api.volumesList()
        self.assertRaises(spapi.ApiError, self.api.volumesList)
        self.api.volumesList()
        self.assertEqual([None, None, 'busy', None],
                         [c['error'] for c in self.ctl.calls()])

    def test_forever_until_cleared(self) -> None:
        self.ctl.add_fault('*', name='busy', times=None, transient=False)
        self.assertRaises(spapi.ApiError, self.api.volumesList)
        self.assertRaises(spapi.ApiError, self.api.disksList)
        self.assertEqual(1, len(self.ctl.faults()))
        self.ctl.clear_faults()
        self.api.disksList()

    def test_latency(self) -> None:
        self.ctl.add_latency(0.3, 'VolumesList')
        start = time.monotonic()
        self.api.volumesList()
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        start = time.monotonic()
        self.api.disksList()
        self.assertLess(time.monotonic() - start, 0.3)
        self.assertGreaterEqual(self.ctl.calls('VolumesList')[0]
                                ['duration'], 0.3)

    def test_drop_answer(self) -> None:
        self.ctl.drop_answer('VolumeCreate')
        self.assertRaises((OSError, http.client.HTTPException),
                          self.api.volumeCreate,
                          {'name': 'vol', 'size': base.GiB})
        # The call ran: the volume is there, only the answer was lost.
        self.assertEqual(['vol'], list(self.ctl.state()['volumes']))
        self.assertEqual([], self.ctl.faults())
        # A retry meets what the first attempt did.
        exc = self.assertRaises(spapi.ApiError, self.api.volumeCreate,
                                {'name': 'vol', 'size': base.GiB})
        self.assertEqual('objectExists', exc.name)
        self.assertEqual([(True, 200, None), (False, 409, 'objectExists')],
                         [(c['answerDropped'], c['status'], c['error'])
                          for c in self.ctl.calls('VolumeCreate')])

    def test_drop_answer_needs_an_error_fault(self) -> None:
        self.assertRaises(control.ControlError, self.ctl.add_fault,
                          'VolumeCreate', error=False, drop_answer=True)

    def test_hold(self) -> None:
        self.ctl.hold('VolumeCreate')
        done = []
        thread = threading.Thread(target=lambda: done.append(
            self.api.volumeCreate({'name': 'held', 'size': base.GiB})))
        thread.start()
        self.addCleanup(thread.join, 30)
        self.addCleanup(self.ctl.clear_faults)
        deadline = time.monotonic() + 30
        while not self.ctl.held():
            self.assertLess(time.monotonic(), deadline, 'never held')
            time.sleep(0.05)
        held = self.ctl.held()
        self.assertEqual(['VolumeCreate'], [c['query'] for c in held])
        self.assertEqual({'name': 'held', 'size': base.GiB},
                         held[0]['body'])
        # Other calls go on; the held one has not been done.
        self.assertEqual([], self.api.volumesList())
        self.assertEqual([], done)
        self.assertEqual([], self.ctl.calls('VolumeCreate'))
        self.ctl.clear_faults()
        thread.join(30)
        self.assertEqual(1, len(done))
        self.assertEqual([], self.ctl.held())
        self.assertEqual(['held'], list(self.ctl.state()['volumes']))

    def test_refuse_connections(self) -> None:
        self.ctl.refuse_connections(0.5)
        self.assertRaises((OSError, http.client.HTTPException),
                          self.api.volumesList)
        start = time.monotonic()
        # spapi treats a reset connection as transient and retries.
        self.retrying_api(retries=10, sleep=0.1).volumesList()
        self.assertGreaterEqual(time.monotonic() - start, 0.2)
        self.assertFalse(self.ctl.request('GET', 'faults')['refusing'])

    def test_call_log(self) -> None:
        self.api.volumeCreate({'name': 'vol', 'size': base.GiB})
        self.assertRaises(spapi.ApiError, self.api.volumeDelete, 'nope')
        calls = self.ctl.calls()
        self.assertEqual(
            [('POST', 'VolumeCreate', '/ctrl/1.0/VolumeCreate', [], 200,
              None),
             ('POST', 'VolumeDelete', '/ctrl/1.0/VolumeDelete/nope',
              ['nope'], 404, 'objectDoesNotExist')],
            [(c['method'], c['query'], c['path'], c['args'], c['status'],
              c['error']) for c in calls])
        self.assertLessEqual(calls[0]['timestamp'], calls[1]['timestamp'])
        self.assertIsNone(calls[1]['body'])
        self.ctl.clear_calls()
        self.assertEqual([], self.ctl.calls())

    def test_templates_and_reset(self) -> None:
        self.ctl.add_template('gold', replication=2, placeAll='ssd',
                              placeTail='ssd', placeHead='ssd', iops=5000)
        self.assertIn('gold',
                      [t.name for t in self.api.volumeTemplatesList()])
        tmpl = self.api.volumeTemplateDescribe('gold')
        self.assertEqual((2, 'ssd', 5000), (tmpl.replication,
                                            tmpl.placeAll, tmpl.iops))
        self.api.volumeCreate({'name': 'vol', 'size': base.GiB,
                               'template': 'gold'})
        vol = self.api.volumeList('vol')[0]
        self.assertEqual(('gold', 2, 'ssd', 5000),
                         (vol.templateName, vol.replication, vol.placeAll,
                          vol.iops))
        status = {t.name: t for t in self.api.volumeTemplatesStatus()}
        self.assertEqual(1, status['gold'].volumesCount)
        self.assertGreater(status['gold'].stored.capacity, 0)
        self.assertRaises(control.ControlError, self.ctl.add_template,
                          'bad name')
        self.ctl.reset()
        state = self.ctl.state()
        self.assertEqual({}, state['volumes'])
        self.assertNotIn('gold', state['templates'])
        self.assertEqual([], self.ctl.calls())

    def test_attach_timeout_for_down_client(self) -> None:
        self.api.volumeCreate({'name': 'vol', 'size': base.GiB})
        self.ctl.set_client(7, 'down')
        start = time.monotonic()
        res = self.api.volumesReassignWait(
            {'reassign': [{'volume': 'vol', 'rw': [7]}],
             'attachTimeout': 1})
        self.assertGreaterEqual(time.monotonic() - start, 1)
        self.assertIn('7', res.info)
        start = time.monotonic()
        self.api.volumesReassignWait(
            {'reassign': [{'volume': 'vol', 'detach': [7]}],
             'attachTimeout': 0})
        self.assertLess(time.monotonic() - start, 1)
        self.assertEqual('down', {c.id: c.configStatus for c in
                                  self.api.clientsConfigDump()}[7])


class InProcessFaultsTestCase(base.TestCase):
    """The same machinery through the Python objects."""

    in_process = True
    device_mode = 'file'

    def test_python_api(self) -> None:
        emulator = self.emu.emulator
        emulator.faults.add(faults.Fault('VolumesList', name='busy',
                                         transient=True, times=1))
        api = spapi.Api(self.emu.host, self.emu.port, self.emu.token,
                        transientRetries=1, transientSleep=lambda r: 0)
        self.assertEqual([], api.volumesList())
        self.assertEqual(['busy', None],
                         [c['error'] for c in emulator.calls.calls()])
        res = self.emu.cluster.volume_create({'name': 'direct',
                                              'size': 512})
        self.assertEqual(res['generation'], self.emu.cluster.generation)
        self.assertEqual(['direct'], [v.name for v in api.volumesList()])
