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
"""Do the StorPool templates this backend names exist?

A misspelt template is otherwise found only when a volume of it is
created (and goes to ``error``).  At start-up the backend's default
``storpool_template`` must exist (cinder-volume refuses to start the
backend, naming the option and the templates StorPool has), and every
volume type of this backend whose ``storpool_template`` extra spec
StorPool lacks is logged as a warning; the stats list them too.
"""

from typing import Any, Iterable

from cinder import context as cinder_context
from cinder import exception
from cinder.i18n import _
from cinder.volume import volume_types
from oslo_log import log as logging

from storpool_openstack.cinder import policy

LOG = logging.getLogger(__name__)

STATS_KEY = 'storpool_missing_templates'


def _listed(names: Iterable[str]) -> str:
    return ', '.join(sorted(names)) or 'none'


def types_of_backend(backend: str) -> dict[str, str]:
    """Volume type name -> its storpool_template, for this backend's types.

    A type is this backend's when its volume_backend_name is ours, or
    when it names none but asks for a StorPool template.
    """
    ctxt = cinder_context.get_admin_context()
    found = {}
    for name, vtype in volume_types.get_all_types(ctxt).items():
        specs = vtype.get('extra_specs') or {}
        template = specs.get(policy.TEMPLATE_SPEC)
        if template and specs.get('volume_backend_name') in (None, backend):
            found[name] = template
    return found


def check(existing: Iterable[str], *, default: str | None, backend: str,
          section: str) -> frozenset[str]:
    """Raise if the default template is missing; warn about types.

    Returns every template name the backend wants (for the stats).
    """
    have = set(existing)
    if default and default not in have:
        raise exception.VolumeDriverException(message=_(
            'StorPool backend %(backend)s: storpool_template=%(tmpl)s in '
            '[%(section)s] is not a StorPool template; StorPool has: '
            '%(have)s. Correct the option or create the template '
            '("storpool template %(tmpl)s replication 3 ...").') % {
                'backend': backend, 'tmpl': default, 'section': section,
                'have': _listed(have)})
    wanted = types_of_backend(backend)
    for vtype, template in sorted(wanted.items()):
        if template not in have:
            LOG.warning('StorPool backend %(backend)s: volume type '
                        '%(type)s asks for StorPool template %(tmpl)s, '
                        'which does not exist (StorPool has: %(have)s); '
                        'creating a volume of that type will fail until '
                        'the template is created or the type\'s '
                        'storpool_template extra spec is corrected',
                        {'backend': backend, 'type': vtype,
                         'tmpl': template, 'have': _listed(have)})
    return frozenset(wanted.values()) | ({default} if default else set())


def stats(status: list[dict[str, Any]],
          wanted: Iterable[str]) -> dict[str, list[str]]:
    """The pool capability listing the missing templates (no call)."""
    have = {item.get('name') for item in status}
    return {STATS_KEY: sorted(set(wanted) - have)}
