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
"""The console scripts.

oslo.log (through oslo.utils' eventletutils, in the releases before
2026.2) and Cinder import eventlet, which then prints a 9-line
deprecation warning: nothing an operator running one of these commands
can act on. Silenced here, before any of them is imported, and only that
warning.
"""

import warnings

warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
