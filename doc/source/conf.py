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
"""Sphinx configuration of the storpool-openstack documentation."""

import importlib.metadata

# oslo_config.sphinxext: the configuration reference is made from the
# options themselves (the show-options directive), so it cannot go stale.
extensions = ['oslo_config.sphinxext']

project = 'storpool-openstack'
copyright = '2026, StorPool'
release = importlib.metadata.version('storpool-openstack')
version = '.'.join(release.split('.')[:2])

master_doc = 'index'
source_suffix = {'.rst': 'restructuredtext'}
exclude_patterns = []
pygments_style = 'sphinx'
html_theme = 'alabaster'
html_static_path = []
html_title = f'storpool-openstack {release}'
