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
"""The patch tool's errors, each with its exit code, and its path type.

Every part of the tool raises these, so that the command line reports any
failure in one line with the matching exit code.
"""

import os

PathLike = str | os.PathLike


class PatchError(Exception):
    """A problem the tool reports in one line; exit_code is for the CLI.

    detail holds longer output (a subprocess's stderr) for --verbose.
    """

    exit_code = 3

    def __init__(self, message: str, detail: str = '') -> None:
        super().__init__(message)
        self.detail = detail


class LayoutError(PatchError):
    """The file is Python, but not a driver table this tool understands."""

    exit_code = 2


class FileProblem(PatchError):
    """The file cannot be found, read, parsed or written."""

    exit_code = 3


class VerifyError(PatchError):
    """The patched file did not compile or import; the original is back."""

    exit_code = 4
