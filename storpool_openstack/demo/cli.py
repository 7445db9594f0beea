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
"""The demo's side of `storpool-openstack demo` (an entry point).

`storpool_openstack.cmd.storpool_openstack` parses the command line and
finds `run` through the ``storpool_openstack.commands`` entry point, so
that the operator tools never import the demo.
"""

import argparse
import importlib.util

from storpool_openstack.ops import output

EXIT_OK = 0
EXIT_FAILED = 1

# What the demo needs beyond the package's own requirements (the [demo]
# extra): module -> the distribution that installs it.
NEEDS = {'cinder': 'cinder', 'cinderclient': 'python-cinderclient'}


def missing() -> list[str]:
    """The distributions of `NEEDS` that this Python cannot import."""
    return [dist for module, dist in NEEDS.items()
            if importlib.util.find_spec(module) is None]


def run(args: argparse.Namespace, console: output.Console) -> int:
    absent = missing()
    if absent:
        console.error(f'the demo needs {", ".join(absent)}, not installed '
                      f'in this Python: pip install '
                      f'"storpool-openstack[demo]"')
        return EXIT_FAILED
    from storpool_openstack.demo import runner

    ok = runner.Demo(console, keep=args.keep,
                     device_mode=args.device_mode).run()
    return EXIT_OK if ok else EXIT_FAILED
