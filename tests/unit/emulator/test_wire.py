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

"""Wire robustness: every bad request gets a StorPool-style error object.

These use raw sockets and http.client, since the real clients cannot
send such requests; after each one the server must keep serving.
"""

import http.client
import json
import socket

import ddt
from storpool import spapi

from tests.unit.emulator import base


@ddt.ddt
class WireTestCase(base.TestCase):

    in_process = True
    device_mode = 'file'

    def request(self, verb: str, path: str, body: bytes = None,
                token: str = 'default', headers: dict = None):
        conn = http.client.HTTPConnection(self.emu.host, self.emu.port,
                                          timeout=10)
        hdrs = dict(headers or {})
        if token == 'default':
            token = self.emu.token
        if token is not None:
            hdrs['Authorization'] = 'Storpool v1:' + token
        try:
            conn.request(verb, path, body, hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            return resp, json.loads(raw)
        finally:
            conn.close()

    def assert_error(self, resp, body, name: str, status: int) -> dict:
        self.assertEqual(status, resp.status)
        self.assertEqual({'error'}, set(body))
        err = body['error']
        self.assertEqual({'name', 'descr', 'transient'}, set(err))
        self.assertEqual(name, err['name'])
        self.assertIs(False, err['transient'])
        self.assertEqual(str(len(json.dumps(body))),
                         resp.getheader('Content-Length'))
        self.assert_still_serving()
        return err

    def assert_still_serving(self) -> None:
        api = spapi.Api(self.emu.host, self.emu.port, self.emu.token,
                        transientRetries=0)
        self.assertEqual([], [v for v in api.volumesList()
                              if v.name.startswith('wire-')])

    def test_envelope_and_http10(self) -> None:
        resp, body = self.request('GET', '/ctrl/1.0/VolumesList')
        self.assertEqual(200, resp.status)
        self.assertEqual(10, resp.version)
        self.assertEqual({'generation', 'data'}, set(body))
        self.assertEqual([], body['data'])
        resp, body = self.request(
            'POST', '/ctrl/1.0/VolumeCreate',
            json.dumps({'name': 'v', 'size': base.GiB}).encode())
        self.assertEqual(200, resp.status)
        self.assertEqual({'ok': True, 'generation': body['generation'],
                          'globalId': body['data']['globalId']},
                         body['data'])
        resp2, body2 = self.request('POST', '/ctrl/1.0/VolumeDelete/v')
        self.assertEqual(body['generation'] + 1, body2['generation'])
        self.assertEqual(body2['generation'], body2['data']['generation'])

    @ddt.named_data(
        ('malformed_json', 'POST', '/ctrl/1.0/VolumeCreate',
         b'{"name": "x", "size":', 'invalidParam', 400),
        ('not_ascii_json', 'POST', '/ctrl/1.0/VolumeCreate',
         b'\xff\xfe', 'invalidParam', 400),
        ('json_not_object', 'POST', '/ctrl/1.0/VolumeCreate',
         b'[1, 2]', 'invalidParam', 400),
        ('unknown_path', 'GET', '/index.html', None, 'invalidParam', 404),
        ('unknown_query', 'GET', '/ctrl/1.0/NoSuchCall', None,
         'invalidParam', 404),
        ('wrong_verb', 'GET', '/ctrl/1.0/VolumeCreate', None,
         'invalidParam', 405),
        ('missing_arg', 'GET', '/ctrl/1.0/Volume', None,
         'invalidParam', 400),
        ('bad_name', 'GET', '/ctrl/1.0/Volume/bad%20name', None,
         'invalidParam', 400),
        ('remote_command', 'GET',
         '/ctrl/1.0/RemoteCommand/remote-a/MultiCluster/VolumesList',
         None, 'invalidParam', 404),
        ('bad_size', 'POST', '/ctrl/1.0/VolumeCreate',
         b'{"name": "x", "size": 1000}', 'invalidParam', 400),
        ('bad_client_id', 'POST', '/ctrl/1.0/VolumesReassign',
         b'[{"volume": "x", "rw": [5000]}]', 'invalidParam', 400),
        ('unknown_field', 'POST', '/ctrl/1.0/VolumeCreate',
         b'{"name": "x", "size": 512, "colour": "red"}', 'invalidParam',
         400),
    )
    def test_bad_request(self, verb, path, body, name, status):
        resp, reply = self.request(verb, path, body)
        self.assert_error(resp, reply, name, status)
        call = self.emu.control.calls()[0]
        self.assertEqual((verb, path, status, name),
                         (call['method'], call['path'], call['status'],
                          call['error']))

    def test_remote_command_names_cluster(self) -> None:
        resp, body = self.request(
            'GET', '/ctrl/1.0/RemoteCommand/remote-a/VolumesList')
        self.assertIn("Unknown cluster 'remote-a'", body['error']['descr'])

    @ddt.named_data(('wrong', 'not-the-token'), ('missing', None),
                    ('empty', ''))
    def test_auth(self, token) -> None:
        resp, body = self.request('GET', '/ctrl/1.0/VolumesList',
                                  token=token)
        self.assert_error(resp, body, 'authError', 401)
        resp, body = self.request('GET', '/emulator/state', token=token)
        self.assertEqual(401, resp.status)

    def test_lowercase_scheme_refused(self) -> None:
        resp, body = self.request(
            'GET', '/ctrl/1.0/VolumesList', token=None,
            headers={'Authorization': 'StorPool v1:' + self.emu.token})
        self.assert_error(resp, body, 'authError', 401)

    def test_oversize_body(self) -> None:
        big = b' ' * (16 * base.MiB + 1)
        resp, body = self.request('POST', '/ctrl/1.0/VolumeCreate', big)
        self.assert_error(resp, body, 'invalidParam', 413)
        self.assertIn('limit', body['error']['descr'])

    def test_garbage_request_line(self) -> None:
        with socket.create_connection((self.emu.host, self.emu.port),
                                      timeout=10) as sock:
            sock.sendall(b'\x00\x01garbage\r\n\r\n')
            sock.recv(65536)
        self.assert_still_serving()

    def test_hash_in_names_and_multicluster_alias(self) -> None:
        resp, body = self.request(
            'POST', '/ctrl/1.0/MultiCluster/VolumeCreate',
            json.dumps({'name': '#wire-x', 'size': 512}).encode())
        self.assertEqual(200, resp.status, body)
        resp, body = self.request('GET', '/ctrl/1.0/Volume/#wire-x')
        self.assertEqual(200, resp.status, body)
        self.assertEqual('#wire-x', body['data'][0]['name'])
        resp, body = self.request(
            'GET', '/ctrl/1.0/MultiCluster/VolumeGetInfo/%23wire-x')
        self.assertEqual('#wire-x', body['data']['name'])
        calls = self.emu.control.calls()
        self.assertEqual([True, False, True],
                         [c['multiCluster'] for c in calls])
        self.assertEqual(['#wire-x'], calls[1]['args'])

    def test_get_with_json_query(self) -> None:
        api = spapi.Api(self.emu.host, self.emu.port, self.emu.token,
                        transientRetries=0)
        exc = self.assertRaises(spapi.ApiError,
                                api.allPeersActiveRequests,
                                {'msecsTimeout': 1000})
        self.assertEqual('invalidParam', exc.name)
        call = self.emu.control.calls()[0]
        self.assertEqual({'msecsTimeout': 1000}, call['body'])
        self.assertEqual('AllPeersActiveRequests', call['query'])
