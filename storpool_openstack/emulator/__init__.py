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

"""A StorPool management API emulator for tests, demos and trials.

It serves the wire protocol of the real StorPool API on loopback, keeps real
data in sparse files and attaches volumes as loop devices where the host
allows it, so the real clients (``storpool.spapi`` and os-brick's
``storpool_utils``) cannot tell it from a cluster.
"""
