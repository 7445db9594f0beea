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

"""The HTTP side: StorPool's wire protocol and the emulator's control API.

One request per connection, HTTP/1.0 answers with Content-Length, the
``{"generation", "data"}`` / ``{"error": ...}`` envelopes, and the
``Authorization: Storpool v1:<token>`` check.  The control endpoint lives
under ``/emulator/``, which no StorPool path can start with.
"""

import base64
import hmac
import http.server
import json
import selectors
import socket
import socketserver
import struct
import threading
import time
import typing
import urllib.parse

from oslo_log import log as logging
from oslo_utils import units

from storpool_openstack.emulator import api
from storpool_openstack.emulator import errors
from storpool_openstack.emulator import faults as sp_faults
from storpool_openstack.emulator import model

LOG = logging.getLogger(__name__)

API_PREFIX = '/ctrl/1.0/'
CONTROL_PREFIX = '/emulator/'
MAX_BODY = 16 * units.Mi
_DISCARD_LIMIT = 64 * units.Mi


class Handler(http.server.BaseHTTPRequestHandler):
    """One StorPool API request on one connection."""

    protocol_version = 'HTTP/1.0'
    server_version = 'StorPoolEmulator/1.0'
    server: 'EmulatorHTTPServer'

    def log_message(self, fmt: str, *args: typing.Any) -> None:
        LOG.debug('%s - ' + fmt, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle('GET')

    def do_POST(self) -> None:
        self._handle('POST')

    def do_DELETE(self) -> None:
        self._handle('DELETE')

    def do_PUT(self) -> None:
        self._handle('PUT')

    # -- plumbing ----------------------------------------------------------
    def _send(self, status: int, payload: typing.Any) -> None:
        body = json.dumps(payload).encode('ascii')
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Cache-control', 'private')
        self.send_header('Connection', 'close')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _read_body(self) -> bytes:
        if self.headers.get('Transfer-Encoding'):
            raise errors.invalid('chunked request bodies are not supported')
        raw = self.headers.get('Content-Length', '0') or '0'
        try:
            length = int(raw)
        except ValueError:
            raise errors.invalid(f'Invalid Content-Length {raw!r}')
        if length < 0:
            raise errors.invalid(f'Invalid Content-Length {raw!r}')
        if length > MAX_BODY:
            # Drain what we reasonably can so the client sees our answer.
            left = min(length, _DISCARD_LIMIT)
            while left > 0:
                chunk = self.rfile.read(min(left, units.Mi))
                if not chunk:
                    break
                left -= len(chunk)
            raise errors.EmulatorError(
                'invalidParam', f'Request body of {length} bytes is larger '
                f'than the limit of {MAX_BODY} bytes', 413)
        return self.rfile.read(length) if length else b''

    @staticmethod
    def _parse_json(raw: bytes | str) -> typing.Any:
        if not raw:
            return None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.invalid(f'Malformed JSON in the request: {exc}')

    def _authorized(self) -> bool:
        want = ('Storpool v1:' + self.server.token).encode()
        got = self.headers.get('Authorization', '').encode('utf-8',
                                                           'replace')
        return hmac.compare_digest(got, want)

    def _handle(self, verb: str) -> None:
        start = time.time()
        # Split only on '?': names may contain '#', which is no fragment.
        path, _sep, qstr = self.path.partition('?')
        entry: dict[str, typing.Any] = {
            'method': verb, 'path': self.path, 'query': None, 'args': [],
            'body': None, 'multiCluster': False, 'answerDropped': False,
            'timestamp': start}
        status, payload = 200, None
        try:
            raw = self._read_body()
            try:
                entry['body'] = json.loads(raw) if raw else None
            except (ValueError, UnicodeDecodeError):
                entry['body'] = raw.decode('ascii', 'replace')
            if not self._authorized():
                raise errors.EmulatorError(
                    'authError', 'Missing or invalid authentication token',
                    401)
            if path.startswith(CONTROL_PREFIX):
                status, payload = self.server.control.handle(
                    verb, path[len(CONTROL_PREFIX):], qstr,
                    self._parse_json(raw))
                self._send(status, payload)
                return
            payload = self._api(verb, path, qstr, raw, entry)
        except errors.EmulatorError as exc:
            status, payload = exc.status, exc.to_json()
        except Exception as exc:  # never crash on client input
            LOG.exception('emulator: %s %s failed', verb, self.path)
            status = 500
            payload = errors.EmulatorError(
                'internalError', f'{type(exc).__name__}: {exc}',
                500).to_json()
        if not path.startswith(CONTROL_PREFIX):
            entry['status'] = status
            entry['error'] = payload['error']['name'] \
                if 'error' in payload else None
            entry['duration'] = time.time() - start
            self.server.calls.record(**entry)
        if entry['answerDropped']:
            self._drop_answer()
            return
        try:
            self._send(status, payload)
        except OSError as exc:
            LOG.debug('emulator: could not answer: %s', exc)

    def _drop_answer(self) -> None:
        """Reset the connection instead of answering (a lost answer)."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack('ii', 1, 0))
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True

    def _api(self, verb: str, path: str, qstr: str, raw: bytes,
             entry: dict) -> dict:
        if not path.startswith(API_PREFIX):
            raise errors.EmulatorError('invalidParam',
                                       f'Unknown path {path!r}', 404)
        parts = [urllib.parse.unquote(p)
                 for p in path[len(API_PREFIX):].split('/')]
        if parts and parts[0] == 'RemoteCommand':
            cluster = parts[1] if len(parts) > 1 else ''
            entry['query'] = parts[2] if len(parts) > 2 else None
            raise errors.EmulatorError(
                'invalidParam', f'Unknown cluster {cluster!r}', 404)
        if parts and parts[0] == 'MultiCluster':
            entry['multiCluster'] = True
            parts = parts[1:]
        if not parts or not parts[0]:
            raise errors.EmulatorError('invalidParam', 'No API call given',
                                       404)
        query, args = parts[0], parts[1:]
        entry['query'] = query
        entry['args'] = args
        body = self._parse_json(raw)
        if verb == 'GET' and qstr:
            params = urllib.parse.parse_qs(qstr)
            if 'json' in params:
                body = self._parse_json(params['json'][0])
                entry['body'] = body
        verdict = self.server.faults.check(query)
        self.server.faults.wait_if_held(query, entry)
        if verdict.latency:
            time.sleep(verdict.latency)
        if verdict.error is not None:
            raise verdict.error
        # Set before the call runs: its answer is lost even if it fails.
        entry['answerDropped'] = verdict.drop_answer
        cluster = self.server.cluster
        data = api.dispatch(cluster, verb, query, args, body)
        return {'generation': cluster.generation, 'data': data}


class Control:
    """The ``/emulator/...`` endpoint tests use (same token)."""

    def __init__(self, server: 'EmulatorHTTPServer') -> None:
        self.server = server

    def handle(self, verb: str, cmd: str, qstr: str,
               body: typing.Any) -> tuple[int, dict]:
        srv = self.server
        cluster = srv.cluster
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(qstr).items()}
        key = (verb, cmd.strip('/'))
        if key == ('GET', 'calls'):
            data: typing.Any = {'calls': srv.calls.calls(
                params.get('query'))}
        elif key in (('POST', 'calls/clear'), ('DELETE', 'calls')):
            srv.calls.clear()
            data = {'ok': True}
        elif key == ('GET', 'faults'):
            data = {'faults': srv.faults.list(),
                    'refusing': srv.faults.refusing(),
                    'held': srv.faults.held()}
        elif key == ('POST', 'faults'):
            if not isinstance(body, dict):
                raise errors.invalid('a fault must be a JSON object')
            body = dict(body)
            refuse = body.pop('refuseFor', None)
            if refuse is not None:
                srv.faults.refuse_for(float(refuse))
            if body:
                try:
                    srv.faults.add(sp_faults.Fault.from_json(body))
                except TypeError as exc:
                    raise errors.invalid(f'bad fault: {exc}')
            data = {'ok': True}
        elif key == ('DELETE', 'faults'):
            srv.faults.clear()
            cluster.devices.lose_devices(0)
            data = {'ok': True}
        elif key == ('POST', 'faults/lost-devices'):
            # {"count": N}: the next N new devices never appear
            # (null: every one until the faults are cleared).
            count = body.get('count') if isinstance(body, dict) else None
            if count is not None and not isinstance(count, int):
                raise errors.invalid('count must be an integer or null')
            cluster.devices.lose_devices(count)
            data = {'ok': True}
        elif key == ('GET', 'state'):
            data = cluster.dump()
        elif key == ('GET', 'info'):
            data = srv.info()
        elif key == ('POST', 'templates'):
            if not isinstance(body, dict):
                raise errors.invalid('a template must be a JSON object')
            data = cluster.add_template(body)
        elif key == ('POST', 'clients'):
            if not isinstance(body, dict) or 'id' not in body:
                raise errors.invalid('expected {"id": N, "status": ...}')
            cluster.set_client_status(body['id'],
                                      body.get('status', 'running'))
            data = {'ok': True}
        elif key == ('POST', 'read'):
            if not isinstance(body, dict):
                raise errors.invalid('expected a JSON object')
            snap = 'snapshot' in body
            ref = body.get('snapshot' if snap else 'volume')
            chunk = cluster.read_data(ref, int(body.get('offset', 0)),
                                      int(body.get('length', 4096)), snap)
            data = {'data': base64.b64encode(chunk).decode('ascii')}
        elif key == ('POST', 'reset'):
            cluster.reset()
            srv.faults.clear()
            cluster.devices.lose_devices(0)
            srv.calls.clear()
            data = {'ok': True}
        else:
            raise errors.EmulatorError(
                'invalidParam', f'Unknown control call {key[0]} {key[1]}',
                404)
        return 200, {'generation': cluster.generation, 'data': data}


class EmulatorHTTPServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server with one request per connection."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int],
                 cluster: model.Cluster, token: str,
                 faults: sp_faults.FaultInjector,
                 calls: sp_faults.CallLog,
                 info: typing.Callable[[], dict]) -> None:
        self.cluster = cluster
        self.token = token
        self.faults = faults
        self.calls = calls
        self.info = info
        self.control = Control(self)
        self._shutdown_request = False
        self._stopped = threading.Event()
        self._stopped.set()
        super().__init__(address, Handler)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until shutdown(), with a selector chosen at call time.

        socketserver binds its selector class when it is imported. In a
        process that eventlet monkey-patches later (every Cinder or Nova
        test worker), that real poll() never yields to the hub, so no
        handler and no client green thread would ever run again.
        """
        self._stopped.clear()
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self, selectors.EVENT_READ)
                while not self._shutdown_request:
                    if selector.select(poll_interval):
                        self._handle_request_noblock()
                    self.service_actions()
        finally:
            self._shutdown_request = False
            self._stopped.set()

    def shutdown(self) -> None:
        self._shutdown_request = True
        self._stopped.wait()

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that
        # can take long on hosts without DNS; nothing here needs it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = host
        self.server_port = port

    def verify_request(self, request: typing.Any,
                       client_address: typing.Any) -> bool:
        if self.faults.refusing():
            # Reset the connection, as a client sees a down API.
            try:
                request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack('ii', 1, 0))
                request.close()
            except OSError:
                pass
            return False
        return True
