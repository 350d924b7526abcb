# Copyright (c) mmmae contributors. All rights reserved.
"""tools/misc/check_dataset.py on real good and broken videos."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys
import time

import pytest

from bad_video_files import (BAD_FILES, hang_forever_in_c, make_dirty_dataset,
                             write_bframe_avi)
from mmmae.datasets import video_guard

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO_ROOT, 'tools', 'misc', 'check_dataset.py')
_spec = importlib.util.spec_from_file_location('check_dataset', TOOL)
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)


@pytest.fixture(scope='module')
def dirty(tmp_path_factory):
    """20 entries, one per bad kind, plus a B-frame AVI, a comment and a
    blank line."""
    root = tmp_path_factory.mktemp('check_ds')
    make_dirty_dataset(root)
    write_bframe_avi(str(root / 'bframes.avi'))
    with open(root / 'ann.txt', 'a') as f:
        f.write('# a comment\n\nbframes.avi 1\n')
    return root


def run_tool(root, out, *extra):
    code = tool.main([
        str(root / 'ann.txt'), '--data-prefix',
        str(root), '--out-dir',
        str(out), '--workers', '2', '--min-frames', '8', '--no-progress',
        *extra
    ])
    assert code == 0
    report = json.loads((out / 'ann_report.json').read_text())
    return report, (out / 'ann_clean.txt').read_text().splitlines()


def test_scan_writes_clean_list_and_report(dirty, tmp_path, monkeypatch,
                                           capsys):
    # Stand in for a decoder that hangs in C code on one file: the probe
    # (run in the forked helper, which inherits this patch) blocks on it.
    real_probe = video_guard.probe_video

    def probe(path, **kwargs):
        if 'bad_hang' in path:
            hang_forever_in_c()
        return real_probe(path, **kwargs)

    monkeypatch.setattr(video_guard, 'probe_video', probe)
    t0 = time.monotonic()
    report, clean = run_tool(dirty, tmp_path, '--timeout', '3')
    assert time.monotonic() - t0 < 60
    expected = {name: kind for kind, name in BAD_FILES.items()}
    got = {b['path']: b['reason'] for b in report['bad']}
    assert got == expected  # wrong frames only with --cross-check
    assert report['num_entries'] == 21
    assert report['num_bad'] == 7 and report['num_good'] == 14
    assert report['counts'] == {kind: 1 for kind in BAD_FILES}
    lying = next(b for b in report['bad'] if b['path'] == 'bad_lying.mp4')
    assert 'header claims 40 frames' in lying['detail']
    assert lying['line'] == 12
    # clean list: input lines minus the bad ones, comments kept, in order
    original = (dirty / 'ann.txt').read_text().splitlines()
    assert clean == [
        ln for ln in original
        if not ln or ln.split()[0] not in expected
    ]
    assert '# a comment' in clean and 'bframes.avi 1' in clean
    summary = (tmp_path / 'ann_report.txt').read_text()
    assert 'entries: 21, good: 14, bad: 7' in summary
    assert 'frame count mismatch  1' in summary
    assert 'line 14: bad_hang.mp4 (timeout)' in summary
    assert summary.strip() in capsys.readouterr().out


def test_cross_check_flags_wrong_frames(dirty, tmp_path):
    """decord's random access into an AVI with B-frames returns other
    frames than PyAV's sequential decode; mp4v files agree exactly."""
    report, clean = run_tool(dirty, tmp_path, '--cross-check', '8')
    got = {b['path']: b for b in report['bad']}
    assert got['bframes.avi']['reason'] == 'wrong frames'
    assert 'differs from PyAV' in got['bframes.avi']['detail']
    assert 'bframes.avi 1' not in clean
    # the good mp4 files pass the cross-check
    assert report['num_good'] == 14  # bad_hang decodes fine here
    assert report['counts']['wrong frames'] == 1
    res = video_guard.cross_check(str(dirty / 'good_00.mp4'), 8)
    assert res['ok'] and res['max_diff'] == 0.0


def test_cross_check_with_a_wrong_reader(dirty, monkeypatch):
    """A reader that returns neighbouring frames is flagged; the
    threshold decides."""
    import decord
    real = decord.VideoReader

    class OffByOne:

        def __init__(self, path, **kwargs):
            self.vr = real(path, **kwargs)

        def __len__(self):
            return len(self.vr)

        def __getitem__(self, i):
            return self.vr[max(i - 1, 0)]

    monkeypatch.setattr(decord, 'VideoReader', OffByOne)
    from bad_video_files import write_av, scene_video
    path = write_av(str(dirty / 'scenes.mp4'), scene_video(24))
    res = video_guard.cross_check(path, 6, seed=1)
    assert not res['ok'] and res['max_diff'] > 20
    assert video_guard.cross_check(path, 6, threshold=255, seed=1)['ok']


def test_cli_subprocess(dirty, tmp_path):
    """Runs as a script, without importing torch, in seconds."""
    proc = subprocess.run([
        sys.executable, TOOL,
        str(dirty / 'ann.txt'), '--data-prefix',
        str(dirty), '--out-dir',
        str(tmp_path), '--workers', '2', '--timeout', '30'
    ],
                          cwd=str(tmp_path),
                          stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE,
                          text=True,
                          errors='replace',
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'checking videos' in proc.stderr  # the progress bar
    assert 'bad: 5' in proc.stdout  # min_frames=1: the short one is used
    assert (tmp_path / 'ann_clean.txt').is_file()
    probe = subprocess.run([
        sys.executable, '-c', 'import runpy, sys; '
        f'sys.argv = ["x", "--help"]; runpy.run_path({TOOL!r}, '
        'run_name="__main__")'
    ],
                           stdout=subprocess.PIPE,
                           text=True)
    assert '--cross-check' in probe.stdout


def test_bad_arguments(tmp_path):
    with pytest.raises(SystemExit, match='does not exist'):
        tool.main([str(tmp_path / 'nope.txt')])
    with pytest.raises(SystemExit):
        tool.main([str(tmp_path / 'nope.txt'), '--workers', '0'])


def test_fewer_frames_than_claimed_by_monkeypatched_reader(tmp_path,
                                                           monkeypatch):
    """probe_video: a reader that claims more frames than it returns."""
    from conftest import random_video, write_mp4
    import decord
    path = write_mp4(str(tmp_path / 'v.mp4'), random_video(12))
    real = decord.VideoReader

    class Liar:

        def __init__(self, p, **kwargs):
            self.vr = real(p, **kwargs)

        def __len__(self):
            return len(self.vr) + 10

        def get_avg_fps(self):
            return self.vr.get_avg_fps()

        def get_batch(self, inds):
            return self.vr.get_batch([i for i in inds if i < len(self.vr)])

    monkeypatch.setattr(decord, 'VideoReader', Liar)
    res = video_guard.probe_video(path, num_indices=4)
    assert res['reason'] == 'frame count mismatch'
    assert 'header claims 22 frames' in res['detail']
    assert 'only 2 of 4 decoded' in res['detail']
    assert os.path.getsize(path) > 0
