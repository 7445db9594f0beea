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

"""The one exception type the emulator raises for StorPool-visible errors."""


class EmulatorError(Exception):
    """A StorPool API error: becomes ``{"error": {name, descr, transient}}``.

    The model raises it for every rule violation so that the wire layer
    only has to serialise it; ``status`` is the HTTP status to answer with.
    """

    def __init__(self, name: str, descr: str, status: int = 400,
                 transient: bool = False) -> None:
        super().__init__(f'{name}: {descr}')
        self.name = name
        self.descr = descr
        self.status = status
        self.transient = transient

    def to_json(self) -> dict:
        return {'error': {'name': self.name, 'descr': self.descr,
                          'transient': self.transient}}


def does_not_exist(kind: str, name: str) -> EmulatorError:
    return EmulatorError('objectDoesNotExist',
                         f'{kind} {name} does not exist', 404)


def exists(kind: str, name: str) -> EmulatorError:
    return EmulatorError('objectExists',
                         f'{kind} {name} already exists', 409)


def invalid(descr: str) -> EmulatorError:
    return EmulatorError('invalidParam', descr, 400)
