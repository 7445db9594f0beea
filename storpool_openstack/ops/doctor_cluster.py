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
"""The doctor's check of an active-active cinder-volume cluster.

Services with the same ``[DEFAULT] cluster`` must share a coordination
backend (``[coordination] backend_url``): without one, Cinder falls back
to ``file://``, a lock of one host only, and two services may then work on
the same volume at once. The check connects to the backend as Cinder does
(tooz), with a short timeout.
"""

import configparser
import urllib.parse
import uuid

TITLE = 'active-active coordination'
EXAMPLE_URL = 'etcd3+http://ETCD-HOST:2379'
PROBE_TIMEOUT = 5


def _redacted(url: str) -> str:
    """The URL without a user or password (redis://:secret@host)."""
    parts = urllib.parse.urlsplit(url)
    if '@' not in parts.netloc:
        return url
    host = parts.netloc.rsplit('@', 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc='***@' + host))


def _with_timeout(url: str, seconds: int) -> str:
    """`url` with tooz's ``timeout`` option, unless it has one already."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    if 'timeout' in query:
        return url
    extra = 'timeout=%d' % seconds
    return urllib.parse.urlunsplit(parts._replace(
        query=parts.query + '&' + extra if parts.query else extra))


def probe(url: str, timeout: int = PROBE_TIMEOUT) -> str | None:
    """Connect to the tooz backend at `url`; None, or what went wrong."""
    try:
        from tooz import coordination
    except ImportError as exc:
        return f'tooz is not installed ({exc})'
    member = ('storpool-doctor-' + uuid.uuid4().hex).encode('ascii')
    try:
        coordinator = coordination.get_coordinator(
            _with_timeout(url, timeout), member)
        coordinator.start(start_heart=False)
    except Exception as exc:
        return f'{type(exc).__name__}: {exc}'
    try:
        coordinator.stop()
    except Exception:   # noqa: S110 - connected is what the check asks
        pass
    return None


def check(cinder_conf: str | None) -> tuple[str, str, str]:
    """(status, message, fix) for cinder.conf's cluster and coordination.

    The status is the doctor's: 'pass', 'fail' or 'skip'.
    """
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        with open(cinder_conf or '', encoding='utf-8') as fobj:
            parser.read_file(fobj)
    except (OSError, configparser.Error):
        # The cinder.conf check reports a missing or broken file.
        return ('skip', f'cannot read {cinder_conf}', '')
    cluster = parser.get('DEFAULT', 'cluster', fallback='').strip()
    url = parser.get('coordination', 'backend_url', fallback='').strip()
    if not cluster:
        return ('skip',
                f'{cinder_conf} sets no [DEFAULT] cluster: one '
                f'cinder-volume service per backend', '')
    fix = (f'set "backend_url = {EXAMPLE_URL}" (or another tooz backend '
           f'that every service of cluster {cluster} reaches) in the '
           f'[coordination] section of {cinder_conf}')
    if not url:
        return ('fail',
                f'{cinder_conf} sets [DEFAULT] cluster = {cluster} but no '
                f'[coordination] backend_url: Cinder then locks on this '
                f'host only (file://), and the services of the cluster '
                f'can work on one volume at the same time', fix)
    if url.startswith('file://'):
        return ('fail',
                f'{cinder_conf}: [coordination] backend_url = {url} is a '
                f'lock of this host only; the services of cluster '
                f'{cluster} need a backend they all share', fix)
    problem = probe(url)
    shown = _redacted(url)
    if problem is not None:
        return ('fail',
                f'cannot reach the coordination backend {shown} '
                f'([coordination] backend_url of {cinder_conf}) within '
                f'{PROBE_TIMEOUT} s: {problem}',
                f'start the backend (e.g. "systemctl start etcd") and '
                f'check that this host reaches {shown}; for '
                f'etcd3+http:// the Python package etcd3gw must be '
                f'installed')
    return ('pass',
            f'cluster {cluster}: the coordination backend {shown} '
            f'answers', '')
