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
"""Volumes kept by the Cinder driver's deferred deletion, for the operator.

The snapshots and their rules are the driver's
(`storpool_openstack.cinder.deferred`); this module shows them with the
time each is deleted for good, which needs the backend's
``storpool_deferred_delete_hours``: from ``--hours`` or read from
cinder.conf (the driver's backend section, then [backend_defaults], as
Cinder reads it).
"""

import configparser
import dataclasses
import os

from oslo_log import log as logging

from storpool_openstack.cinder import deferred
from storpool_openstack.common import exception
from storpool_openstack.ops import client
from storpool_openstack.ops import image_cache
from storpool_openstack.ops import output

LOG = logging.getLogger(__name__)

OUR_DRIVER = 'storpool_openstack.cinder.driver.StorPoolDriver'
HOURS_OPT = 'storpool_deferred_delete_hours'
BACKEND_DEFAULTS = 'backend_defaults'
# The defaults of the driver's purge task (options.py; not imported: that
# would import Cinder).
PURGE_INTERVAL_OPT = 'storpool_deferred_delete_purge_interval'
PURGE_BATCH_OPT = 'storpool_deferred_delete_purge_batch'


@dataclasses.dataclass
class Hours:
    """The retention and where it came from."""

    value: int | None  # None: unknown
    source: str


def hours_from_cinder_conf(path: str, backend: str | None) -> Hours:
    """`storpool_deferred_delete_hours` of the StorPool backend in path.

    Without `backend`, the one StorPool backend, or all of them if they
    agree. Raises StorPoolError naming the file and the fix.
    """
    if not os.path.exists(path):
        if backend:
            raise exception.StorPoolError(
                f'{path} does not exist, so backend {backend} cannot be '
                f'read from it; pass --cinder-conf PATH or --hours N')
        return Hours(None, f'unknown: {path} not found; pass --hours N')
    # [DEFAULT] is not a fallback for backend options: a plain section.
    parser = configparser.ConfigParser(interpolation=None, strict=False,
                                       default_section='\0')
    try:
        with open(path, encoding='utf-8') as fobj:
            parser.read_file(fobj)
    except (OSError, configparser.Error) as exc:
        first = str(exc).splitlines()[0]
        raise exception.StorPoolError(f'cannot read {path}: {first}') \
            from None
    ours = [s for s in parser.sections()
            if parser.get(s, 'volume_driver', fallback='').strip() ==
            OUR_DRIVER]
    if backend:
        if not parser.has_section(backend):
            raise exception.StorPoolError(
                f'{path} has no [{backend}] section; StorPool backends '
                f'there: {", ".join(ours) or "none"}')
        if backend not in ours:
            raise exception.StorPoolError(
                f'[{backend}] in {path} does not use {OUR_DRIVER}; '
                f'StorPool backends there: {", ".join(ours) or "none"}')
        ours = [backend]
    if not ours:
        return Hours(None, f'unknown: no backend in {path} uses '
                           f'{OUR_DRIVER}; pass --hours N')
    found = {section: _section_hours(parser, path, section)
             for section in ours}
    values = set(found.values())
    if len(values) > 1:
        listed = ', '.join(f'{s} ({h} h)' for s, h in found.items())
        raise exception.StorPoolError(
            f'the StorPool backends in {path} keep deleted volumes for '
            f'different times: {listed}; pass --backend NAME')
    sections = ', '.join(f'[{s}]' for s in ours)
    return Hours(values.pop(), f'{sections} of {path}')


def _section_hours(parser: configparser.ConfigParser, path: str,
                   section: str) -> int:
    for where in (section, BACKEND_DEFAULTS):
        if parser.has_option(where, HOURS_OPT):
            raw = parser.get(where, HOURS_OPT).strip()
            try:
                value = int(raw)
            except ValueError:
                value = -1
            if value < 0:
                raise exception.StorPoolError(
                    f'[{where}] {HOURS_OPT} = {raw!r} in {path} is not a '
                    f'whole number of hours >= 0')
            return value
    return 0


@dataclasses.dataclass
class Row:
    """One volume kept by deferred deletion."""

    volume_id: str
    name: str
    size: int | None
    global_id: str | None
    deleted_at: int
    expires_at: int | None

    def due(self, now: float) -> bool | None:
        if self.expires_at is None:
            return None
        return self.expires_at <= now

    def to_json(self, now: float) -> dict:
        return {'volume_id': self.volume_id, 'snapshot': self.name,
                'size': self.size, 'globalId': self.global_id,
                'deleted_at': self.deleted_at,
                'expires_at': self.expires_at, 'due': self.due(now)}


class DeferredView:
    """The `deferred` subcommand's data: config, API, the retention."""

    def __init__(self, *, hours: int | None = None,
                 cinder_conf: str | None = None, backend: str | None = None,
                 **storpool):
        """`storpool`: the arguments of `client.connect`."""
        if hours is not None:
            self.hours = Hours(hours, '--hours')
        elif cinder_conf:
            self.hours = hours_from_cinder_conf(cinder_conf, backend)
        else:
            self.hours = Hours(None, 'unknown; pass --hours N')
        self.cfg, self.api = client.connect(**storpool)
        self.prefix = self.cfg.volume_prefix

    def describe(self, rows: list[Row] | None = None) -> str:
        if self.hours.value is None and rows and \
                all(row.expires_at is not None for row in rows):
            # Each snapshot carries its own keep-until time: the table
            # shows when each goes, whatever cinder.conf says.
            kept = 'each kept until the time its deletion recorded'
        elif self.hours.value is None:
            kept = f'retention {self.hours.source}'
        elif self.hours.value == 0:
            kept = f'deferred deletion off ({self.hours.source})'
        else:
            kept = f'kept {self.hours.value} h ({self.hours.source})'
        return (f'deferred deletions of volume prefix "{self.prefix}", '
                f'{kept}, StorPool API {self.cfg.endpoint}')

    def rows(self) -> list[Row]:
        """Oldest first (one API call)."""
        hours = self.hours.value or None
        return [Row(volume_id=item['volume_id'], name=item['name'],
                    size=item.get('size'), global_id=item.get('globalId'),
                    deleted_at=item['deleted_at'],
                    expires_at=item['expires_at'])
                for item in deferred.list_deferred(self.api, self.prefix,
                                                   hours)]


def _relative(seconds: float) -> str:
    if seconds >= 3600:
        return f'in {int(seconds // 3600)} h'
    return f'in {max(1, int(seconds // 60))} min'


def when(row: Row, hours: int | None, now: float) -> str:
    """When the driver deletes the volume's data for good."""
    if hours == 0:
        return 'never (deferred deletion is off)'
    if row.expires_at is None:
        return 'unknown'
    if row.expires_at <= now:
        return f'due since {image_cache.utc(row.expires_at)}'
    return (f'{image_cache.utc(row.expires_at)} '
            f'({_relative(row.expires_at - now)})')


def format_table(rows: list[Row], heading: str, hours: int | None,
                 now: float) -> list[str]:
    """A fixed-width table for the terminal, oldest first."""
    lines = [heading]
    if not rows:
        lines.append('no volumes kept by deferred deletion')
        return lines
    header = ('VOLUME', 'SIZE', 'DELETED', 'DELETED FOR GOOD', 'SNAPSHOT')
    lines += output.table(header, [
        (row.volume_id, image_cache.human_size(row.size),
         image_cache.utc(row.deleted_at), when(row, hours, now), row.name)
        for row in rows])
    total = sum(row.size for row in rows if isinstance(row.size, int))
    summary = (f'{len(rows)} volume(s), {image_cache.human_size(total)}')
    due = sum(1 for row in rows if row.due(now))
    if hours and due:
        summary += (f'; {due} due: cinder-volume deletes them while it '
                    f'runs, every {PURGE_INTERVAL_OPT} seconds (default '
                    f'60), up to {PURGE_BATCH_OPT} (default 100) at a '
                    f'time')
    elif hours == 0:
        summary += ('; with deferred deletion off nothing deletes them: '
                    'delete the snapshots by hand when they are not '
                    'needed')
    elif hours is None and any(row.expires_at is None for row in rows):
        summary += '; pass --hours N or --cinder-conf to see when they go'
    lines.append(summary)
    lines.append('to get a volume back, create a StorPool volume from its '
                 'snapshot before then and "cinder manage" it')
    return lines
