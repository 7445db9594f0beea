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
"""The driver and the operator tools on a big cluster: 100 vs 10,000.

Each scale is a fresh emulator (in-process, so that its model can be
filled directly, without 30,000 HTTP calls): N volumes, 2N snapshots
(one per volume, and a second one that is a Cinder snapshot, a deferred
deletion or an image cache entry), ATTACHED volumes attached to this
host and recorded in an attach-state file.  Then, through HTTP as in
production, each measured operation's time at both scales (median of
REPEAT) and its growth.  The stats refresh is the one with a target
(<= 2x): its StorPool answers come from counters on a real cluster (and
in the emulator, see emulator/accounting.py); the others list every
volume or snapshot by nature (one VolumesList/SnapshotsList), so they
grow with the answer's size.

Also the deferred-deletion purge task at its defaults: the deletions an
hour it sustains and the API calls a minute it makes, from a timed run
of a full batch on the big cluster.
"""

import gc
import os
import time
import uuid

from tests.bench import figures

SCALES = (100, 10_000)
REPEAT = 3
STATS_REPEAT = 15
ATTACHED = 20
CACHED_IMAGES = 33  # one more than storpool_image_cache_max_entries
BATCH = 20  # deletions per measured reaper run (both scales)
GiB = 1024 ** 3


def _fill(bench, count: int) -> dict:
    """Fill the model directly; return what the measures need."""
    from storpool_openstack.cinder import deferred
    from storpool_openstack.cinder import image_cache
    from storpool_openstack.common import names
    cl = bench.emu.cluster
    prefix = bench.emu.volume_prefix
    long_ago = int(time.time()) - 30 * 86400
    expired = BATCH * REPEAT + 100  # + one default batch, see _reaper
    vols = []
    for i in range(count):
        vid = str(uuid.uuid4())
        name = names.volume_name(vid, prefix)
        cl.volume_create({'name': name, 'size': GiB,
                          'template': ('hybrid', 'ssd')[i % 2]})
        cl.volume_snapshot(name, {'name': names.snapshot_name(
            str(uuid.uuid4()), prefix)})
        vols.append(name)
    for i, name in enumerate(vols):
        if i < CACHED_IMAGES:
            snap = image_cache.cache_snapshot_name(
                str(uuid.uuid4()), 'abc123', prefix)
            tags = {image_cache.TAG_USED: str(long_ago + i)}
        elif i < CACHED_IMAGES + expired:
            # What a deleted volume leaves: its volume is gone.
            gone = str(uuid.uuid4())
            name = names.volume_name(gone, prefix)
            cl.volume_create({'name': name, 'size': GiB})
            cl.volume_snapshot(name, {
                'name': deferred.snapshot_name(gone, prefix, long_ago),
                'tags': {deferred.TAG: str(long_ago),
                         deferred.TAG_UNTIL: str(long_ago + 3600)}})
            cl.volume_delete(name)
            continue
        else:
            snap = names.snapshot_name(str(uuid.uuid4()), prefix)
            tags = {}
        cl.volume_snapshot(name, {'name': snap, 'tags': tags})
    state_path = os.path.join(bench.tmp, f'attach-{count}.json')
    from storpool_openstack import attach_state
    state = attach_state.AttachState(state_path)
    for name in vols[-ATTACHED:]:
        cl.volumes_reassign([{'volume': name, 'rw': [cl.client_id]}])
        state.add(f'bench-{name}', name, kind='brick', rights=2)
    return {'volumes': vols, 'state': state}


def _time(func, repeat: int = REPEAT, cpu: list | None = None
          ) -> list[float]:
    """Wall times of `repeat` runs; this thread's CPU times into `cpu`."""
    times = []
    for _ in range(repeat):
        used = time.thread_time()
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
        if cpu is not None:
            cpu.append(time.thread_time() - used)
    return times


def _measure(count: int) -> dict:
    from storpool_openstack import attach_state
    from storpool_openstack.cinder import image_cache
    from storpool_openstack.cinder import reaper
    from tests.bench import bench_driver
    with bench_driver.Bench(in_process=True, upstream=False,
                            device_mode='file') as bench:
        started = time.perf_counter()
        filled = _fill(bench, count)
        fill_s = time.perf_counter() - started
        # The emulator's model lives in this process (a real StorPool is
        # another host): keep the garbage collector from walking its
        # 30,000 records at every collection, in the driver's time.
        gc.collect()
        gc.freeze()
        bench.stack.callback(gc.unfreeze)
        drv = bench.ours
        api = drv._api
        prefix = bench.emu.volume_prefix
        res = {'fill': fill_s}
        # A few ms each: more repeats against the load's noise; the CPU
        # time of this thread is the driver's alone (the emulator runs in
        # another thread here).
        res['stats cpu'] = []
        res['stats'] = _time(lambda: drv.get_volume_stats(refresh=True),
                             STATS_REPEAT, res['stats cpu'])
        res['manageable'] = _time(lambda: drv.get_manageable_volumes(
            [], None, 100, count // 2, ['size'], ['asc']))

        def trim():
            # One new entry over the limit: the trim drops the oldest.
            name = image_cache.cache_snapshot_name(
                str(uuid.uuid4()), 'abc123', prefix)
            api.snapshot_create(filled['volumes'][0], {'name': name})
            drv._image_cache_trim('none', name)
        res['cache trim'] = _time(trim)
        purge = reaper.Reaper(api, prefix, hours=lambda: 1, interval=60,
                              batch=BATCH)
        done = []
        res['reaper run'] = _time(lambda: done.extend(purge.run_once()))
        res['reaper deleted'] = len(done)
        res['sync'] = _time(lambda: attach_state.sync(
            filled['state'], api, bench.emu.cluster.client_id, prefix))
        if count == max(SCALES):
            res['purge'] = _reaper_rate(bench, api, prefix)
        bench.emu.cluster.reset()  # no device links left behind
        return res


def _reaper_rate(bench, api, prefix) -> dict:
    """One run at the defaults on the big cluster: time and calls."""
    from storpool_openstack.cinder import options
    from storpool_openstack.cinder import reaper
    defaults = {opt.name: opt.default for opt in options.storpool_opts}
    interval = defaults['storpool_deferred_delete_purge_interval']
    batch = defaults['storpool_deferred_delete_purge_batch']
    purge = reaper.Reaper(api, prefix, hours=lambda: 1, interval=interval,
                          batch=batch)
    bench.control.clear_calls()
    start = time.perf_counter()
    done = purge.run_once()
    took = time.perf_counter() - start
    calls = len(bench.control.calls())
    # A run longer than the interval delays the next one (a fixed
    # interval looping call): the rate is a batch per max(interval, run).
    period = max(interval, took)
    return {'interval': interval, 'batch': batch, 'deleted': len(done),
            'seconds': took, 'calls': calls,
            'per_hour': len(done) * 3600 / period,
            'calls_per_minute': calls * 60 / period}


def run() -> list[str]:
    results = {count: _measure(count) for count in SCALES}
    small, big = (results[c] for c in SCALES)
    lines = [f'scale: {SCALES[0]} vs {SCALES[1]} volumes, twice as many '
             f'snapshots, {ATTACHED} attached; median of {REPEAT} '
             f'(stats: {STATS_REPEAT}) '
             f'(filling the model took {small["fill"]:.1f} s and '
             f'{big["fill"]:.1f} s)']
    rows = []
    for key, what in (('stats', 'stats refresh'),
                      ('manageable', 'get_manageable_volumes page'),
                      ('cache trim', 'image-cache trim'),
                      ('reaper run', f'reaper run ({BATCH} deletions)'),
                      ('sync', 'attachments --sync')):
        low, high = figures.median(small[key]), figures.median(big[key])
        rows.append((what, f'{low * 1000:.1f}', f'{high * 1000:.1f}',
                     f'{high / low:.1f}x'))
    lines += ['  ' + line for line in figures.table(rows, (
        'operation', f'ms at {SCALES[0]}', f'ms at {SCALES[1]}',
        'growth'))]
    growth = figures.median(big['stats']) / figures.median(small['stats'])
    cpu_growth = (figures.median(big['stats cpu']) /
                  figures.median(small['stats cpu']))
    lines.append(figures.verdict(
        f'stats refresh <= 2x from {SCALES[0]} to {SCALES[1]} volumes',
        growth <= 2, f'{growth:.2f}x; at {SCALES[1]}: '
        f'{figures.median(big["stats"]) * 1000:.1f} ms, IQR '
        f'{figures.spread([t * 1000 for t in big["stats"]], ".1f")} ms; '
        f'the driver\'s CPU time {cpu_growth:.2f}x ('
        f'{figures.median(small["stats cpu"]) * 1000:.2f} -> '
        f'{figures.median(big["stats cpu"]) * 1000:.2f} ms)',
        figure=f'{growth:.2f}x',
        iqr=f'{figures.spread([t * 1000 for t in big["stats"]], ".1f")} '
        f'ms at {SCALES[1]}'))
    purge = big['purge']
    lines.append(
        f'deferred-deletion purge at its defaults (every '
        f'{purge["interval"]} s, batch {purge["batch"]}) on {SCALES[1]} '
        f'volumes: one run deleted {purge["deleted"]} in '
        f'{purge["seconds"]:.2f} s with {purge["calls"]} API calls')
    lines.append(figures.verdict(
        'the purge keeps up with >= 5,000 deletions/hour, bounded API load',
        purge['per_hour'] >= 5000 and purge['deleted'] == purge['batch'],
        f'{purge["per_hour"]:.0f} deletions/hour, '
        f'{purge["calls_per_minute"]:.0f} API calls/minute',
        figure=f'{purge["per_hour"]:.0f}/h, '
        f'{purge["calls_per_minute"]:.0f} calls/min'))
    return lines


if __name__ == '__main__':
    print('\n'.join(run()))
