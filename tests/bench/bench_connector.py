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
"""Connector overhead: connect+disconnect vs the bare StorPool attach+detach.

Against one emulator, interleaved in one run: N cycles of
`StorPoolConnector.connect_volume` + `disconnect_volume` (attach-state
transactions, device wait, API calls) and N cycles of the raw
`VolumesReassignWait` attach + detach the connector is built on. The
ratio of the medians is the connector's cost over StorPool's own. Also
measured: a second user's connect of an attached volume (no API call).
"""

import os
import statistics
import tempfile
import time

from storpool_openstack.brick import connector
from storpool_openstack.common import api as sp_api
from storpool_openstack.common import config as sp_config
from storpool_openstack.emulator import fixture as emu_fixture

CYCLES = 40
WARMUP = 3
MiB = 1 << 20


def _ms(values: list[float]) -> str:
    return (f'median {statistics.median(values) * 1000:7.2f} ms, '
            f'p90 {sorted(values)[int(len(values) * 0.9)] * 1000:7.2f} ms')


def run() -> list[str]:
    emu = emu_fixture.EmulatorFixture()
    emu.setUp()
    try:
        return _measure(emu)
    finally:
        emu.cleanUp()


def _measure(emu: emu_fixture.EmulatorFixture) -> list[str]:
    cfg = sp_config.load(override_config=emu.config)
    api = sp_api.StorPoolAPI(cfg, retries=0, retry_delay=0)
    state_dir = tempfile.mkdtemp(prefix='bench-connector-')
    conn = connector.StorPoolConnector(
        None, storpool_config=cfg, api=api, dev_root=emu.dev_dir,
        attach_state_file=os.path.join(state_dir, 'attach.json'))
    name = f'{emu.volume_prefix}--volume-bench'
    api.volume_create({'name': name, 'size': MiB, 'replication': 3})
    our_id = emu.client_id
    props = {'volume': 'bench', 'access_mode': 'rw', 'client_id': our_id}
    other = dict(props, instance='bench-second-user')

    raw, wrapped, conn_only, disc_only, second = [], [], [], [], []
    raw_att, raw_det = [], []
    emu.control.clear_calls()
    for i in range(WARMUP + CYCLES):
        t0 = time.perf_counter()
        api.volumes_reassign_wait([{'volume': name, 'rw': [our_id]}])
        tm = time.perf_counter()
        api.volumes_reassign_wait([{'volume': name, 'detach': [our_id]}])
        t1 = time.perf_counter()
        info = conn.connect_volume(props)
        t2 = time.perf_counter()
        conn.connect_volume(other)
        t3 = time.perf_counter()
        conn.disconnect_volume(other, None)
        t4 = time.perf_counter()
        conn.disconnect_volume(props, info)
        t5 = time.perf_counter()
        if i >= WARMUP:
            raw.append(t1 - t0)
            raw_att.append(tm - t0)
            raw_det.append(t1 - tm)
            wrapped.append((t2 - t1) + (t5 - t4))
            conn_only.append(t2 - t1)
            disc_only.append(t5 - t4)
            second.append(t3 - t2)
    calls = emu.control.calls('VolumesReassignWait')
    api.volume_delete(name)
    # Per cycle: 2 raw calls, then the connector's own.
    conn_calls = (len(calls) - 2 * (WARMUP + CYCLES)) / (WARMUP + CYCLES)

    ratio = statistics.median(wrapped) / statistics.median(raw)
    return [
        f'connector vs raw VolumesReassignWait, {CYCLES} cycles '
        f'(+{WARMUP} warm-up), emulator device mode {emu.device_mode}',
        f'  raw attach+detach          {_ms(raw)}',
        f'    attach                   {_ms(raw_att)}',
        f'    detach                   {_ms(raw_det)}',
        f'  connect+disconnect         {_ms(wrapped)}',
        f'    connect                  {_ms(conn_only)}',
        f'    disconnect               {_ms(disc_only)}',
        f'  2nd user connect (no call) {_ms(second)} (one attach-state '
        f'write)',
        f'  API calls per connector cycle: {conn_calls:.1f} '
        f'(VolumesReassignWait only)',
        f'  ratio connect+disconnect / raw attach+detach: {ratio:.2f}',
    ]


if __name__ == '__main__':
    for line in run():
        print(line)
