# Copyright (c) mmmae contributors. All rights reserved.
"""The "finished set" marker of the generated demo datasets.

A JSON file holding the generation parameters is removed before a set is
(re)written and written last, atomically, so an interrupted run never looks
complete and a second call with the same parameters reuses the files.
"""
import json
import os
import os.path as osp

__all__ = ['write_json', 'stamp_matches', 'clear_stamp', 'write_stamp']


def write_json(path: str, obj) -> None:
    """Write ``obj`` as JSON via a ``.part`` file and a rename."""
    tmp = path + '.part'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def stamp_matches(path: str, params: dict) -> bool:
    """Whether the stamp at ``path`` exists and records ``params``."""
    try:
        with open(path) as f:
            return json.load(f) == params
    except (OSError, ValueError):
        return False


def clear_stamp(path: str) -> None:
    """Remove the stamp before writing files."""
    if osp.exists(path):
        os.remove(path)


def write_stamp(path: str, params: dict) -> None:
    """Mark the set complete (after every file is written)."""
    write_json(path, params)
