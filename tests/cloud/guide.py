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

"""The README's operator commands, as the guide test runs them.

``commands(section)`` returns the shell command lines of the literal
blocks (``::``) in one README section, continuation lines joined and
comments dropped, so the test runs what the README says and nothing else.
"""

import os
import re
import typing

README = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'README.rst')

_UNDERLINE = re.compile(r'^([=\-~^"])\1{3,}$')


def sections(text: str) -> typing.Dict[str, typing.List[str]]:
    """Section title -> its lines (up to the next title of any level)."""
    lines = text.splitlines()
    found: typing.Dict[str, typing.List[str]] = {}
    title = ''
    for i, line in enumerate(lines):
        if (i + 1 < len(lines) and _UNDERLINE.match(lines[i + 1]) and
                line.strip() and len(lines[i + 1]) >= len(line.strip())):
            title = line.strip()
            found[title] = []
            continue
        if title:
            found[title].append(line)
    return found


def literal_blocks(lines: typing.List[str]) -> typing.List[typing.List[str]]:
    """The indented blocks that follow a paragraph ending in ``::``."""
    blocks = []
    i = 0
    while i < len(lines):
        if lines[i].rstrip().endswith('::') and not lines[i].startswith(' '):
            i += 1
            block: typing.List[str] = []
            while i < len(lines) and (not lines[i].strip() or
                                      lines[i].startswith(' ')):
                block.append(lines[i])
                i += 1
            blocks.append(block)
        else:
            i += 1
    return blocks


def shell_lines(block: typing.List[str]) -> typing.List[str]:
    """Logical command lines: ``\\`` continuations joined, comments gone."""
    out = []
    current = ''
    for raw in block:
        line = raw.strip()
        if not line:
            continue
        if line.startswith('#') and not current:
            continue
        if line.endswith('\\'):
            current += line[:-1].strip() + ' '
            continue
        line = current + line
        current = ''
        out.append(re.sub(r'\s+#\s.*$', '', line).strip())
    return out


def commands(section: str, path: str = README) -> typing.List[str]:
    """The command lines of every literal block in ``section``."""
    with open(path) as fobj:
        found = sections(fobj.read())
    if section not in found:
        raise KeyError('README.rst has no section %r' % section)
    return [cmd for block in literal_blocks(found[section])
            for cmd in shell_lines(block)]
