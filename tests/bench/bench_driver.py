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
"""This driver against Cinder's in-tree StorPool driver, on one emulator.

Both drivers get the same Cinder objects (real OVOs in an in-memory sqlite
database built by Cinder's migrations) and the same kind of Configuration,
and talk HTTP to the same StorPool API emulator. Per operation the bench
reports the API calls (from the emulator's call log) and the wall-time
ratio ours/upstream as the median of per-pair ratios (ours and upstream
back to back, the order alternating), with what is not the machine's
load: the client's own CPU time and the emulator's time per call.  For
create-from-image it compares with two baselines, each into the same kind
of fresh, attached volume, timed until the data is on the emulator's
files (the detach included, as in ours): a bare `qemu-img convert` of the
local image file (the issue's anchor), and Cinder's own way, which pays
what ours pays (the download from the same Glance stand-in into a fresh
file of image_conversion_dir, then the same qemu-img).  The cached create
of the two image sizes is timed in pairs.  Ratios are reported against
targets (figures.py); nothing is asserted.
"""

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from unittest import mock
import uuid
import warnings

from tests.bench import figures

REPEAT = 21
FIRST_REPEAT = 3
CACHED_REPEAT = 7
GiB = 1024 ** 3
MiB = 1024 ** 2
IMAGE_SIZES = (256 * MiB, GiB)
OURS = 'storpool_openstack.cinder.driver.StorPoolDriver'


class _Images:
    """A Glance stand-in: image bytes in local files, chunked download."""

    def __init__(self):
        self.images = {}
        self.paths = {}
        self.temp_images = None

    def add(self, path: str, disk_format: str) -> dict:
        image_id = str(uuid.uuid4())
        sha = hashlib.sha512()
        with open(path, 'rb') as src:
            for chunk in iter(lambda: src.read(8 * MiB), b''):
                sha.update(chunk)
        meta = {'id': image_id, 'disk_format': disk_format,
                'container_format': 'bare', 'status': 'active',
                'size': os.path.getsize(path), 'visibility': 'public',
                'os_hash_algo': 'sha512', 'os_hash_value': sha.hexdigest(),
                'checksum': None, 'owner': None, 'properties': {}}
        self.images[image_id] = meta
        self.paths[image_id] = path
        return dict(meta)

    def show(self, context, image_id):
        return dict(self.images[image_id])

    def download(self, context, image_id, data=None):
        def chunks():
            with open(self.paths[image_id], 'rb') as src:
                yield from iter(lambda: src.read(4 * MiB), b'')
        if data is None:
            return chunks()
        for chunk in chunks():
            data.write(chunk)


class Bench:
    def __init__(self, out=print, *, in_process: bool = False,
                 upstream: bool = True, **emulator):
        """`in_process`: the emulator in a thread, its model reachable."""
        self.out = out
        self.in_process = in_process
        self.with_upstream = upstream
        self.emulator_args = emulator
        self.stack = contextlib.ExitStack()

    # Set-up

    def __enter__(self):
        warnings.simplefilter('ignore')
        os.environ.setdefault('LANG', 'C')
        from storpool_openstack.emulator import fixture as emu_fixture
        # Started before Cinder is set up: an in-process emulator started
        # after it never answers (its server thread sees no connection).
        self.emu = emu_fixture.EmulatorFixture(in_process=self.in_process,
                                               **self.emulator_args)
        self.emu.setUp()
        self.stack.callback(self.emu.cleanUp)
        self.control = self.emu.control

        from oslo_config import cfg
        from oslo_log import log as logging

        from cinder import objects
        objects.register_all()
        from cinder.common import config  # noqa: F401 (registers opts)
        from cinder import context
        from cinder.db import migration

        self.tmp = tempfile.mkdtemp(prefix='sp-bench-')
        self.stack.callback(shutil.rmtree, self.tmp, ignore_errors=True)
        self.conf = cfg.CONF
        self.conf([], project='cinder', default_config_files=[])
        logging.setup(self.conf, 'cinder')
        self.conf.set_override('connection', 'sqlite://', 'database')
        self.conf.set_override('image_conversion_dir',
                               os.path.join(self.tmp, 'conversion'))
        self.conf.set_override('lock_path', os.path.join(self.tmp, 'lock'),
                               'oslo_concurrency')
        migration.db_sync()
        # Cinder's privileged helpers (qemu-img info's format check) run
        # through a privsep daemon started with sudo, which this machine
        # lacks; the bench runs as root, so run them in-process instead.
        import cinder.privsep
        cinder.privsep.sys_admin_pctxt.set_client_mode(False)
        self.ctx = context.get_admin_context()

        from cinder.volume import volume_types
        self.types = {
            name: volume_types.create(self.ctx, f'bench-{name}-'
                                      f'{uuid.uuid4().hex[:8]}',
                                      {'storpool_template': name})
            for name in ('hybrid', 'ssd')}
        # The in-tree driver registers its options unconditionally at
        # import (and fails on ones already there); ours tolerates that,
        # so the in-tree module must be imported first.
        from cinder.volume.drivers import storpool  # noqa: F401
        self.ours = self._ours()
        self.upstream = self._upstream() if self.with_upstream else None
        return self

    def __exit__(self, *exc):
        self.stack.close()

    def _apply(self, conf, options: dict, group: str):
        for key, value in options.items():
            self.conf.set_override(key, value, group)

    def _ours(self, **extra):
        from cinder import db
        from cinder.volume import configuration
        from cinder.volume import driver
        from oslo_utils import importutils
        cls = importutils.import_class(OURS)
        conf = configuration.Configuration(driver.volume_opts,
                                           config_group='sp_ours')
        from storpool_openstack.cinder import options
        conf.append_config_values(options.storpool_opts)
        self._apply(conf, {
            'storpool_config_file': self.emu.conf_path,
            'storpool_dev_root': self.emu.dev_dir,
            'storpool_attach_state_file': os.path.join(self.tmp,
                                                       'attach.json'),
            'storpool_api_retries': 0,
            'volume_backend_name': 'ours', **extra}, 'sp_ours')
        drv = cls(configuration=conf, db=db, host='bench@ours')
        drv.do_setup(self.ctx)
        drv.check_for_setup_error()
        return drv

    def _upstream(self):
        from cinder import db
        from cinder.volume import configuration
        from cinder.volume import driver
        from cinder.volume.drivers import storpool as upstream
        from os_brick.initiator import storpool_utils
        conf = configuration.Configuration(driver.volume_opts,
                                           config_group='sp_upstream')
        self._apply(conf, {'volume_backend_name': 'upstream'},
                    'sp_upstream')
        # The in-tree driver reads /etc/storpool.conf through os-brick's
        # storpool_utils.get_conf() and has no option for another file:
        # point it at the emulator by patching get_conf to return the
        # emulator's configuration.
        patcher = mock.patch.object(storpool_utils, 'get_conf',
                                    return_value=dict(self.emu.config))
        patcher.start()
        self.stack.callback(patcher.stop)
        drv = upstream.StorPoolDriver(configuration=conf, db=db,
                                      host='bench@upstream')
        drv.do_setup(self.ctx)
        drv.check_for_setup_error()
        return drv

    # Objects

    def volume(self, size=1, tmpl='hybrid'):
        from cinder import objects
        vol = objects.Volume(
            self.ctx, size=size, volume_type_id=self.types[tmpl]['id'],
            host='bench@b#p', status='creating', project_id='bench',
            user_id='bench', attach_status='detached')
        vol.create()
        return vol

    def snapshot(self, vol):
        from cinder import objects
        snap = objects.Snapshot(
            self.ctx, volume_id=vol.id, volume_size=vol.size,
            volume_type_id=vol.volume_type_id, status='creating',
            project_id='bench', user_id='bench')
        snap.create()
        return snap

    # Measuring

    def measure_once(self, drv, prepare, op, cleanup):
        """(seconds, API calls, client CPU s, emulator s) of one op run.

        The client CPU time (this thread's) and the emulator's own time
        per call do not count the wait for a loaded machine's scheduler:
        they tell a slower driver from a slower moment.
        """
        state = prepare(drv)
        self.control.clear_calls()
        cpu = time.thread_time()
        start = time.perf_counter()
        op(drv, state)
        took = time.perf_counter() - start
        cpu = time.thread_time() - cpu
        calls = self.control.calls()
        cleanup(drv, state)
        return took, len(calls), cpu, sum(c.get('duration') or 0
                                          for c in calls)

    def operations(self):
        """(name, prepare, op, cleanup) for each compared operation."""
        def new_vol(drv, tmpl='hybrid'):
            vol = self.volume(tmpl=tmpl)
            drv.create_volume(vol)
            return vol

        def with_snap(drv):
            vol = new_vol(drv)
            snap = self.snapshot(vol)
            drv.create_snapshot(snap)
            return vol, snap

        def drop(drv, *objs):
            from cinder import objects
            for obj in objs:
                if isinstance(obj, objects.Snapshot):
                    drv.delete_snapshot(obj)
            for obj in objs:
                if isinstance(obj, objects.Volume):
                    drv.delete_volume(obj)

        def clone(tmpl):
            def prepare(drv):
                return new_vol(drv), self.volume(tmpl=tmpl)

            def op(drv, state):
                drv.create_cloned_volume(state[1], state[0])

            def cleanup(drv, state):
                drop(drv, state[1], state[0])
            return prepare, op, cleanup

        def snap_prepare(drv):
            vol = new_vol(drv)
            return vol, self.snapshot(vol)

        def from_snap_prepare(drv):
            vol, snap = with_snap(drv)
            return vol, snap, self.volume()

        def revert(drv, state):
            drv.revert_to_snapshot(self.ctx, state[0], state[1])

        return [
            ('create', lambda d: self.volume(),
             lambda d, v: d.create_volume(v), lambda d, v: drop(d, v)),
            ('delete detached', new_vol, lambda d, v: d.delete_volume(v),
             lambda d, v: None),
            ('extend', new_vol, lambda d, v: d.extend_volume(v, 2),
             lambda d, v: drop(d, v)),
            ('snapshot', snap_prepare,
             lambda d, s: d.create_snapshot(s[1]),
             lambda d, s: drop(d, s[1], s[0])),
            ('delete snapshot', with_snap,
             lambda d, s: d.delete_snapshot(s[1]),
             lambda d, s: drop(d, s[0])),
            ('clone same template',) + clone('hybrid'),
            ('clone across templates',) + clone('ssd'),
            ('create from snapshot', from_snap_prepare,
             lambda d, s: d.create_volume_from_snapshot(s[2], s[1]),
             lambda d, s: drop(d, s[1], s[2], s[0])),
            ('revert', with_snap, revert,
             lambda d, s: drop(d, s[1], s[0])),
            ('stats', lambda d: None,
             lambda d, s: d.get_volume_stats(refresh=True),
             lambda d, s: None),
        ]

    def bench_operations(self) -> list[tuple]:
        """Each operation's calls, wall times and what they are made of.

        (name, calls ours, calls upstream, [s ours], [s upstream],
        {'cpu'|'emulator': ([s ours], [s upstream])})
        """
        rows = []
        for name, prepare, op, cleanup in self.operations():
            got = {'ours': ([], [], [], []), 'upstream': ([], [], [], [])}
            for rep in range(REPEAT):
                # In pairs, the order alternating: a slow moment of the
                # machine hits both drivers alike.
                order = (('ours', self.ours), ('upstream', self.upstream))
                for key, drv in order if rep % 2 == 0 else order[::-1]:
                    for i, value in enumerate(self.measure_once(
                            drv, prepare, op, cleanup)):
                        got[key][i].append(value)
            rows.append((name, max(got['ours'][1]),
                         max(got['upstream'][1]), got['ours'][0],
                         got['upstream'][0],
                         {'cpu': (got['ours'][2], got['upstream'][2]),
                          'emulator': (got['ours'][3],
                                       got['upstream'][3])}))
        return rows

    # Images

    def make_image(self, size: int, fmt: str) -> str:
        raw = os.path.join(self.tmp, f'img-{size}.raw')
        if not os.path.exists(raw):
            block = os.urandom(MiB)
            with open(raw, 'wb') as out:
                out.truncate(size)
                for off in range(0, size, 2 * MiB):  # half the data
                    out.seek(off)
                    out.write(block)
        if fmt == 'raw':
            return raw
        path = os.path.join(self.tmp, f'img-{size}.{fmt}')
        subprocess.run(['qemu-img', 'convert', '-f', 'raw', '-O', fmt, raw,
                        path], check=True)
        return path

    def _settled(self):
        """Start a timed copy with no dirty pages from the last one.

        Every copy's volume lives until the end of the run, as a volume
        made from an image does: a volume deleted right after its copy
        has its data dropped from the page cache instead of written to
        the emulator's files, which made the bare qemu-img look faster
        than any copy whose volume is kept.
        """
        os.sync()

    def raw_qemu_img(self, path: str, fmt: str, size: int, *,
                     images: _Images | None = None,
                     image_id: str | None = None) -> float:
        """A baseline: a bare qemu-img convert into a fresh volume.

        Timed as ours is, until the data is in the emulator's files: the
        convert (O_DIRECT, as Cinder runs it for a block device) and the
        detach, which flushes the device. Not timed: the VolumeCreate and
        the attach, a few ms of API calls that ours pays too.

        With `images`: Cinder's own way, which pays what ours pays: first
        the download of `image_id` from the Glance stand-in into a fresh
        file of image_conversion_dir (timed), then the convert of it.
        """
        vol = self.volume(size=max(1, size // GiB))
        self.ours.create_volume(vol)
        self._image_vols.append(vol)
        props = self.ours._local_connector_properties()
        info, vol = self.ours._attach_volume(self.ctx, vol, props)
        detached = False
        fetched = None
        try:
            self._settled()
            start = time.perf_counter()
            if images is not None:
                os.makedirs(self.conf.image_conversion_dir, exist_ok=True)
                fetched = path = os.path.join(
                    self.conf.image_conversion_dir, f'fetch-{image_id}')
                with open(fetched, 'wb') as out:
                    for chunk in images.download(None, image_id):
                        out.write(chunk)
            subprocess.run(['qemu-img', 'convert', '-t', 'none', '-W',
                            '-f', fmt, '-O', 'raw', path,
                            info['device']['path']], check=True)
            self.ours._detach_volume(self.ctx, info, vol, props, force=True)
            detached = True
            return time.perf_counter() - start
        finally:
            if fetched is not None:
                os.unlink(fetched)
            if not detached:
                self.ours._detach_volume(self.ctx, info, vol, props,
                                         force=True)

    def from_image(self, images, meta, size) -> tuple[float, int]:
        vol = self.volume(size=max(1, size // GiB))
        self._settled()
        self.control.clear_calls()
        start = time.perf_counter()
        update, cloned = self.ours.clone_image(self.ctx, vol, (None, []),
                                               meta, images)
        took = time.perf_counter() - start
        calls = len(self.control.calls())
        if not cloned:
            raise RuntimeError(f'clone_image did not create {vol.id}')
        self._image_vols.append(vol)
        return took, calls

    def bench_images(self) -> list[dict]:
        from storpool_openstack.cinder import image_cache
        images = _Images()
        self._image_vols = []
        rows = []
        for size in IMAGE_SIZES:
            for fmt in ('qcow2', 'raw'):
                if fmt == 'raw' and size != GiB:
                    continue
                path = self.make_image(size, fmt)
                meta = images.add(path, fmt)
                got = {'raw': [], 'fetch': [], 'first': []}
                first_c = []

                def ours():
                    # A cache miss each time: drop the entry first.
                    image_cache.purge_image_cache(
                        self.ours._api, self.ours._sp_config.volume_prefix,
                        image_id=meta['id'])
                    took, calls = self.from_image(images, meta, size)
                    first_c.append(calls)
                    return took
                runs = {
                    'raw': lambda: self.raw_qemu_img(path, fmt, size),
                    'fetch': lambda: self.raw_qemu_img(
                        path, fmt, size, images=images,
                        image_id=meta['id']),
                    'first': ours}
                order = list(runs)
                with _phases() as phases:
                    for rep in range(FIRST_REPEAT):
                        # The three back to back, the order rotating.
                        for key in order[rep % 3:] + order[:rep % 3]:
                            got[key].append(runs[key]())
                rows.append({
                    'name': f'{size // MiB} MiB {fmt}', 'size': size,
                    'fmt': fmt, 'meta': meta, **got,
                    'first_calls': max(first_c),
                    'phases': {k: v / FIRST_REPEAT
                               for k, v in phases.items()}})
                # The copies' volumes go (disk space); the cache stays.
                self._drop_image_volumes(purge=False)
        # Cached creates of every image in turn, the order rotating, so
        # that the 1 GiB / 256 MiB ratio is one of pairs.
        for row in rows:
            row['cached'], row['cached_calls'] = [], 0
        for rep in range(CACHED_REPEAT):
            for row in rows[rep % len(rows):] + rows[:rep % len(rows)]:
                took, calls = self.from_image(images, row['meta'],
                                              row['size'])
                row['cached'].append(took)
                row['cached_calls'] = max(row['cached_calls'], calls)
        self._drop_image_volumes()
        return rows

    def _drop_image_volumes(self, purge: bool = True):
        from storpool_openstack.cinder import image_cache
        for vol in self._image_vols:
            self.ours.delete_volume(vol)
        self._image_vols = []
        if purge:
            image_cache.purge_image_cache(
                self.ours._api, self.ours._sp_config.volume_prefix)


@contextlib.contextmanager
def _phases():
    """Seconds spent in each step of our first copy (timing wrappers).

    Wraps the image_io module's download, convert and raw-stream functions
    to add up their time; they still run as they are.
    """
    from storpool_openstack.cinder import image_io
    spent = {'download': 0.0, 'convert': 0.0, 'stream raw': 0.0}

    def timed(key, func):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - start
        return wrapper
    saved = {name: getattr(image_io, name) for name in
             ('download', 'convert_to_device', 'stream_raw_image')}
    image_io.download = timed('download', saved['download'])
    image_io.convert_to_device = timed('convert', saved['convert_to_device'])
    image_io.stream_raw_image = timed('stream raw',
                                      saved['stream_raw_image'])
    try:
        yield spent
    finally:
        for name, func in saved.items():
            setattr(image_io, name, func)


def _ms(values: list[float]) -> str:
    return f'{figures.median(values) * 1000:.2f}'


def _ops_report(ops: list[tuple]) -> list[str]:
    rows = []
    for name, oc, uc, ours, up, parts in ops:
        value, spread = figures.ratio(ours, up)
        rows.append((name, oc, uc, _ms(ours), _ms(up), f'{value:.2f}',
                     spread, f'{_ms(parts["cpu"][0])}/{_ms(parts["cpu"][1])}',
                     f'{_ms(parts["emulator"][0])}/'
                     f'{_ms(parts["emulator"][1])}'))
    lines = figures.table(rows, (
        'operation', 'calls ours', 'calls upstream', 'ms ours',
        'ms upstream', 'ours/upstream', 'ratio IQR', 'cpu ms ours/up',
        'emulator ms ours/up'))
    lines.append('(ours/upstream: median of the per-pair ratios, IQR of '
                 'the same ratios; cpu ms: the client thread\'s own CPU '
                 'time; emulator ms: the emulator\'s time in the calls)')
    worse = [name for name, oc, uc, *_ in ops if oc > uc]
    lines.append(figures.verdict(
        'API calls <= upstream for every operation', not worse,
        ', '.join(worse) or 'all', figure=', '.join(worse) or 'all'))
    by_name = {row[0]: row for row in ops}
    for name, want in (('delete detached', 1), ('revert', 1)):
        got = by_name[name][1]
        lines.append(figures.verdict(f'{name} in {want} API call',
                                     got <= want, str(got),
                                     figure=f'{got} call'))
    snap = by_name['snapshot']
    value, spread = figures.ratio(snap[3], snap[4])
    cpu, emu = snap[5]['cpu'], snap[5]['emulator']
    lines.append(figures.verdict(
        'snapshot create <= 1.0x the in-tree driver', value <= 1.0,
        f'{value:.2f}x, IQR of the per-pair ratios {spread}; both make '
        f'{snap[1]} API call; client CPU {_ms(cpu[0])} vs {_ms(cpu[1])} '
        f'ms, emulator {_ms(emu[0])} vs {_ms(emu[1])} ms: the rest is '
        f'waiting for one HTTP round trip', figure=f'{value:.2f}x',
        iqr=spread))
    return lines


def _images_report(imgs: list[dict]) -> list[str]:
    rows = []
    for row in imgs:
        value, spread = figures.ratio(row['raw'], row['first'])
        fvalue, fspread = figures.ratio(row['fetch'], row['first'])
        phases = ', '.join(f'{k} {v:.2f}' for k, v in row['phases'].items()
                           if v)
        rows.append((row['name'], f'{figures.median(row["raw"]):.2f}',
                     f'{figures.median(row["fetch"]):.2f}',
                     f'{figures.median(row["first"]):.2f}',
                     row['first_calls'], f'{value:.2f} ({spread})',
                     f'{fvalue:.2f} ({fspread})', phases,
                     f'{figures.median(row["cached"]) * 1000:.0f}',
                     row['cached_calls']))
    lines = figures.table(rows, (
        'image', 's qemu-img', 's fetch+qemu-img', 's first', 'calls',
        'x qemu-img (IQR)', 'x fetch+qemu-img (IQR)', 's in (per copy)',
        'ms cached', 'calls cached'))
    lines.append('(s qemu-img: bare qemu-img convert -t none -W of the '
                 'local file into a fresh attached volume, until detached; '
                 's fetch+qemu-img: the same after a download from the '
                 'same Glance stand-in into a fresh file, as Cinder does; '
                 's first: ours end to end (VolumeCreate, attach, Glance '
                 'download, convert, detach, cache snapshot); x = '
                 'throughput ratio baseline time / ours, median of the '
                 'per-repeat ratios; s in: where our first copy spends '
                 'its time)')
    for key, what, want in (
            ('raw', 'qemu-img of a local file', 0.8),
            ('fetch', 'download + qemu-img (Cinder\'s way)', 1.0)):
        worst = min(imgs, key=lambda r: figures.ratio(r[key], r['first']))
        value, spread = figures.ratio(worst[key], worst['first'])
        lines.append(figures.verdict(
            f'first copy >= {want}x {what} throughput, every image',
            value >= want, f'worst {worst["name"]} {value:.2f}x, IQR '
            f'{spread}', figure=f'{value:.2f}x ({worst["name"]})',
            iqr=spread))
    by_name = {r['name']: r for r in imgs}
    big, small = by_name['1024 MiB qcow2'], by_name['256 MiB qcow2']
    value, spread = figures.ratio(big['cached'], small['cached'])
    lines.append(figures.verdict(
        'cached create-from-image 1 GiB / 256 MiB time <= 1.5',
        value <= 1.5, f'{value:.2f}, IQR {spread}; '
        f'{figures.median(big["cached"]) * 1000:.1f} / '
        f'{figures.median(small["cached"]) * 1000:.1f} ms',
        figure=f'{value:.2f}', iqr=spread))
    worst_cached = max(max(r['cached']) for r in imgs)
    lines.append(figures.verdict(
        'cached create-from-image under 1 s', worst_cached < 1,
        f'max {worst_cached * 1000:.0f} ms',
        figure=f'max {worst_cached * 1000:.0f} ms'))
    return lines


def run() -> list[str]:
    """Run the driver benchmark; return the report lines."""
    if shutil.which('qemu-img') is None:
        return ['bench_driver: SKIPPED: qemu-img is not installed '
                '(apt-get install qemu-utils)']
    lines = []
    with Bench() as bench:
        started = time.perf_counter()
        ops = bench.bench_operations()
        imgs = bench.bench_images()
        total = time.perf_counter() - started
        emu_mode = bench.emu.device_mode
    lines.append(f'== Cinder driver: ours vs in-tree (cinder 29), emulator '
                 f'devices: {emu_mode}, {REPEAT} interleaved pairs ==')
    lines += _ops_report(ops)
    lines.append('')
    lines.append(f'== Create volume from image (ours) vs bare qemu-img '
                 f'convert into a fresh emulator volume, {FIRST_REPEAT} '
                 f'interleaved repeats (cached: {CACHED_REPEAT}) ==')
    lines += _images_report(imgs)
    lines.append(f'bench_driver took {total:.1f} s')
    return lines


if __name__ == '__main__':
    for line in run():
        print(line)
    sys.exit(0)
