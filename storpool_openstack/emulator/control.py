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

"""A client for the emulator's ``/emulator/`` control endpoint.

Tests use it to read the call log, inject faults, dump the state and add
templates, whether the emulator runs in-process or in a subprocess.
"""

import base64
import http.client
import json
import typing
import urllib.parse


class ControlError(Exception):
    """The control endpoint answered with an error object."""

    def __init__(self, status: int, body: typing.Any) -> None:
        err = body.get('error', {}) if isinstance(body, dict) else {}
        self.status = status
        self.name = err.get('name')
        self.descr = err.get('descr')
        super().__init__(f'HTTP {status}: {self.name}: {self.descr}')


class ControlClient:
    """Talks to ``<url>/emulator/...`` with the API token."""

    def __init__(self, url: str, token: str, timeout: float = 30) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.host = parsed.hostname or '127.0.0.1'
        self.port = parsed.port or 80
        self.token = token
        self.timeout = timeout

    def request(self, verb: str, cmd: str, body: typing.Any = None,
                params: dict | None = None) -> typing.Any:
        """One control call; returns its ``data``."""
        path = '/emulator/' + cmd
        if params:
            path += '?' + urllib.parse.urlencode(params)
        conn = http.client.HTTPConnection(self.host, self.port,
                                          timeout=self.timeout)
        try:
            payload = None if body is None else json.dumps(body)
            conn.request(verb, path, payload,
                         {'Authorization': 'Storpool v1:' + self.token})
            resp = conn.getresponse()
            res = json.load(resp)
        finally:
            conn.close()
        if resp.status != 200 or 'error' in res:
            raise ControlError(resp.status, res)
        return res['data']

    # -- call log ----------------------------------------------------------
    def calls(self, query: str | None = None) -> list[dict]:
        """The API calls seen so far (optionally of one query name)."""
        params = {'query': query} if query else None
        return self.request('GET', 'calls', params=params)['calls']

    def queries(self) -> list[str]:
        """Just the query names, in order."""
        return [c['query'] for c in self.calls()]

    def clear_calls(self) -> None:
        self.request('POST', 'calls/clear')

    # -- faults ------------------------------------------------------------
    def add_fault(self, query: str = '*', name: str = 'busy',
                  descr: str | None = None,
                  transient: bool = True, times: int | None = 1,
                  nth: int | None = None, latency: float = 0.0,
                  status: int | None = None,
                  error: bool = True, drop_answer: bool = False) -> None:
        """Make ``query`` fail (see :class:`faults.Fault`)."""
        fault = {'query': query, 'name': name, 'transient': transient,
                 'times': times, 'nth': nth, 'latency': latency,
                 'error': error, 'drop_answer': drop_answer}
        if descr is not None:
            fault['descr'] = descr
        if status is not None:
            fault['status'] = status
        self.request('POST', 'faults', fault)

    def add_latency(self, seconds: float, query: str = '*') -> None:
        """Slow ``query`` (or every call) down by ``seconds``."""
        self.add_fault(query=query, latency=seconds, error=False)

    def hold(self, query: str = '*') -> None:
        """Keep ``query`` (or every call) waiting until clear_faults()."""
        self.request('POST', 'faults', {'query': query, 'hold': True,
                                        'error': False})

    def held(self) -> list[dict]:
        """The calls a hold keeps waiting now (as in the call log)."""
        return self.request('GET', 'faults')['held']

    def drop_answer(self, query: str, times: int | None = 1,
                    nth: int | None = None) -> None:
        """Run ``query``, then reset the connection instead of answering.

        What a client sees when the management API fails over after
        StorPool did the call: the call took effect, its answer is lost.
        The call log marks each such call with ``answerDropped``.
        """
        self.add_fault(query=query, times=times, nth=nth, drop_answer=True)

    def refuse_connections(self, seconds: float) -> None:
        """Reset every new connection for ``seconds``."""
        self.request('POST', 'faults', {'refuseFor': seconds})

    def lose_devices(self, count: int | None = None) -> None:
        """The next ``count`` attaches make no device (None: all).

        StorPool records the attachment, but the host's device node never
        appears; ``clear_faults()`` ends it.
        """
        self.request('POST', 'faults/lost-devices', {'count': count})

    def faults(self) -> list[dict]:
        return self.request('GET', 'faults')['faults']

    def clear_faults(self) -> None:
        self.request('DELETE', 'faults')

    # -- state -------------------------------------------------------------
    def state(self) -> dict:
        """Volumes, snapshots, attachments, tags, templates, devices."""
        return self.request('GET', 'state')

    def info(self) -> dict:
        return self.request('GET', 'info')

    def add_template(self, name: str, **fields: typing.Any) -> dict:
        body = dict(fields)
        body['name'] = name
        return self.request('POST', 'templates', body)

    def set_client(self, client_id: int, status: str = 'running') -> None:
        """Mark a client running or down (for VolumesReassignWait)."""
        self.request('POST', 'clients', {'id': client_id,
                                         'status': status})

    def read(self, name: str, offset: int = 0, length: int = 4096,
             snapshot: bool = False) -> bytes:
        """Bytes of a volume or snapshot, read from its data file."""
        body = {'snapshot' if snapshot else 'volume': name,
                'offset': offset, 'length': length}
        return base64.b64decode(self.request('POST', 'read', body)['data'])

    def reset(self) -> None:
        """Empty the cluster, the faults and the call log."""
        self.request('POST', 'reset')
