#!/usr/bin/env python3
"""Checks the include graph between pchat's top-level folders.

Reads every `#include "folder/..."` in the C/C++ sources of each top-level folder (every
folder holding sources, so a new one takes part without being named), and fails when
  - the folder graph has a cycle (the message names each edge's files), or
  - an include breaks a rule of the rules file (default scripts/layers.txt, its grammar is
    described there), or
  - an `except` line names an edge that no longer exists (so that it is removed).
Exit 0: clean; 1: a finding (printed to stderr); 2: bad usage or rules file.

  scripts/check-layers.py [--root DIR] [--rules FILE]
  scripts/check-layers.py --self-test     builds temporary trees and checks the checker
"""
import argparse
import os
import re
import sys
import tempfile

SOURCE_SUFFIXES = ('.h', '.hpp', '.hh', '.ipp', '.c', '.cc', '.cpp', '.cxx')
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"/]+)/[^"]*"')
# How many places an edge's message lists before "(+N more)".
PLACES_SHOWN = 3


class RulesError(Exception):
    pass


def is_build_tree(path, name):
    return name.startswith('build') or os.path.exists(os.path.join(path, 'CMakeCache.txt'))


def source_files(folder):
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames
                             if not d.startswith('.') and not is_build_tree(os.path.join(dirpath, d), d))
        for f in sorted(filenames):
            if f.endswith(SOURCE_SUFFIXES):
                yield os.path.join(dirpath, f)


def top_folders(root):
    """Top-level folders of root that hold at least one C/C++ source."""
    found = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if name.startswith('.') or not os.path.isdir(path) or is_build_tree(path, name):
            continue
        if next(source_files(path), None) is not None:
            found.append(name)
    return found


def read_edges(root, folders):
    """{(from, to): [(relative file, line number, include text)]} for from != to."""
    known = set(folders)
    edges = {}
    for folder in folders:
        for path in source_files(os.path.join(root, folder)):
            rel = os.path.relpath(path, root)
            with open(path, encoding='utf-8', errors='replace') as f:
                for number, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if m and m.group(1) in known and m.group(1) != folder:
                        text = line.strip().split('"')[1]
                        edges.setdefault((folder, m.group(1)), []).append((rel, number, text))
    return edges


def read_rules(path):
    """([(from, to, rules line)], [(from, to, rules line)]) of deny and except lines."""
    denies, excepts = [], []
    with open(path, encoding='utf-8') as f:
        for number, raw in enumerate(f, 1):
            line = raw.split('#', 1)[0].split()
            if not line:
                continue
            where = '%s:%d' % (path, number)
            if line[0] == 'deny' and len(line) == 3:
                for a in line[1].split(','):
                    for b in line[2].split(','):
                        if a == '*' or not a or not b:
                            raise RulesError('%s: "deny" takes folder names on the left' % where)
                        denies.append((a, b, where))
            elif line[0] == 'except' and len(line) == 3:
                excepts.append((line[1], line[2], where))
            else:
                raise RulesError('%s: expected "deny <from> <to>" or "except <from> <to>", got: %s'
                                 % (where, raw.strip()))
    return denies, excepts


def places(found):
    shown = ['%s:%d includes "%s"' % p for p in found[:PLACES_SHOWN]]
    more = len(found) - PLACES_SHOWN
    return '; '.join(shown) + (' (+%d more)' % more if more > 0 else '')


def strongly_connected(nodes, graph):
    """Tarjan's components of more than one folder (self edges are never in the graph)."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return result


def shortest_cycle(component, graph):
    """One shortest cycle through the component's first folder, as a list of folders."""
    start = component[0]
    members = set(component)
    parents = {start: None}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph.get(v, ())):
                if w not in members:
                    continue
                if w == start:
                    path = [v]
                    while parents[path[-1]] is not None:
                        path.append(parents[path[-1]])
                    return list(reversed(path)) + [start]
                if w not in parents:
                    parents[w] = v
                    following.append(w)
        frontier = following
    return component + [start]  # unreachable for a strongly connected component


def check(root, rules_path):
    """The findings (strings) for the tree at root; empty when it is clean."""
    denies, excepts = read_rules(rules_path)
    folders = top_folders(root)
    edges = read_edges(root, folders)
    findings = []

    excepted = set()
    for a, b, where in excepts:
        if (a, b) in edges:
            excepted.add((a, b))
        else:
            findings.append('%s: "except %s %s" names an edge that no longer exists (no file in %s/ '
                            'includes %s/): remove the line' % (where, a, b, a, b))

    for (a, b), found in sorted(edges.items()):
        if (a, b) in excepted:
            continue
        for da, db, where in denies:
            if da == a and (db == b or db == '*'):
                findings.append('layer rule broken: %s/ must not include %s/ (%s): %s'
                                % (a, b, where, places(found)))
                break

    graph = {}
    for (a, b) in edges:
        if (a, b) not in excepted:
            graph.setdefault(a, set()).add(b)
    for component in strongly_connected(folders, graph):
        cycle = shortest_cycle(component, graph)
        lines = ['include cycle between folders: %s' % ' -> '.join(cycle)]
        if len(component) > len(cycle) - 1:
            lines.append('  (folders in the same tangle: %s)' % ', '.join(component))
        for a, b in zip(cycle, cycle[1:]):
            lines.append('  %s -> %s: %s' % (a, b, places(edges[(a, b)])))
        lines.append('  break one edge: move what both need down a layer, or invert the '
                     'dependency (an interface below, the implementation above)')
        findings.append('\n'.join(lines))
    return findings


def self_test():
    """Temporary trees with and without cycles; returns the number of failed expectations."""
    failures = []

    def tree(root, files, rules):
        for rel, text in files.items():
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w', encoding='utf-8') as f:
                f.write(text)
        rules_path = os.path.join(root, 'layers.txt')
        with open(rules_path, 'w', encoding='utf-8') as f:
            f.write(rules)
        return root, rules_path

    def expect(name, files, rules, wanted):
        """wanted: substrings that must all appear in the findings; [] = clean."""
        with tempfile.TemporaryDirectory(prefix='check-layers-') as root:
            root, rules_path = tree(root, files, rules)
            try:
                text = '\n'.join(check(root, rules_path))
            except RulesError as e:
                text = 'RulesError: %s' % e
        if not wanted and text:
            failures.append('%s: expected clean, got:\n%s' % (name, text))
        for w in wanted:
            if w not in text:
                failures.append('%s: expected "%s" in:\n%s' % (name, w, text or '(clean)'))

    base = {'low/a.h': '#pragma once\n',
            'mid/b.h': '#include "low/a.h"\n',
            'top/c.cpp': '#include "mid/b.h"\n#include "low/a.h"\n#include <vector>\n'}
    expect('clean tree', base, '', [])
    expect('a build tree and a hidden folder are not read',
           dict(base, **{'build/x.cpp': '#include "top/c.h"\n',
                         'out/CMakeCache.txt': '', 'out/y.cpp': '#include "top/c.h"\n',
                         '.git/z.c': '#include "top/c.h"\n'}), '', [])
    expect('an include of something that is not a folder of the tree is no edge',
           dict(base, **{'low/a.cpp': '#include "sofia-sip/sip.h"\n#include "a.h"\n'}), '', [])
    cycle = dict(base, **{'low/d.cpp': '// why\n#include "top/e.h"\n',
                          'top/c.cpp': '#include "mid/b.h"\n'})
    expect('a cycle through three folders', cycle, '',
           ['include cycle between folders: low -> top -> mid -> low',
            'low -> top: low/d.cpp:2 includes "top/e.h"',
            'top -> mid: top/c.cpp:1 includes "mid/b.h"',
            'mid -> low: mid/b.h:1 includes "low/a.h"'])
    expect('a new folder takes part without a rule',
           dict(base, **{'newbase/n.h': '#include "top/c.h"\n', 'top/f.h': '#include "newbase/n.h"\n'}),
           '', ['include cycle between folders: newbase -> top -> newbase'])
    expect('a commented-out include is no edge',
           dict(base, **{'low/d.cpp': '// #include "top/e.h"\n'}), '', [])
    expect('a deny rule', base, 'deny mid low   # why\n',
           ['layer rule broken: mid/ must not include low/', 'mid/b.h:1 includes "low/a.h"'])
    expect('a deny rule with lists and a star', base, 'deny low,mid *\ndeny top nothing\n',
           ['mid/ must not include low/'])
    expect('an exception hides the cycle and the rule', cycle,
           'deny low top\nexcept low top  # issue N\n', [])
    expect('a stale exception fails', base, 'except low top\n',
           ['"except low top" names an edge that no longer exists'])
    expect('a malformed rules line fails', base, 'forbid low top\n', ['RulesError', 'expected "deny'])

    for f in failures:
        print('check-layers self-test FAILED: ' + f, file=sys.stderr)
    if not failures:
        print('check-layers self-test: all expectations hold')
    return len(failures)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', default=os.path.dirname(here), help='the source tree')
    parser.add_argument('--rules', help='the rules file (default ROOT/scripts/layers.txt)')
    parser.add_argument('--self-test', action='store_true', help='check the checker')
    args = parser.parse_args()
    if args.self_test:
        return 1 if self_test() else 0
    rules = args.rules or os.path.join(args.root, 'scripts', 'layers.txt')
    try:
        findings = check(args.root, rules)
    except (RulesError, OSError) as e:
        print('check-layers: %s' % e, file=sys.stderr)
        return 2
    for f in findings:
        print('check-layers: %s' % f, file=sys.stderr)
    if findings:
        print('check-layers: %d finding(s); the layers are declared in %s' % (len(findings), rules),
              file=sys.stderr)
        return 1
    print('check-layers: %d folders, no include cycle, every layer rule holds'
          % len(top_folders(args.root)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
