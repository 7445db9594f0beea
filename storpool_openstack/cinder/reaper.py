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
"""The periodic task that deletes expired deferred deletions for good.

As the RBD driver's trash purge (``deferred_deletion_purge_interval``):
a fixed-interval looping call started with the driver, one run every
``storpool_deferred_delete_purge_interval`` seconds.  A run is one
SnapshotsList and at most ``storpool_deferred_delete_purge_batch``
SnapshotDelete calls, so the API load is bounded by
``(1 + batch) / interval`` calls per second, and the rate it sustains is
``batch * 3600 / interval`` deletions per hour (6,000 with the defaults).
A run that finds a full batch due does not wait for the next interval
to catch up: the backlog drains at the configured rate, no faster.
`ReaperMixin` starts it from the driver's check_for_setup_error.
"""

from typing import Any, Callable

from oslo_log import log as logging
from oslo_service import loopingcall

from storpool_openstack.cinder import deferred
from storpool_openstack.common import api as sp_api
from storpool_openstack.common import exception as sp_exc

LOG = logging.getLogger(__name__)


class Reaper:
    """One backend's deferred-deletion purge, run on a fixed interval."""

    def __init__(self, api: sp_api.StorPoolAPI, prefix: str, *,
                 hours: Callable[[], int], interval: int,
                 batch: int) -> None:
        self._api = api
        self._prefix = prefix
        # Read on every run: the retention of snapshots without a
        # keep-until tag follows the current configuration.
        self._hours = hours
        self.interval = interval
        self.batch = batch
        self._timer: Any = None

    @property
    def running(self) -> bool:
        return self._timer is not None

    def run_once(self) -> list[str]:
        """Delete up to one batch of expired ones; their names."""
        hours = self._hours() or 0
        if hours <= 0:
            return []
        try:
            done = deferred.reap(self._api, self._prefix, hours,
                                 limit=self.batch)
        except sp_exc.StorPoolError as err:
            LOG.warning('Deferred deletion: could not list the pending '
                        'ones: %s', err)
            return []
        except Exception:
            # Never let one bad run stop the looping call for good.
            LOG.exception('Deferred deletion: the purge run failed')
            return []
        if len(done) >= self.batch:
            LOG.info('Deferred deletion: deleted a full batch of %d; the '
                     'rest waits for the next run in %d s', len(done),
                     self.interval)
        return done

    def start(self) -> None:
        """Start the periodic runs (the first one at once); idempotent."""
        if self._timer is not None:
            return
        LOG.info('Deferred deletion: purging up to %(batch)d expired '
                 'volumes every %(interval)d s', {
                     'batch': self.batch, 'interval': self.interval})
        timer = loopingcall.FixedIntervalLoopingCall(self.run_once)
        timer.start(interval=self.interval, initial_delay=0,
                    stop_on_exception=False)
        self._timer = timer

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None


class ReaperMixin:
    """Starts the purge task of StorPoolDriver when deferred deletion is on.

    Uses the driver's `_opt`, `_api` and `_prefix`.
    """

    # The backend's purge task, made on the first start.
    _reaper: Reaper | None = None

    def _start_reaper(self) -> None:
        """The deferred-deletion purge task, when deferred deletion is on."""
        if (self._opt('storpool_deferred_delete_hours') or 0) <= 0:
            return
        if self._reaper is None:
            self._reaper = Reaper(
                self._api, self._prefix,
                hours=lambda: self._opt('storpool_deferred_delete_hours'),
                interval=self._opt('storpool_deferred_delete_purge_interval'),
                batch=self._opt('storpool_deferred_delete_purge_batch'))
        self._reaper.start()
