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

"""Fault injection and the call log.

Tests use these to make a named API call fail (transiently or not), slow
calls down, refuse connections for a while, run a call and then drop its
answer (as a management failover does), and to count and inspect the
round trips a piece of code makes.
"""

import threading
import time
import typing

from storpool_openstack.emulator import errors


class Fault:
    """Fail calls to ``query`` (``'*'`` = any call).

    ``times`` failures in a row (``None`` = forever), or with ``nth`` only
    the n-th matching call (1-based, counted from when the fault was added)
    fails.  ``latency`` seconds are added to every matching call.  With
    ``hold`` a matching call waits, listed as held, until the faults are
    cleared: a test sees which calls are in flight and decides when they
    go on (a StorPool that stalls until the test lets it).

    With ``drop_answer`` a firing call is not refused but executed, and
    then its connection is reset instead of answered: the client cannot
    tell whether StorPool did it (``error=False`` would never fire, so
    it is refused).
    """

    def __init__(self, query: str = '*', name: str = 'busy',
                 descr: str | None = None,
                 transient: bool = True,
                 times: int | None = 1,
                 nth: int | None = None,
                 latency: float = 0.0,
                 status: int | None = None,
                 error: bool = True,
                 drop_answer: bool = False,
                 hold: bool = False) -> None:
        if drop_answer and not error:
            raise errors.invalid('drop_answer needs error=True: a fault '
                                 'with error=False only adds latency')
        self.query = query
        self.name = name
        self.descr = descr or f'injected fault on {query}'
        self.transient = bool(transient)
        self.times = times
        self.nth = nth
        self.latency = float(latency)
        self.status = status or (503 if self.transient else 500)
        self.error = bool(error)
        self.drop_answer = bool(drop_answer)
        self.hold = bool(hold)
        self.seen = 0
        self.fired = 0

    @classmethod
    def from_json(cls, data: dict) -> 'Fault':
        allowed = ('query', 'name', 'descr', 'transient', 'times', 'nth',
                   'latency', 'status', 'error', 'drop_answer', 'hold')
        unknown = set(data) - set(allowed)
        if unknown:
            raise errors.invalid('unknown fault fields: '
                                 + ', '.join(sorted(unknown)))
        return cls(**data)

    def to_json(self) -> dict:
        return {'query': self.query, 'name': self.name, 'descr': self.descr,
                'transient': self.transient, 'times': self.times,
                'nth': self.nth, 'latency': self.latency,
                'status': self.status, 'error': self.error,
                'drop_answer': self.drop_answer, 'hold': self.hold,
                'seen': self.seen, 'fired': self.fired}

    def matches(self, query: str) -> bool:
        return self.query in ('*', query)

    def exhausted(self) -> bool:
        if self.nth is not None:
            return self.seen >= self.nth
        return self.times is not None and self.fired >= self.times


class Verdict(typing.NamedTuple):
    """What the faults do to one call."""

    latency: float
    error: errors.EmulatorError | None
    drop_answer: bool


class FaultInjector:
    """The active faults; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._released = threading.Condition(self._lock)
        self._faults: list[Fault] = []
        self._refuse_until = 0.0
        self._held: dict[int, dict] = {}

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults = []
            self._refuse_until = 0.0
            self._released.notify_all()

    def held(self) -> list[dict]:
        """The calls a ``hold`` fault keeps waiting now."""
        with self._lock:
            return [dict(e) for e in self._held.values()]

    def wait_if_held(self, query: str, entry: dict) -> None:
        """Wait while a ``hold`` fault matches ``query`` (see Fault)."""
        def holding() -> bool:
            return any(f.hold and f.matches(query) for f in self._faults)

        with self._lock:
            if not holding():
                return
            self._held[id(entry)] = entry
            try:
                while holding():
                    self._released.wait()
            finally:
                del self._held[id(entry)]

    def list(self) -> list[dict]:
        with self._lock:
            return [f.to_json() for f in self._faults]

    def refuse_for(self, seconds: float) -> None:
        """Reset every new connection for ``seconds`` (like a down API)."""
        with self._lock:
            self._refuse_until = time.monotonic() + float(seconds)

    def refusing(self) -> bool:
        with self._lock:
            return time.monotonic() < self._refuse_until

    def check(self, query: str) -> Verdict:
        """Latency to add, and the error or the dropped answer (if any).

        The first fault that fires decides: an error (the call is refused)
        or a dropped answer (the call runs, the answer is lost).
        """
        latency = 0.0
        err = None
        drop = False
        with self._lock:
            for fault in list(self._faults):
                if not fault.matches(query):
                    continue
                fault.seen += 1
                latency += fault.latency
                if not fault.error or err is not None or drop:
                    continue
                if fault.nth is not None:
                    fire = fault.seen == fault.nth
                else:
                    fire = fault.times is None or fault.fired < fault.times
                if fire:
                    fault.fired += 1
                    if fault.drop_answer:
                        drop = True
                    else:
                        err = errors.EmulatorError(
                            fault.name, fault.descr, fault.status,
                            fault.transient)
            self._faults = [f for f in self._faults
                            if not (f.error and f.exhausted())]
        return Verdict(latency, err, drop)


class CallLog:
    """Every API call seen, in order; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[dict] = []

    def record(self, **entry: typing.Any) -> None:
        entry.setdefault('timestamp', time.time())
        with self._lock:
            self._calls.append(entry)

    def calls(self, query: str | None = None) -> list[dict]:
        with self._lock:
            return [dict(c) for c in self._calls
                    if query is None or c.get('query') == query]

    def clear(self) -> None:
        with self._lock:
            self._calls = []
