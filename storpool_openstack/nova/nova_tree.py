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
"""Where Nova's libvirt ``driver.py`` is and which Nova it belongs to.

Found without importing Nova: importing it would register its options and
monkey-patch this process.
"""

import importlib.metadata
import importlib.util
import os
import pathlib
import sys

from storpool_openstack.nova import errors

DRIVER_RELPATH = pathlib.Path('virt', 'libvirt', 'driver.py')
DRIVER_MODULE = 'nova.virt.libvirt.driver'


def find_driver_file(nova_dir: errors.PathLike | None = None) -> pathlib.Path:
    """Return the path of Nova's libvirt ``driver.py``.

    Without nova_dir the installed Nova is found with find_spec('nova'),
    which locates the package without running its __init__ (importing Nova
    monkey-patches and registers options we do not want here).
    """
    if nova_dir is not None:
        return _driver_in_dir(pathlib.Path(nova_dir))
    spec = importlib.util.find_spec('nova')
    if spec is None or not spec.submodule_search_locations:
        raise errors.FileProblem(
            f'Nova is not installed for {sys.executable}; pass --nova-dir '
            'DIR or --file PATH')
    for location in spec.submodule_search_locations:
        candidate = pathlib.Path(location) / DRIVER_RELPATH
        if candidate.is_file():
            return candidate
    raise errors.FileProblem(
        f'nova package at {spec.submodule_search_locations[0]} has no '
        f'{DRIVER_RELPATH}; is this a Nova without libvirt?')


def _driver_in_dir(nova_dir: pathlib.Path) -> pathlib.Path:
    """Accept both the dir holding the ``nova`` package and the package."""
    for candidate in (nova_dir / 'nova' / DRIVER_RELPATH,
                      nova_dir / DRIVER_RELPATH):
        if candidate.is_file():
            return candidate
    raise errors.FileProblem(
        f'{nova_dir}: found neither nova/{DRIVER_RELPATH} nor '
        f'{DRIVER_RELPATH} there; pass the directory that contains the '
        'nova package (e.g. .../site-packages)')


def package_root(driver_file: errors.PathLike) -> pathlib.Path | None:
    """The sys.path entry that makes driver_file nova.virt.libvirt.driver.

    None when the file does not sit in a nova/virt/libvirt/ tree.
    """
    path = pathlib.Path(os.path.abspath(driver_file))
    if path.parts[-4:] != ('nova', 'virt', 'libvirt', 'driver.py'):
        return None
    return path.parents[3]


def nova_version(driver_file: errors.PathLike) -> str | None:
    """Nova's version from the package metadata next to the tree."""
    root = package_root(driver_file)
    if root is None:
        return None
    for dist in importlib.metadata.distributions(path=[str(root)]):
        if (dist.metadata['Name'] or '').lower() == 'nova':
            return dist.version
    return None
