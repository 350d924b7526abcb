# Copyright (c) mmmae contributors. All rights reserved.
"""README.md and docs/**/*.md: relative links resolve, the README stays a
short reference, and nothing points outside the repository.

Pure file checks (no imports of the package under test), so they run in a
second. The link checker is tested on a synthetic tree first, so a checker
that finds nothing cannot pass silently.
"""
import os
import os.path as osp
import re
from typing import Dict, List, Set, Tuple
from urllib.parse import unquote


REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
README_MAX_LINES = 250

_FENCE = re.compile(r'^( {0,3})(`{3,}|~{3,})')
_INLINE_CODE = re.compile(r'(`+)(?:(?!\1).)+?\1')
# [text](target) and ![alt](target), with an optional "title"
_LINK = re.compile(r'!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
# [label]: target (reference definitions)
_REF_DEF = re.compile(r'^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$')
_EXTERNAL = re.compile(r'^[a-zA-Z][a-zA-Z0-9+.-]*:')  # http:, https:, mailto:
_HEADING = re.compile(r'^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$')
_HTML_ANCHOR = re.compile(r'<a\s+(?:name|id)="([^"]+)"')


def doc_files(root: str = REPO_ROOT) -> List[str]:
    """README.md and every ``.md`` under docs/, relative to ``root``."""
    files = ['README.md'] if osp.isfile(osp.join(root, 'README.md')) else []
    for dirpath, dirnames, filenames in os.walk(osp.join(root, 'docs')):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith('.md'):
                files.append(
                    osp.relpath(osp.join(dirpath, name), root).replace(
                        os.sep, '/'))
    return files


def prose_lines(text: str,
                strip_code: bool = True) -> List[Tuple[int, str]]:
    """``(line number, line)`` outside fenced code blocks; with
    ``strip_code`` inline code spans are removed (a ``[x](y)`` inside code
    is not a link)."""
    out, fence = [], None
    for i, line in enumerate(text.splitlines(), 1):
        m = _FENCE.match(line)
        if fence is None:
            if m:
                fence = m.group(2)[0] * len(m.group(2))
                continue
            out.append(
                (i, _INLINE_CODE.sub('', line) if strip_code else line))
        elif m and m.group(2).startswith(fence) and \
                not line[m.end():].strip():
            fence = None
    return out


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading (before de-duplication)."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)  # links
    text = re.sub(r'<[^>]+>', '', text)  # inline html
    text = text.strip().lower()
    text = re.sub(r'[^\w\- ]', '', text)  # punctuation, backticks, ...
    return text.replace(' ', '-')


def anchors(text: str) -> Set[str]:
    """Every anchor of a markdown file: heading slugs (``-1``, ``-2`` for
    repeats, as GitHub) and explicit ``<a name/id=...>``."""
    seen: Dict[str, int] = {}
    out = set()
    for _, line in prose_lines(text, strip_code=False):
        m = _HEADING.match(line)
        if m:
            slug = github_slug(m.group(2))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f'{slug}-{n}')
        out.update(_HTML_ANCHOR.findall(line))
    return out


def links(text: str) -> List[Tuple[int, str]]:
    """``(line number, target)`` of every link outside code."""
    out = []
    for i, line in prose_lines(text):
        out += [(i, t) for t in _LINK.findall(line)]
        m = _REF_DEF.match(line)
        if m:
            out.append((i, m.group(1)))
    return out


def broken_links(root: str, files: List[str]) -> List[str]:
    """One message per relative link of ``files`` (paths relative to
    ``root``) whose file, or ``#anchor`` in a markdown file, is missing, or
    that leaves the repository."""
    problems = []
    cache: Dict[str, Set[str]] = {}

    def anchors_of(path):
        if path not in cache:
            with open(path, encoding='utf-8') as f:
                cache[path] = anchors(f.read())
        return cache[path]

    for rel in files:
        src = osp.join(root, rel)
        with open(src, encoding='utf-8') as f:
            text = f.read()
        for lineno, target in links(text):
            if _EXTERNAL.match(target):
                continue
            path, _, anchor = target.partition('#')
            where = f'{rel}:{lineno}: ({target})'
            if path:
                path = unquote(path)
                base = root if path.startswith('/') else osp.dirname(src)
                dest = osp.normpath(osp.join(base, path.lstrip('/')))
                inside = osp.relpath(dest, root)
                if inside == '..' or inside.startswith('..' + os.sep):
                    problems.append(f'{where} points outside the repository')
                    continue
                if not osp.exists(dest):
                    problems.append(f'{where} {inside} does not exist')
                    continue
            else:
                dest = src
            if anchor and dest.endswith('.md') and osp.isfile(dest):
                if unquote(anchor).lower() not in anchors_of(dest):
                    problems.append(
                        f'{where} no heading with anchor #{anchor} in '
                        f'{osp.relpath(dest, root)}')
    return problems


# --------------------------------------------------------------------------
# the checker itself, on a synthetic tree
# --------------------------------------------------------------------------
def _write(path, text):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def test_github_slug():
    assert github_slug('Quick start') == 'quick-start'
    assert github_slug('MultiMAE: `python tools/demo_multimae.py`') == \
        'multimae-python-toolsdemo_multimaepy'
    assert github_slug('Learning rate: `auto_scale_lr`, accumulation, '
                       'repeated sampling') == \
        'learning-rate-auto_scale_lr-accumulation-repeated-sampling'
    assert github_slug('1. Atomic checkpoints (`mmmae.AtomicCheckpointHook`)'
                       ) == '1-atomic-checkpoints-mmmaeatomiccheckpointhook'
    assert github_slug('See [the docs](docs/x.md) now') == 'see-the-docs-now'
    assert anchors('# A\n## A\n```\n# not a heading\n```\n') == {'a', 'a-1'}
    assert anchors('## Run `tools/x.py`\n') == {'run-toolsxpy'}


def test_checker_finds_broken_links(tmp_path):
    root = str(tmp_path)
    _write(osp.join(root, 'docs', 'ok.md'), '# Title\n\n## Some Part\n')
    _write(osp.join(root, 'configs', 'a.py'), 'x = 1\n')
    _write(osp.join(root, 'README.md'), '\n'.join([
        '# Readme',
        '## Local part',
        '[fine](docs/ok.md) [fine too](docs/ok.md#some-part) '
        '[config](configs/a.py) [here](#local-part) [dir](docs/)',
        '[web](https://example.com/missing.md) [mail](mailto:a@b.c)',
        '`[in code](docs/missing_in_code.md)`',
        '```',
        '[in a fence](docs/missing_in_fence.md)',
        '```',
        '[gone](docs/missing.md)',
        '[bad anchor](docs/ok.md#no-such-part)',
        '[bad local anchor](#nowhere)',
        '![image](docs/missing.png)',
        '[outside](../outside/notes.md)',
        '[ref]: docs/missing_ref.md',
    ]) + '\n')
    problems = broken_links(root, doc_files(root))
    found = '\n'.join(problems)
    for bad in ('docs/missing.md', '#no-such-part', '#nowhere',
                'docs/missing.png', '../outside/notes.md',
                'docs/missing_ref.md'):
        assert bad in found, (bad, problems)
    assert len(problems) == 6, problems
    for fine in ('missing_in_code', 'missing_in_fence', 'example.com',
                 'mailto', 'some-part'):
        assert fine not in found, (fine, problems)


# --------------------------------------------------------------------------
# the repository's own docs
# --------------------------------------------------------------------------
def _read(rel):
    with open(osp.join(REPO_ROOT, rel), encoding='utf-8') as f:
        return f.read()


def test_docs_are_found():
    files = doc_files()
    assert 'README.md' in files
    assert 'docs/install.md' in files
    assert len(files) > 10, files


def test_relative_links_resolve():
    problems = broken_links(REPO_ROOT, doc_files())
    assert not problems, 'broken links:\n' + '\n'.join(problems)


def test_readme_is_short():
    n = len(_read('README.md').splitlines())
    assert n <= README_MAX_LINES, (
        f'README.md has {n} lines; keep it under {README_MAX_LINES} and move '
        'details (measurements, write-ups) to docs/')


def test_readme_sections_in_order():
    headings = [m.group(1) for m in re.finditer(r'^## (.+)$', _read(
        'README.md'), re.M)]
    wanted = ['Methods', 'Installation', 'Quick start', 'Get started',
              'Documentation', 'Benchmarks', 'Citation']
    pos = []
    for w in wanted:
        hits = [i for i, h in enumerate(headings) if h.startswith(w)]
        assert hits, f'README.md has no "## {w}..." section: {headings}'
        pos.append(hits[0])
    assert pos == sorted(pos), f'README sections out of order: {headings}'


def test_readme_indexes_every_doc():
    readme = _read('README.md')
    targets = {osp.normpath(unquote(t.partition('#')[0]))
               for _, t in links(readme) if not _EXTERNAL.match(t)}
    missing = [f for f in doc_files()
               if f != 'README.md' and osp.normpath(f) not in targets]
    assert not missing, f'docs not linked from the README: {missing}'
