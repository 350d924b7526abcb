# Copyright (c) mmmae contributors. All rights reserved.
"""Resolve a command line's VIDEOS argument: a file, a folder or a list."""
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

__all__ = ['VIDEO_EXTS', 'LIST_EXTS', 'collect_videos']

VIDEO_EXTS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.m4v', '.flv',
              '.mpeg', '.mpg')
LIST_EXTS = ('.txt', '.csv', '.lst', '.list')


def _is_video(path: str) -> bool:
    return path.lower().endswith(VIDEO_EXTS)


def _strip_ext(rel: str) -> str:
    return osp.splitext(osp.normpath(rel))[0]


def _looks_binary(path: str) -> bool:
    """Whether a file of unknown extension is not a text list."""
    try:
        with open(path, 'rb') as f:
            head = f.read(4096)
    except OSError:
        return False
    if b'\0' in head:
        return True
    try:
        head.decode('utf-8')
    except UnicodeDecodeError:
        return True
    return False


def _read_list(path: str, data_prefix: Optional[str]) -> List[Tuple[str, str]]:
    root = data_prefix if data_prefix is not None else osp.dirname(
        osp.abspath(path))
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            # a whole line naming a file wins (paths with spaces), else the
            # first whitespace/comma separated column (mmaction `path label`)
            entry = line
            full = entry if osp.isabs(entry) else osp.join(root, entry)
            if not osp.isfile(full):
                entry = line.replace(',', ' ').split()[0]
                full = entry if osp.isabs(entry) else osp.join(root, entry)
            rel = osp.normpath(
                osp.relpath(entry, root) if osp.isabs(entry) else entry)
            if rel == os.pardir or rel.startswith(os.pardir + os.sep):
                rel = osp.basename(entry)  # keep outputs inside OUT_DIR
            out.append((full, _strip_ext(rel)))
    return out


def collect_videos(path: str,
                   data_prefix: Optional[str] = None) -> List[Tuple[str, str]]:
    """Videos named by a file, a folder or an annotation list.

    Args:
        path (str): a video file (by extension, or any binary file), a
            folder (searched recursively for :data:`VIDEO_EXTS`, sorted) or
            a list file (one video per line; a line that is not an existing
            path is split on whitespace/commas and its first column is
            taken; ``#`` comments and blank lines are ignored).
        data_prefix (str, optional): root of relative list entries (default
            the list's folder).

    Returns:
        list[tuple[str, str]]: ``(video path, output key)``; the key is the
        path relative to the folder / list root without extension (the
        file stem for a single video or a list entry outside the root).
        Duplicate paths are dropped; keys that collide (``a.mp4`` and
        ``a.avi``) keep their extension as ``a_mp4`` / ``a_avi``. Listed
        files that do not exist are kept (callers report them).

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    if osp.isdir(path):
        items = []
        for root, dirs, files in os.walk(path, followlinks=True):
            dirs.sort()
            for f in sorted(files):
                if _is_video(f):
                    full = osp.join(root, f)
                    items.append((full, _strip_ext(osp.relpath(full, path))))
        items.sort(key=lambda x: x[0])
    elif osp.isfile(path) and (_is_video(path)
                               or not path.lower().endswith(LIST_EXTS)
                               and _looks_binary(path)):
        items = [(path, _strip_ext(osp.basename(path)))]
    elif osp.isfile(path):
        items = _read_list(path, data_prefix)
    else:
        raise FileNotFoundError(f'{path} is not a file or folder')

    seen, unique = set(), []
    for full, key in items:
        ident = osp.abspath(full)
        if ident not in seen:
            seen.add(ident)
            unique.append((full, key))
    counts: Dict[str, int] = {}
    for _, key in unique:
        counts[key] = counts.get(key, 0) + 1
    out = []
    for full, key in unique:
        if counts[key] > 1:
            ext = osp.splitext(full)[1].lstrip('.').lower()
            key = f'{key}_{ext}' if ext else key
        out.append((full, key))
    return out
