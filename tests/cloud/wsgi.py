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

"""Serve one WSGI application: ``python -m tests.cloud.wsgi MOD:ATTR H:P``.

Keystone and Glance ship only WSGI applications; in production they run
under uwsgi or Apache. Here waitress (pure Python, threaded, chunked
request bodies as Tempest's image uploads send them) serves each in a
process of its own.
"""

import importlib
import sys

import waitress


def main(argv: list) -> int:
    app_path, listen = argv
    # Keystone and Glance parse sys.argv as their own options.
    del sys.argv[1:]
    module, attr = app_path.split(':')
    app = getattr(importlib.import_module(module), attr)
    host, port = listen.rsplit(':', 1)
    waitress.serve(app, host=host, port=int(port), threads=8,
                   channel_timeout=600, max_request_body_size=1 << 34,
                   ident=module.split('.')[0])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
