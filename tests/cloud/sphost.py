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

"""Run a service as on a StorPool client host, without touching this one.

    unshare --mount --propagation private -- \\
        python -m tests.cloud.sphost --conf C --dev-dir D --work W -- CMD...

os-brick's own StorPool connector (which Cinder's backup manager uses for
every attach, whatever the volume driver) and Cinder's in-tree driver read
``/etc/storpool.conf`` and use ``/dev/storpool`` and
``/dev/storpool-byid``, with no option to point them elsewhere. In a mount
namespace of its own, the service sees overlays of ``/etc`` and ``/dev``
with the emulator's config and device directories in those places; the
shared machine's ``/etc`` and ``/dev`` are never written. The mounts go
away with the last process of the namespace.
"""

import argparse
import os
import shutil
import subprocess
import sys


def _mount(*args: str) -> None:
    subprocess.run(('mount',) + args, check=True)


def _overlay(target: str, work: str) -> None:
    upper = os.path.join(work, 'upper')
    scratch = os.path.join(work, 'work')
    os.makedirs(upper, exist_ok=True)
    os.makedirs(scratch, exist_ok=True)
    _mount('-t', 'overlay', 'overlay', '-o', 'lowerdir=%s,upperdir=%s,'
           'workdir=%s' % (target, upper, scratch), target)


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(prog='python -m tests.cloud.sphost')
    parser.add_argument('--conf', required=True)
    parser.add_argument('--dev-dir', required=True)
    parser.add_argument('--work', required=True)
    parser.add_argument('command', nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ['--'] else \
        args.command
    _overlay('/etc', os.path.join(args.work, 'etc'))
    shutil.copy(args.conf, '/etc/storpool.conf')
    _overlay('/dev', os.path.join(args.work, 'dev'))
    for name in ('storpool', 'storpool-byid'):
        source = os.path.join(args.dev_dir, name)
        os.makedirs(source, exist_ok=True)
        os.makedirs(os.path.join('/dev', name), exist_ok=True)
        _mount('--bind', source, os.path.join('/dev', name))
    os.execvp(command[0], command)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
