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
"""storpool-openstack: set up, check and try StorPool for OpenStack.

    storpool-openstack setup-host [--dry-run] [--root PREFIX]
    storpool-openstack doctor [--json] [paths...]
    storpool-openstack attachments [--sync] [--json]
    storpool-openstack image-cache [list] [--json]
    storpool-openstack image-cache purge [--image ID] [--keep N] [--dry-run]
    storpool-openstack deferred [list] [--hours N] [--json]
    storpool-openstack volumes [ID...] [--json]
    storpool-openstack samples [NAME]
    storpool-openstack demo [--keep] [--device-mode MODE]

The work is done in `storpool_openstack.ops`; this module only parses the
command line, prints and picks the exit code.  The demo is an optional
part of the package (`storpool_openstack.demo`, the ``[demo]`` extra): it
is run through its entry point, so the operator tools never import it.
"""

import argparse
import importlib.metadata
import json
import logging
import os
import sys
from typing import Callable, Sequence

import storpool_openstack
from storpool_openstack.common import names
from storpool_openstack.ops import output
from storpool_openstack.ops import samples

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
# 128 + SIGPIPE: what a shell tool killed by a closed pipe exits with.
EXIT_BROKEN_PIPE = 141

DEFAULT_STORPOOL_CONF = '/etc/storpool.conf'
DEFAULT_CINDER_CONF = '/etc/cinder/cinder.conf'

EPILOG = '''\
exit codes: 0 success (doctor: every check passed or was skipped),
1 failure (doctor: a check failed), 2 bad command line.
'''


def _add_storpool_args(parser: argparse.ArgumentParser,
                       attach_state: bool = True,
                       api_timeout: float = 30.0) -> None:
    parser.add_argument(
        '--storpool-conf', metavar='PATH', default=DEFAULT_STORPOOL_CONF,
        help='the StorPool config file (default: %(default)s); the '
             'files in PATH.d/*.conf are read after it, as StorPool does')
    parser.add_argument(
        '--storpool-conf-dir', metavar='DIR',
        help='the StorPool config directory (default: the config file '
             'name with ".d" appended)')
    parser.add_argument(
        '--host', metavar='NAME',
        help='the host section of the StorPool config to read (default: '
             'this host\'s name)')
    if attach_state:
        parser.add_argument(
            '--attach-state-file', metavar='PATH',
            help=f'the attach-state file (default: '
                 f'{names.ATTACH_STATE_FILE})')
    parser.add_argument('--api-timeout', metavar='SECONDS', type=float,
                        default=api_timeout,
                        help='StorPool API call timeout (default: '
                             '%(default)s)')


def _count(text: str) -> int:
    """A whole number >= 0, for argparse."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a whole number >= 0')
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='storpool-openstack',
        description='Set up, check and try StorPool for OpenStack on this '
                    'host.', epilog=EPILOG)
    parser.add_argument('-V', '--version', action='version',
                        version='%(prog)s ' + storpool_openstack.__version__)
    parser.add_argument('-d', '--debug', action='store_true',
                        help='log the package\'s debug messages to stderr')
    subs = parser.add_subparsers(dest='command', metavar='COMMAND')
    subs.required = True

    group = names.ATTACH_STATE_GROUP
    setup = subs.add_parser(
        'setup-host', help=f'create the {group} group and the '
                           f'attach-state file (idempotent)',
        description=f'Create the system group {group}, add the '
                    f'service users that exist (nova, cinder) to it, and '
                    f'create {names.ATTACH_STATE_DIR}/ (root:'
                    f'{group} 0775) with '
                    f'{os.path.basename(names.ATTACH_STATE_FILE)} '
                    f'(root:{group} 0660, "{{}}"). Running it again '
                    f'changes nothing.')
    setup.add_argument('-n', '--dry-run', action='store_true',
                       help='print the steps, change nothing')
    setup.add_argument(
        '--root', metavar='PREFIX', default='/',
        help='operate inside this root prefix (an image being built): '
             'groupadd/usermod run with --prefix PREFIX and the paths are '
             'created under it (default: /)')
    setup.add_argument(
        '--user', metavar='NAME', action='append', dest='users',
        help='a service user to add to the group (repeatable; default: '
             'nova and cinder)')

    doctor = subs.add_parser(
        'doctor', help='check this host\'s StorPool-for-OpenStack setup',
        description='Run every check and print each with its fix. Exit '
                    'code 0 only if all checks passed (skipped ones do not '
                    'fail).')
    # Fail fast: a hung API is a finding, not something to wait out.
    _add_storpool_args(doctor, api_timeout=5.0)
    doctor.add_argument('--dev-root', metavar='DIR',
                        default=names.DEFAULT_DEV_ROOT,
                        help='where StorPool\'s devices appear (default: '
                             '%(default)s, i.e. %(default)s/storpool)')
    doctor.add_argument(
        '--nova-driver-file', metavar='PATH',
        help='Nova\'s nova/virt/libvirt/driver.py (default: the one of '
             'the Nova this Python imports; skipped if none)')
    doctor.add_argument(
        '--os-brick-file', metavar='PATH',
        help='os-brick\'s os_brick/initiator/connector.py (default: the '
             'one of this Python; skipped where Cinder is not installed)')
    doctor.add_argument('--cinder-conf', metavar='PATH',
                        default=DEFAULT_CINDER_CONF,
                        help='cinder.conf to check (default: %(default)s; '
                             'skipped if absent)')
    doctor.add_argument('--template', metavar='NAME', action='append',
                        dest='templates', default=[],
                        help='a StorPool template that must exist, besides '
                             'those named in cinder.conf (repeatable)')
    doctor.add_argument('--group', metavar='NAME',
                        default=names.ATTACH_STATE_GROUP,
                        help='the group that must own the attach-state '
                             'file (default: %(default)s)')
    doctor.add_argument('--json', action='store_true',
                        help='print the results as JSON')

    attach = subs.add_parser(
        'attachments', help='this host\'s attach-state beside StorPool\'s '
                            'attachments; --sync reconciles them',
        description='Show the attach-state entries of this host and, for '
                    'each volume, whether StorPool has it attached to this '
                    'host\'s client. With --sync, attach what is missing '
                    'and forget entries whose volumes are gone.')
    _add_storpool_args(attach)
    attach.add_argument('--sync', action='store_true',
                        help='reconcile StorPool with the attach-state file')
    attach.add_argument('--json', action='store_true',
                        help='print the table as JSON')

    cache = subs.add_parser(
        'image-cache', help='list or purge the Cinder driver\'s image '
                            'cache',
        description='The image cache keeps one StorPool snapshot per '
                    'Glance image copied into a volume; later volumes of '
                    'that image are clones of it. "list" (the default) '
                    'shows the entries, least recently used first, with '
                    'the number of volumes made from each; "purge" '
                    'deletes entries (volumes made from them keep '
                    'working).')
    cache.add_argument('action', nargs='?', choices=('list', 'purge'),
                       default='list', help='list (default) or purge')
    _add_storpool_args(cache, attach_state=False)
    cache.add_argument('--image', metavar='IMAGE_ID',
                       help='purge: only the entries of this Glance image')
    cache.add_argument('--keep', metavar='N', type=_count,
                       help='purge: keep the N most recently used of the '
                            'selected entries (default: none)')
    cache.add_argument('-n', '--dry-run', action='store_true',
                       help='purge: print what would go, delete nothing')
    cache.add_argument('--json', action='store_true',
                       help='print the result as JSON')

    defer = subs.add_parser(
        'deferred', help='the volumes kept by deferred deletion',
        description='With storpool_deferred_delete_hours > 0 the Cinder '
                    'driver keeps a deleted volume as a StorPool snapshot '
                    'for that many hours. "list" (the default) shows them, '
                    'oldest first, with when each goes for good; the hours '
                    'come from --hours or from the StorPool backend of '
                    'cinder.conf.')
    defer.add_argument('action', nargs='?', choices=('list',),
                       default='list', help='list (default)')
    _add_storpool_args(defer, attach_state=False)
    defer.add_argument('--cinder-conf', metavar='PATH',
                       default=DEFAULT_CINDER_CONF,
                       help='read storpool_deferred_delete_hours from this '
                            'file (default: %(default)s; ignored if absent)')
    defer.add_argument('--backend', metavar='NAME',
                       help='the backend section of cinder.conf (default: '
                            'its StorPool backends, if they agree)')
    defer.add_argument('--hours', metavar='N', type=_count,
                       help='the retention in hours; overrides cinder.conf')
    defer.add_argument('--json', action='store_true',
                       help='print the table as JSON')

    vols = subs.add_parser(
        'volumes', help='Cinder volumes and snapshots as StorPool and this '
                        'host see them',
        description='For each Cinder volume or snapshot id (or StorPool '
                    'name) given, or for every StorPool object of this '
                    'volume prefix: the StorPool name, template, size, '
                    'allocated space, parent, attachments (client ids and '
                    'rights), tags and the users of this host\'s '
                    'attach-state file. Exit code 1 if an id is not '
                    'found.')
    vols.add_argument('ids', nargs='*', metavar='ID',
                      help='a Cinder volume or snapshot id, or a StorPool '
                           'volume or snapshot name (default: all of this '
                           'prefix)')
    _add_storpool_args(vols)
    vols.add_argument('--json', action='store_true',
                      help='print the objects as JSON')

    sample = subs.add_parser(
        'samples', help='where the sample configuration files are, or '
                        'print one',
        description='Without NAME: list the sample configuration files '
                    'installed with the package and where they are. With '
                    'NAME: print that sample (e.g. "storpool-openstack '
                    'samples cinder > cinder-storpool.conf").')
    sample.add_argument('name', nargs='?', metavar='NAME',
                        choices=sorted(samples.SAMPLES),
                        help='one of: ' + ', '.join(sorted(samples.SAMPLES)))

    brick = subs.add_parser(
        'os-brick', help='point os-brick\'s STORPOOL connector at this '
                         'package\'s (cinder-backup, cinder-volume)',
        description='Rewrite the STORPOOL entries of os-brick\'s '
                    'initiator/connector.py so that cinder-backup and '
                    'every other user of os-brick\'s connector factory '
                    'attach through this package\'s connector (recorded '
                    'in the attach-state file; snapshots too). Keeps a '
                    'backup; --revert restores the file byte for byte. '
                    'Run as root with the Python of the Cinder services, '
                    'then restart them.')
    brick_mode = brick.add_mutually_exclusive_group()
    brick_mode.add_argument('--check', action='store_true',
                            help='exit 0 if patched, 1 if not, 2 if the '
                                 'file is not one this tool knows')
    brick_mode.add_argument('--revert', action='store_true',
                            help='point the entries back at os-brick\'s '
                                 'own connector')
    brick.add_argument('--dry-run', action='store_true',
                       help='print the diff; write nothing')
    brick.add_argument('--file', metavar='PATH',
                       help='os_brick/initiator/connector.py (default: the '
                            'one of this Python)')

    demo = subs.add_parser(
        'demo', help='run the whole story on the bundled emulator',
        description='Start the StorPool emulator in a temporary directory '
                    'and run Cinder (API, scheduler, volume service) '
                    'in-process with the StorPool driver: volume types, '
                    'create, extend, snapshot, clone, image, attach, '
                    'retype, revert, group snapshot, delete. Leaves '
                    'nothing behind.')
    demo.add_argument('--keep', action='store_true',
                      help='keep the temporary directory (logs, emulator '
                           'state) and print where it is')
    demo.add_argument('--device-mode', choices=('auto', 'loop', 'file'),
                      default='auto',
                      help='emulator devices: loop block devices (root) '
                           'or plain files (default: %(default)s)')
    return parser


class _ScrubFilter(logging.Filter):
    """Masks the secrets the console knows in every log record."""

    def __init__(self, console: output.Console):
        super().__init__()
        self.console = console

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.console.scrub(record.getMessage())
        record.args = None
        return True


def _setup_logging(debug: bool,
                   console: output.Console) -> Callable[[], None]:
    """Errors only (debug: everything) to stderr, secrets masked.

    The subcommands print what the operator needs; the package's INFO
    logs would only repeat it.
    """
    handler = logging.StreamHandler(console.err)
    handler.addFilter(_ScrubFilter(console))
    handler.setFormatter(logging.Formatter(
        '%(asctime)s %(levelname)s %(name)s: %(message)s'))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.ERROR)

    def undo() -> None:
        root.removeHandler(handler)
        root.setLevel(old_level)
    return undo


def cmd_setup_host(args: argparse.Namespace,
                   console: output.Console) -> int:
    from storpool_openstack.ops import setup_host

    users = tuple(args.users) if args.users else setup_host.SERVICE_USERS
    host = setup_host.HostSetup(args.root, users=users)
    plan = host.plan()
    for note in plan.notes:
        console.print(f'note: {note}')
    if not plan.steps:
        console.print('nothing to do: this host is already set up')
        return EXIT_OK
    if args.dry_run:
        for step in plan.steps:
            console.print(f'would {step.description}')
        return EXIT_OK
    host.apply(plan, lambda line: console.print(f'done: {line}'))
    if any(step.needs_restart for step in plan.steps):
        console.print(f'{len(plan.steps)} change(s) made; restart '
                      f'nova-compute and cinder-volume so that they run '
                      f'with the new group')
    else:
        # Owners, modes and files take effect at once.
        console.print(f'{len(plan.steps)} change(s) made; no service '
                      f'restart needed')
    return EXIT_OK


def _storpool_source(args: argparse.Namespace) -> dict:
    conf_dir = args.storpool_conf_dir or args.storpool_conf + '.d'
    return {'config_file': args.storpool_conf, 'config_dir': conf_dir,
            'section': args.host}


def cmd_doctor(args: argparse.Namespace, console: output.Console) -> int:
    from storpool_openstack.ops import doctor

    opts = doctor.DoctorOptions(
        **_storpool_source(args),
        attach_state_file=args.attach_state_file,
        dev_root=args.dev_root, nova_driver_file=args.nova_driver_file,
        os_brick_file=args.os_brick_file, cinder_conf=args.cinder_conf,
        templates=tuple(args.templates),
        api_timeout=args.api_timeout, group=args.group)

    def show(check: doctor.Check) -> None:
        # Each check as soon as it is done, not all at the end.
        if args.json:
            return
        console.print(f'{console.mark(check.ok)} {check.title}: '
                      f'{check.message}')
        if check.ok is False and check.fix:
            console.print(f'    fix: {check.fix}')

    report = doctor.Doctor(
        opts, secret_sink=console.add_secret, on_check=show,
        progress=lambda line: console.print(f'... {line}', err=True)).run()
    if args.json:
        console.print(json.dumps(report.to_json(), indent=2))
    else:
        console.print(report.summary())
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_attachments(args: argparse.Namespace,
                    console: output.Console) -> int:
    from storpool_openstack.ops import attachments

    view = attachments.AttachmentsView(
        **_storpool_source(args), attach_state_file=args.attach_state_file,
        api_timeout=args.api_timeout, secret_sink=console.add_secret)
    result = None
    if args.sync:
        # With --json, stdout carries only the JSON document.
        result = view.sync(console, progress_to_err=args.json)
        if not args.json:
            for line in attachments.describe_sync(result):
                console.print(line)
    rows = view.rows()
    if args.json:
        data: dict = {'volumes': [row.to_json() for row in rows]}
        if result is not None:
            data['sync'] = result.as_dict()
        console.print(json.dumps(data, indent=2))
    else:
        for line in attachments.format_table(rows, view.describe(),
                                             after_sync=args.sync):
            console.print(line)
    if result is not None and (
            not result.ok or any(not row.consistent for row in rows)):
        return EXIT_FAILED
    return EXIT_OK


def cmd_image_cache(args: argparse.Namespace,
                    console: output.Console) -> int:
    from storpool_openstack.ops import image_cache

    view = image_cache.ImageCacheView(
        **_storpool_source(args), api_timeout=args.api_timeout,
        secret_sink=console.add_secret)
    if args.action == 'list':
        entries = view.entries()
        if args.json:
            console.print(json.dumps(
                {'entries': [e.to_json() for e in entries]}, indent=2))
        else:
            for line in image_cache.format_table(entries, view.describe()):
                console.print(line)
        return EXIT_OK
    keep = args.keep or 0
    result = view.purge(image_id=args.image, keep=keep,
                        dry_run=args.dry_run)
    if args.json:
        console.print(json.dumps(result.to_json(), indent=2))
    else:
        for line in image_cache.describe_purge(result, image_id=args.image,
                                               keep=keep):
            console.print(line)
    return EXIT_FAILED if result.failed else EXIT_OK


def cmd_deferred(args: argparse.Namespace, console: output.Console) -> int:
    import time

    from storpool_openstack.ops import deferred

    view = deferred.DeferredView(
        **_storpool_source(args), hours=args.hours,
        cinder_conf=args.cinder_conf, backend=args.backend,
        api_timeout=args.api_timeout, secret_sink=console.add_secret)
    rows = view.rows()
    now = time.time()
    if args.json:
        console.print(json.dumps(
            {'hours': view.hours.value, 'hours_from': view.hours.source,
             'volumes': [row.to_json(now) for row in rows]}, indent=2))
    else:
        for line in deferred.format_table(rows, view.describe(rows),
                                          view.hours.value, now):
            console.print(line)
    return EXIT_OK


def cmd_volumes(args: argparse.Namespace, console: output.Console) -> int:
    from storpool_openstack.ops import volumes

    view = volumes.VolumesView(
        **_storpool_source(args), attach_state_file=args.attach_state_file,
        api_timeout=args.api_timeout, secret_sink=console.add_secret)
    result = view.rows(list(args.ids))
    if args.json:
        console.print(json.dumps(
            {'objects': [row.to_json() for row in result.rows],
             'not_found': result.not_found,
             'attach_state_note': result.state_note}, indent=2))
    else:
        for line in volumes.format_table(result, view.describe()):
            console.print(line)
    return EXIT_FAILED if result.not_found else EXIT_OK


def cmd_samples(args: argparse.Namespace, console: output.Console) -> int:
    if args.name is None:
        rows = [(name, samples.find(name) or 'not installed here')
                for name in sorted(samples.SAMPLES)]
        for line in output.table(('NAME', 'PATH'), rows):
            console.print(line)
        return EXIT_OK
    path = samples.find(args.name)
    if path is None:
        console.error(f'the {args.name} sample is not installed here '
                      f'({samples.describe(args.name)})')
        return EXIT_FAILED
    with open(path, encoding='utf-8') as fobj:
        console.print(fobj.read().rstrip('\n'))
    return EXIT_OK


# The optional parts' commands, by entry point name (setup.cfg).
OPTIONAL_COMMANDS = 'storpool_openstack.commands'


def cmd_demo(args: argparse.Namespace, console: output.Console) -> int:
    found = importlib.metadata.entry_points(group=OPTIONAL_COMMANDS,
                                            name='demo')
    if not found:
        console.error('the demo is not installed with this package: '
                      'pip install "storpool-openstack[demo]"')
        return EXIT_FAILED
    run = next(iter(found)).load()
    return run(args, console)


def cmd_os_brick(args: argparse.Namespace,
                 console: output.Console) -> int:
    from storpool_openstack.nova import patcher
    from storpool_openstack.ops import os_brick_patch

    if args.check:
        code, message = os_brick_patch.check(args.file)
        console.print(message)
        return code
    try:
        run = os_brick_patch.revert if args.revert else \
            os_brick_patch.patch
        result = run(args.file, dry_run=args.dry_run)
    except patcher.PatchError as exc:
        console.error(str(exc))
        return EXIT_FAILED
    if args.dry_run and result.diff:
        console.print(result.diff.rstrip('\n'))
    console.print(result.message)
    return EXIT_OK


COMMANDS = {
    'os-brick': cmd_os_brick,
    'setup-host': cmd_setup_host,
    'doctor': cmd_doctor,
    'attachments': cmd_attachments,
    'image-cache': cmd_image_cache,
    'deferred': cmd_deferred,
    'volumes': cmd_volumes,
    'samples': cmd_samples,
    'demo': cmd_demo,
}


def main(argv: Sequence[str] | None = None,
         console: output.Console | None = None) -> int:
    """Console entry point; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == 'image-cache' and args.action == 'list' and (
            args.image is not None or args.keep is not None or
            args.dry_run):
        parser.error('--image, --keep and --dry-run go with '
                     '"image-cache purge"')
    console = console or output.Console()
    undo = lambda: None  # noqa: E731
    if args.command != 'demo':
        # The demo sends the services' logs to a file of its own.
        undo = _setup_logging(args.debug, console)
    from storpool_openstack.common import exception
    from storpool_openstack.ops import setup_host

    try:
        return COMMANDS[args.command](args, console)
    except (setup_host.SetupError, exception.StorPoolError) as exc:
        console.error(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        console.error('interrupted')
        return 130
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as cat does,
        # and keep Python from failing again on the final flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    finally:
        undo()


if __name__ == '__main__':
    sys.exit(main())
