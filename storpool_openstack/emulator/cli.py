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

"""storpool-emulator: run a StorPool API emulator on loopback.

Prints one machine-readable line when it is ready, e.g.
``storpool-emulator listening on http://127.0.0.1:PORT (device mode: loop,
state: DIR)``, and removes its devices on SIGTERM/SIGINT.
"""

import argparse
import errno
import logging as std_logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import typing

import storpool_openstack
from storpool_openstack.emulator import devices
from storpool_openstack.emulator import iscsi
from storpool_openstack.emulator import service
from storpool_openstack.emulator import validate

TOKEN_ENV = 'STORPOOL_EMULATOR_TOKEN'


def _templates(text: str) -> list[dict]:
    """--templates: name:replication[:placeAll[:placeTail[:placeHead]]],...

    The replication is 1-3, or "-" for a template that sets none (its
    volumes keep their own); a bare name is refused, so that a forgotten
    replication is not silently a template without one.
    """
    form = ('give each template as name:replication, e.g. '
            '"hybrid:3,ssd:2" (name:- for a template without a '
            'replication)')
    items = [part.strip() for part in text.split(',')]
    if not text.strip() or not all(items):
        raise argparse.ArgumentTypeError(f'{text!r} is empty: {form}')
    result = []
    for item in items:
        parts = item.split(':')
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise argparse.ArgumentTypeError(
                f'template {item!r} has no replication: {form}')
        if parts[1] not in ('1', '2', '3', '-'):
            raise argparse.ArgumentTypeError(
                f'template {item!r}: replication {parts[1]!r} is not '
                f'1, 2, 3 or -: {form}')
        tmpl: dict = {'name': parts[0]}
        if parts[1] != '-':
            tmpl['replication'] = int(parts[1])
        for key, val in zip(('placeAll', 'placeTail', 'placeHead'),
                            parts[2:]):
            tmpl[key] = val
        result.append(tmpl)
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='storpool-emulator',
        description='Emulate a StorPool management API on loopback, with '
                    'real data files and block devices.')
    parser.add_argument('-V', '--version', action='version',
                        version='%(prog)s ' + storpool_openstack.__version__)
    parser.add_argument('--state-dir',
                        help='where the cluster lives: its data files and '
                             'cluster.json (volumes, snapshots, templates, '
                             'tags), kept across restarts (default: a new '
                             'temporary directory, removed at exit)')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on (default: %(default)s)')
    parser.add_argument('--allow-remote', action='store_true',
                        help='allow a non-loopback --host')
    parser.add_argument('--port', type=int, default=0,
                        help='port to listen on, 0 = any free port '
                             '(default: %(default)s)')
    parser.add_argument('--dev-dir', default='/dev',
                        help='where storpool/ and storpool-byid/ device '
                             'links go (default: %(default)s)')
    parser.add_argument('--token',
                        help=f'API token (default: ${TOKEN_ENV} or a '
                             'generated one)')
    parser.add_argument('--client-id', type=int, default=1,
                        help='the StorPool client ID of this host '
                             '(default: %(default)s)')
    parser.add_argument('--extra-client', action='append', default=[],
                        metavar='ID:DIR',
                        help='another StorPool client on this machine (a '
                             'second host), whose devices go under DIR; '
                             'may be repeated')
    parser.add_argument('--device-mode', choices=devices.MODES,
                        default='auto',
                        help='loop block devices, links to files, or loop '
                             'where possible (default: %(default)s)')
    parser.add_argument('--templates', type=_templates,
                        default=validate.DEFAULT_TEMPLATES,
                        help='volume templates as name:replication[,...] '
                             '(default: %(default)s); with a saved '
                             '--state-dir, the saved templates win')
    parser.add_argument('--volume-prefix', default='os',
                        help='SP_OPENSTACK_VOLUME_PREFIX for --write-config '
                             '(default: %(default)s)')
    parser.add_argument('--iscsi-target', choices=iscsi.MODES,
                        default='auto',
                        help='back iSCSI exports with a tgtd of the '
                             'emulator\'s own (tgtd), serve the iSCSIConfig '
                             'API only (none), or tgtd where it can run: '
                             'root, tgt installed (default: %(default)s)')
    parser.add_argument('--write-config', metavar='PATH',
                        help='write a matching storpool.conf to PATH')
    parser.add_argument('--debug', action='store_true',
                        help='log every request to stderr')
    args = parser.parse_args(argv)
    if not 1 <= args.client_id <= validate.MAX_CLIENT_ID:
        parser.error(f'--client-id must be 1-{validate.MAX_CLIENT_ID}')
    args.extra_clients = {}
    for spec in args.extra_client:
        cid, sep, where = spec.partition(':')
        if not sep or not cid.isdigit() or not where or \
                not 1 <= int(cid) <= validate.MAX_CLIENT_ID or \
                int(cid) in args.extra_clients or \
                int(cid) == args.client_id:
            parser.error(f'--extra-client {spec}: expected ID:DIR with a '
                         f'new client id 1-{validate.MAX_CLIENT_ID} and a '
                         'directory')
        args.extra_clients[int(cid)] = where
    if not args.allow_remote and not service.is_loopback(args.host):
        parser.error(f'--host {args.host} is not a loopback address; pass '
                     '--allow-remote to listen there anyway')
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    std_logging.basicConfig(
        level=std_logging.DEBUG if args.debug else std_logging.WARNING,
        format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    # With --state-dir the cluster is saved there and loaded again on the
    # next start; a temporary state directory goes with the process.
    state_dir = args.state_dir or tempfile.mkdtemp(prefix='sp-emulator-')
    try:
        return _run(args, state_dir)
    finally:
        if not args.state_dir:
            shutil.rmtree(state_dir, ignore_errors=True)


def _run(args: argparse.Namespace, state_dir: str) -> int:
    token = args.token or os.environ.get(TOKEN_ENV) or None
    try:
        emu = service.Emulator(
            state_dir, host=args.host, port=args.port,
            dev_dir=args.dev_dir, token=token, client_id=args.client_id,
            device_mode=args.device_mode,
            templates=validate.parse_templates(args.templates),
            volume_prefix=args.volume_prefix,
            allow_remote=args.allow_remote,
            iscsi_target=args.iscsi_target,
            extra_clients=args.extra_clients,
            persist=bool(args.state_dir))
    except (OSError, ValueError, RuntimeError) as exc:
        busy = isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE
        print(f'storpool-emulator: {exc.strerror if busy else exc}',
              file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, _frame: typing.Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if args.write_config:
            try:
                emu.write_config(args.write_config)
            except OSError as exc:
                print('storpool-emulator: cannot write --write-config '
                      f'{args.write_config}: {exc.strerror or exc}',
                      file=sys.stderr)
                return 1
        emu.start()
        print(emu.listen_line(), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emu.stop()
    print('storpool-emulator stopped', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
