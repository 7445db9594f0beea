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
"""Where the sample configuration files are on this host.

The package installs them (setup.cfg ``data_files``) into
``<prefix>/share/storpool-openstack/``; in a source checkout they are in
``etc/``.  Fix lines and ``storpool-openstack samples`` name the copy
that is really there.
"""

import os
import sys

SHARE = os.path.join('share', 'storpool-openstack')

# Name -> path under share/storpool-openstack/ (and under etc/).
SAMPLES = {
    'cinder': os.path.join('cinder', 'cinder.conf.storpool-sample'),
    'nova': os.path.join('nova', 'nova.conf.storpool-sample'),
    'storpool': 'storpool.conf.sample',
    'reference': 'storpool-openstack.conf.sample',
}


def _bases() -> list[str]:
    checkout = os.path.join(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))), 'etc')
    prefixes = dict.fromkeys([sys.prefix, sys.base_prefix, '/usr/local',
                              '/usr'])
    return [os.path.join(p, SHARE) for p in prefixes] + [checkout]


def find(name: str) -> str | None:
    """The path of sample `name` on this host, or None."""
    for base in _bases():
        path = os.path.join(base, SAMPLES[name])
        if os.path.isfile(path):
            return path
    return None


def describe(name: str) -> str:
    """For a fix line: the path, or how to get the sample."""
    return find(name) or (f'etc/{SAMPLES[name]} in the storpool-openstack '
                          f'source (not installed here)')
