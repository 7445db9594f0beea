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
"""Check that a patched ``driver.py`` compiles and imports our class."""

import json
import os
import subprocess
import sys

from storpool_openstack.nova import driver_table
from storpool_openstack.nova import errors
from storpool_openstack.nova import nova_tree

IMPORT_CHECK_TIMEOUT = 300


def check_compiles(text: str, path: errors.PathLike) -> None:
    """Raise VerifyError when the new text is not valid Python."""
    try:
        compile(text, str(path), 'exec', dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        raise errors.VerifyError(
            f'{path}: the patched text does not compile ({exc}); nothing '
            'was written')


# Run by the Python that runs Nova, which may be older than ours: no
# f-strings here.
_IMPORT_CHECK = '''
import importlib, json, os, sys
root, name, driver_type = sys.argv[1:4]
sys.path.insert(0, root)
from oslo_utils import importutils
module = importlib.import_module('nova.virt.libvirt.driver')
table = getattr(module, name)
if isinstance(table, dict):
    path = table[driver_type]
else:
    path = dict(item.split('=', 1) for item in table)[driver_type]
cls = importutils.import_class(path)
print(json.dumps({'file': os.path.realpath(module.__file__),
                  'path': path,
                  'class': '%s.%s' % (cls.__module__, cls.__qualname__)}))
'''


def check_import(path: errors.PathLike, layout: driver_table.Layout,
                 target: str,
                 python: str = sys.executable) -> dict[str, str]:
    """Import the patched module in a fresh interpreter and load our class.

    A subprocess, because importing Nova here would register its options
    and monkey-patch this process, and a broken file must not break us.
    The file's package root goes first on sys.path, so the nova package
    that holds this very file is the one imported; we then make sure it
    was.  Returns the subprocess's report.
    """
    root = nova_tree.package_root(path)
    if root is None:
        raise errors.VerifyError(
            f'{path}: not inside a nova/virt/libvirt/ tree, so it cannot be '
            f'imported as {nova_tree.DRIVER_MODULE}')
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1')
    try:
        proc = subprocess.run(
            [python, '-c', _IMPORT_CHECK, str(root), layout.name,
             driver_table.DRIVER_TYPE], capture_output=True, text=True,
            env=env, timeout=IMPORT_CHECK_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise errors.VerifyError(
            f'{path}: import check with {python} failed: {exc}')
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or ['(no output)']
        raise errors.VerifyError(
            f'{path}: import check failed: {lines[-1]}', proc.stderr)
    try:
        report = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        report = None
    if not isinstance(report, dict) or \
            not {'file', 'path', 'class'} <= report.keys():
        raise errors.VerifyError(
            f'{path}: import check with {python} printed no report (is it '
            'a Python with Nova?)', proc.stdout + proc.stderr)
    if report['file'] != os.path.realpath(path):
        raise errors.VerifyError(
            f'{path}: import check loaded {report["file"]} instead; another '
            'nova package shadows this one')
    if report['path'] != target:
        raise errors.VerifyError(
            f'{path}: import check found {driver_table.DRIVER_TYPE!r} -> '
            f'{report["path"]}, not {target}')
    return report
