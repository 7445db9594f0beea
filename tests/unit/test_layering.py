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
"""The package's layers: what runs on a host never imports the rest.

The runtime packages (what a cinder-volume or nova-compute host runs: the
driver, the connector, the Nova driver, the attach state, the operator
tools) must import nothing of the emulator, the demo or any test code;
and no module of the package may take part in an import cycle.  Imports
are read from the source with `ast` (those inside functions too, so a lazy
import cannot hide) and, for the runtime packages, checked again by
importing them in a fresh interpreter and looking at `sys.modules`.
"""

import ast
import json
import os
import subprocess
import sys

import testtools

import storpool_openstack

PACKAGE = 'storpool_openstack'
ROOT = os.path.dirname(os.path.abspath(storpool_openstack.__file__))

RUNTIME = ('attach_state', 'brick', 'cinder', 'cmd', 'common', 'nova',
           'ops')
OPTIONAL = ('demo', 'emulator')
# Never imported by runtime code: the optional parts and test code.
FORBIDDEN = tuple(f'{PACKAGE}.{name}' for name in OPTIONAL) + (
    'tests', 'cinder.tests', 'nova.tests', 'os_brick.tests', 'testtools',
    'fixtures', 'oslotest')


def _is_under(name: str, prefixes: tuple) -> bool:
    return any(name == p or name.startswith(p + '.') for p in prefixes)


def package_modules() -> dict[str, str]:
    """Every module of the package: dotted name -> file."""
    found = {}
    for root, _dirs, files in os.walk(ROOT):
        for fname in files:
            if not fname.endswith('.py'):
                continue
            path = os.path.join(root, fname)
            rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3]
            name = rel.replace(os.sep, '.')
            found[name.removesuffix('.__init__')] = path
    return found


def imports_of(name: str, path: str, modules: dict) -> set[str]:
    """What the module imports (a module where one is named)."""
    with open(path) as fobj:
        tree = ast.parse(fobj.read(), path)
    is_package = path.endswith('__init__.py')
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = name.split('.')
                if not is_package:
                    parts = parts[:-1]
                parts = parts[:len(parts) - node.level + 1]
                base = '.'.join(parts + ([base] if base else []))
            for alias in node.names:
                sub = f'{base}.{alias.name}'
                found.add(sub if sub in modules else base)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    modules = package_modules()
    return {name: {i for i in imports_of(name, path, modules)
                   if i in modules and i != name}
            for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(graph.get(node, ())):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def package_of(module: str) -> str:
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else '(top)'


def package_map() -> list[str]:
    """Which package imports which, one line a package, from the imports.

    The README's architecture section shows these lines (`python -m
    tests.unit.test_layering` prints them); `(top)` is the package's own
    __init__ (only the version).
    """
    packages: dict[str, set[str]] = {}
    for module, deps in import_graph().items():
        packages.setdefault(package_of(module), set()).update(
            package_of(dep) for dep in deps
            if package_of(dep) != package_of(module))
    return [f'{name} -> {", ".join(sorted(deps)) or "nothing"}'
            for name, deps in sorted(packages.items())]


class LayersTestCase(testtools.TestCase):

    def test_runtime_imports_no_optional_or_test_code(self):
        modules = package_modules()
        runtime = [name for name in modules
                   if package_of(name) in RUNTIME or name == PACKAGE]
        self.assertIn(f'{PACKAGE}.cinder.driver', runtime)
        offenders = sorted(
            f'{name} imports {imported}' for name in runtime
            for imported in imports_of(name, modules[name], modules)
            if _is_under(imported, FORBIDDEN))
        self.assertEqual([], offenders)

    def test_checker_sees_forbidden_imports(self):
        # The check above would see a lazy import of the emulator.
        modules = package_modules()
        found = imports_of(f'{PACKAGE}.demo.story',
                           modules[f'{PACKAGE}.demo.story'], modules)
        self.assertIn(f'{PACKAGE}.emulator.process', found)
        self.assertTrue(_is_under(f'{PACKAGE}.emulator.process', FORBIDDEN))
        self.assertTrue(_is_under('cinder.tests.unit.image.fake',
                                  FORBIDDEN))
        self.assertFalse(_is_under('cinder.volume.driver', FORBIDDEN))

    def test_no_import_cycle(self):
        graph = import_graph()
        self.assertEqual([], cycles(graph))
        packages: dict[str, set[str]] = {}
        for module, deps in graph.items():
            packages.setdefault(package_of(module), set()).update(
                package_of(dep) for dep in deps
                if package_of(dep) != package_of(module))
        self.assertEqual([], cycles(packages))

    def test_readme_package_map_is_current(self):
        readme = os.path.join(os.path.dirname(ROOT), 'README.rst')
        if not os.path.exists(readme):  # an installed copy of the tests
            self.skipTest(f'no README.rst next to {ROOT}')
        with open(readme) as fobj:
            text = fobj.read()
        block = ''.join(f'    {line}\n' for line in package_map())
        self.assertIn('(top) -> nothing', package_map())
        self.assertIn(block, text,
                      'the package map in README.rst is out of date: paste '
                      'the output of python -m tests.unit.test_layering')

    def test_cycle_finder_finds_cycles(self):
        self.assertEqual([['a', 'b', 'c']],
                         cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a', 'd'},
                                 'd': set()}))
        self.assertEqual([], cycles({'a': {'b'}, 'b': set()}))

    def test_runtime_modules_load_no_optional_or_test_code(self):
        # Imported for real in fresh interpreters; Nova's side in one of
        # its own (Cinder and Nova register clashing options).
        code = (
            'import importlib, json, sys\n'
            'for name in sys.argv[1:]:\n'
            '    importlib.import_module(name)\n'
            'print(json.dumps(sorted(sys.modules)))\n')
        modules = package_modules()
        for group in (set(RUNTIME) - {'nova'}, {'nova'}):
            names = sorted(name for name in modules
                           if package_of(name) in group)
            proc = subprocess.run(
                [sys.executable, '-c', code, *names], capture_output=True,
                text=True, stdin=subprocess.DEVNULL, cwd='/')
            self.assertEqual(0, proc.returncode, proc.stderr)
            loaded = json.loads(proc.stdout.splitlines()[-1])
            self.assertEqual(
                [], [name for name in loaded if _is_under(name, FORBIDDEN)],
                f'importing {sorted(group)} loaded these')


if __name__ == '__main__':
    print('\n'.join(package_map()))
