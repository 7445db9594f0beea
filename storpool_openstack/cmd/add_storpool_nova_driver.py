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
"""add-storpool-nova-driver: register StorPool in Nova's libvirt driver.

Nova has no setting for out-of-tree volume drivers, so this edits the
``storpool`` entry of the driver table in ``nova/virt/libvirt/driver.py``.
The work is done by :mod:`storpool_openstack.nova.patcher`; this module is
only the command line.
"""

import argparse
import pathlib
import sys
import traceback
from typing import Sequence

import storpool_openstack
from storpool_openstack.nova import patcher

PROG = 'add-storpool-nova-driver'

EXIT_OK = 0
EXIT_NOT_PATCHED = 1
EXIT_UNKNOWN = 2
EXIT_FILE = 3
EXIT_VERIFY = 4
EXIT_USAGE = 64
EXIT_INTERNAL = 70

RESTART_HINT = ('Restart the nova-compute service to load it (e.g. '
                '"systemctl restart nova-compute").')

DESCRIPTION = '''\
Point the "storpool" entry of Nova's libvirt volume driver table
(VOLUME_DRIVERS in Nova >= 23, libvirt_volume_drivers in Nova 17-22, in
nova/virt/libvirt/driver.py) at
  %s

Only that entry's source text changes.  The first run keeps the original
as driver.py%s; the file is replaced atomically with its owner,
group and mode kept, then imported in a subprocess to prove the driver
loads (the original is put back if not).  Running it again changes nothing.
''' % (patcher.OUR_CLASS, patcher.BACKUP_SUFFIX)

EPILOG = '''\
exit codes:
  0   done, nothing to do, or (--check) the file is patched
  1   (--check) the file is not patched
  2   the file's layout is not understood, or its "storpool" entry points
      somewhere else (use --force); the file was not touched
  3   file problem: missing, unreadable, read-only, not valid Python, no
      permission, or a backup that does not match; the file was not touched
  4   the patched file did not compile or import; the original was restored
  64  bad command line
  70  internal error (a bug; rerun with --verbose and report it)

examples:
  %(prog)s                       patch the Nova installed for this Python
  %(prog)s --check               for config management: 0 patched, 1 not
  %(prog)s --dry-run             show the change, write nothing
  %(prog)s --revert              put the original driver.py back
  %(prog)s --nova-dir /usr/lib/python3/dist-packages
  %(prog)s --legacy-files /tmp/sp-nova/orig /tmp/sp-nova/storpool
'''


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage; 2 means "unknown layout" here."""

    def error(self, message: str) -> None:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f'{self.prog}: error: {message}\n')


def build_parser() -> argparse.ArgumentParser:
    """The command line, with exit codes documented in --help."""
    parser = _Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        '--nova-dir', metavar='DIR',
        help='directory containing the nova package, or the nova package '
             'itself (default: the Nova this Python imports)')
    where.add_argument('--file', metavar='PATH',
                       help='the driver.py file to patch')
    where.add_argument(
        '--legacy-files', nargs=2, metavar=('ORIG_DIR', 'OUT_DIR'),
        help='old workflow: read ORIG_DIR/driver.py, write the patched '
             'copy to OUT_DIR/driver.py; ORIG_DIR is never written')
    action = parser.add_mutually_exclusive_group()
    action.add_argument('--check', action='store_true',
                        help='only report; exit 0 patched, 1 not patched, '
                             '2 unknown layout')
    action.add_argument('--revert', action='store_true',
                        help='restore the original from the backup and '
                             'remove the backup')
    parser.add_argument('--dry-run', action='store_true',
                        help='print a unified diff, change nothing')
    parser.add_argument('--force', action='store_true',
                        help='replace a "storpool" entry that points to '
                             'neither Nova\'s nor our class, or a stale '
                             'backup; revert even if the file changed')
    parser.add_argument('--skip-import-check', action='store_true',
                        help='do not import the patched module in a '
                             'subprocess (it still must compile)')
    parser.add_argument('--python', metavar='PATH', default=sys.executable,
                        help='interpreter that runs Nova, for the import '
                             'check (default: %(default)s)')
    parser.add_argument('-t', dest='template_dir', metavar='TEMPLATE_DIR',
                        help='accepted for the old tool\'s command line; '
                             'ignored')
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument('-q', '--quiet', action='store_true',
                       help='print only errors')
    noise.add_argument('-v', '--verbose', action='store_true',
                       help='print details (backup, import check, diff)')
    parser.add_argument('-V', '--version', action='version',
                        version='%(prog)s ' + storpool_openstack.__version__)
    return parser


class _Output:
    """Where messages go, honouring --quiet and --verbose."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.quiet = args.quiet
        self.verbose = args.verbose

    def info(self, text: str) -> None:
        if not self.quiet and text:
            print(text.rstrip('\n'))

    def detail(self, text: str, stream=None) -> None:
        if self.verbose and text:
            print(text.rstrip('\n'), file=stream or sys.stdout)

    def error(self, text: str) -> None:
        print(f'{PROG}: error: {text}', file=sys.stderr)


def _target_file(args: argparse.Namespace) -> pathlib.Path:
    if args.file:
        return pathlib.Path(args.file)
    return patcher.find_driver_file(args.nova_dir)


def _report(out: _Output, result: patcher.Result, dry_run: bool) -> None:
    if dry_run:
        out.info(result.diff)
    else:
        out.detail(result.diff)
    out.info(result.message)
    for line in result.notes:
        out.info(line)
    for line in result.details:
        out.detail(line)


def _run_check(args: argparse.Namespace, out: _Output) -> int:
    code, message = patcher.check_file(_target_file(args), force=args.force)
    if code == EXIT_UNKNOWN:
        out.error(message)
    else:
        out.info(message)
    return code


def _run_legacy(args: argparse.Namespace, out: _Output) -> int:
    orig_dir, out_dir = args.legacy_files
    result = patcher.legacy_files(orig_dir, out_dir, force=args.force)
    _report(out, result, dry_run=False)
    out.info(f'Install it with "install -o root -g root -m 644 '
             f'{result.path} {_installed_hint()}", then restart '
             f'nova-compute.')
    return EXIT_OK


def _installed_hint() -> str:
    try:
        return str(patcher.find_driver_file())
    except patcher.PatchError:
        return '<nova package dir>/virt/libvirt/driver.py'


def _run_patch(args: argparse.Namespace, out: _Output) -> int:
    path = _target_file(args)
    if args.revert:
        result = patcher.revert_file(path, dry_run=args.dry_run,
                                     force=args.force)
    else:
        result = patcher.patch_file(
            path, dry_run=args.dry_run, force=args.force,
            import_check=not args.skip_import_check, python=args.python)
    _report(out, result, args.dry_run)
    if result.changed:
        out.info(RESTART_HINT)
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """Do what the parsed command line asks; PatchError is left to main."""
    out = _Output(args)
    if args.template_dir:
        out.info(f'note: -t {args.template_dir} ignored: the driver class '
                 f'now ships in the storpool_openstack package')
    if args.legacy_files:
        return _run_legacy(args, out)
    if args.check:
        return _run_check(args, out)
    return _run_patch(args, out)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit code documented in --help."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.legacy_files and (args.check or args.revert or args.dry_run):
        parser.error('--legacy-files cannot be combined with --check, '
                     '--revert or --dry-run')
    if args.check and args.dry_run:
        parser.error('--check already changes nothing; drop --dry-run')
    out = _Output(args)
    try:
        return run(args)
    except patcher.PatchError as exc:
        out.error(str(exc))
        if exc.detail:
            out.detail(exc.detail, sys.stderr)
        return exc.exit_code
    except Exception as exc:
        out.error(f'internal error: {type(exc).__name__}: {exc} (rerun '
                  f'with --verbose for the traceback)')
        out.detail(traceback.format_exc(), sys.stderr)
        return EXIT_INTERNAL


if __name__ == '__main__':
    sys.exit(main())
