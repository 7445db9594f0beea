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
"""Active-active cinder-volume: the one lock the driver takes.

Every StorPool object the driver makes has a name derived from a Cinder
id, and StorPool refuses a second object of the same name, so two services
of one cluster can never make the same thing twice. The one place where a
race still costs something is the first copy of an image into the image
cache: both services would download and write the whole image, and the
loser's cache snapshot would then be refused. The lock below makes the
second service wait for the first one's copy and clone from its cache
entry instead.

The lock is a tooz lock through Cinder's coordinator (``[coordination]
backend_url``, e.g. etcd) when there is a shared backend; otherwise a lock
of this process only (Cinder's default ``file://`` backend is per host, and
a per-host file would be left behind for every image). A lock that cannot
be taken is not an error: the StorPool-side rule still keeps one cache
entry, the copy is only done twice.
"""

import contextlib
import typing

from cinder import coordination
from oslo_concurrency import lockutils
from oslo_config import cfg
from oslo_log import log as logging

LOG = logging.getLogger(__name__)
CONF = cfg.CONF


def _shared_coordinator() -> bool:
    """Whether Cinder's coordinator runs on a backend other hosts share."""
    url = CONF.coordination.backend_url or ''
    return coordination.COORDINATOR.started and \
        not url.startswith('file://')


@contextlib.contextmanager
def image_copy_lock(image_id: str, digest: str) -> typing.Iterator[None]:
    """Held while one service makes the cache entry of an image."""
    name = 'storpool-image-%s-%s' % (digest, image_id)
    if not _shared_coordinator():
        with lockutils.lock(name):
            yield
        return
    lock = None
    try:
        lock = coordination.COORDINATOR.get_lock(name)
        lock.acquire(True)
    except Exception as exc:
        # Correct without it (see the module doc), only slower.
        LOG.warning('Could not take the coordination lock %(name)s '
                    '(%(err)s); copying the image without it', {
                        'name': name, 'err': exc})
        lock = None
    try:
        yield
    finally:
        if lock is not None:
            try:
                lock.release()
            except Exception as exc:
                LOG.warning('Could not release the coordination lock '
                            '%(name)s: %(err)s (it expires on its own)',
                            {'name': name, 'err': exc})
