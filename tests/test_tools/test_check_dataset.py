# Copyright (c) mmmae contributors. All rights reserved.
"""mmmae.datasets.dataset_check and tools/misc/check_dataset.py on real good
and broken videos."""
import json
import os
import os.path as osp
import re
import subprocess
import sys
import tempfile
import time

import pytest

from bad_video_files import (BAD_FILES, hang_forever_in_c, make_dirty_dataset,
                             write_bframe_avi)
from conftest import run_tool
from mmmae.datasets import (DatasetCheckError, check_settings_from_config,
                            check_video_list, format_check_summary,
                            video_guard)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = 'tools/misc/check_dataset.py'
TOOL = osp.join(REPO_ROOT, SCRIPT)


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


def scan(root, out, **kwargs):
    report = check_video_list(str(root / 'ann.txt'), str(root),
                              out_dir=str(out), workers=2, min_frames=8,
                              progress=False, **kwargs)
    assert report == json.loads((out / 'ann_report.json').read_text())
    return report, (out / 'ann_clean.txt').read_text().splitlines()


def test_scan_writes_clean_list_and_report(dirty, tmp_path, monkeypatch):
    # Stand in for a decoder that hangs in C code on one file: the probe
    # (run in the forked helper, which inherits this patch) blocks on it.
    real_probe = video_guard.probe_video

    def probe(path, **kwargs):
        if 'bad_hang' in path:
            hang_forever_in_c()
        return real_probe(path, **kwargs)

    monkeypatch.setattr(video_guard, 'probe_video', probe)
    t0 = time.monotonic()
    report, clean = scan(dirty, tmp_path, timeout=3)
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
    assert summary.strip() == format_check_summary(report)


def test_cross_check_flags_wrong_frames(dirty, tmp_path):
    """decord's random access into an AVI with B-frames returns other
    frames than PyAV's sequential decode; mp4v files agree exactly."""
    report, clean = scan(dirty, tmp_path, cross_check=8)
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
        sys.executable, '-X', 'importtime', TOOL,
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
    # -X importtime lists every module imported: torch is not one
    assert not re.search(r'\|\s*torch\s*$', proc.stderr, re.M)
    assert 'bad: 5' in proc.stdout  # min_frames=1: the short one is used
    assert (tmp_path / 'ann_clean.txt').is_file()
    summary = (tmp_path / 'ann_report.txt').read_text()
    assert summary.strip() in proc.stdout


def test_help(capsys):
    assert run_tool(SCRIPT, '--help') == 0
    assert '--cross-check' in capsys.readouterr().out


def test_bad_arguments(tmp_path, capsys):
    nope = str(tmp_path / 'nope.txt')
    assert run_tool(SCRIPT, nope) == 1
    assert capsys.readouterr().err == (
        f'check_dataset: annotation file {nope!r} does not exist\n')
    assert run_tool(SCRIPT, nope, '--workers', '0') == 2
    assert '--workers must be >= 1' in capsys.readouterr().err
    with pytest.raises(DatasetCheckError, match='does not exist'):
        check_video_list(nope)
    with pytest.raises(ValueError, match='workers must be >= 1'):
        check_video_list(nope, workers=0)
    with pytest.raises(ValueError, match='timeout must be >= 0'):
        check_video_list(nope, timeout=-1)
    with pytest.raises(ValueError, match="reader='cv2'"):
        check_video_list(nope, reader='cv2')


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


# ------------------------------------------------ readers, structure, lists
@pytest.fixture(scope='module')
def media(tmp_path_factory):
    """Real complete and cut files of each container, a decord crasher,
    and a real mp4 in a folder whose name has a space."""
    from bad_video_files import (cut_file, noise_video, write_av, write_mkv,
                                 write_truncated_avi_segv)
    root = tmp_path_factory.mktemp('media')
    for name, kwargs in [('vp8.webm', {}),
                         ('vp9.webm', dict(codec='libvpx-vp9')),
                         ('mp4v.mkv', dict(codec='mpeg4')),
                         ('live.webm', dict(live=True)),
                         ('rec.webm', dict(live=True, unknown_clusters=True))]:
        write_mkv(str(root / name), **kwargs)
        cut_file(str(root / name), str(root / f'cut_{name}'), 0.6)
    write_av(str(root / 'whole.mp4'), noise_video(20, seed=2))
    cut_file(str(root / 'whole.mp4'), str(root / 'cut_whole.mp4'), 0.5)
    write_truncated_avi_segv(str(root / 'segv.avi'))
    (root / 'my dir').mkdir()
    write_av(str(root / 'my dir' / 'a b.mp4'), noise_video(20, seed=4))
    return root


def tool_report(root, ann_text, name='list.txt', **kwargs):
    (root / name).write_text(ann_text)
    out = tempfile.mkdtemp(prefix='out_', dir=str(root))
    check_video_list(str(root / name), str(root), out_dir=out, workers=2,
                     progress=False, **kwargs)
    out = root / osp.basename(out)
    stem = osp.splitext(name)[0]
    report = json.loads((out / f'{stem}_report.json').read_text())
    clean = (out / f'{stem}_clean.txt').read_text().splitlines()
    return report, clean


def test_structure_finds_cut_matroska(media):
    """EBML walk: a cut known-size Segment, a cut Cluster of an
    unknown-size Segment, a cut block of an unknown-size Cluster, a file
    ending inside an element header; complete files of each kind pass."""
    diag = video_guard.file_diagnosis
    for name in ('vp8.webm', 'vp9.webm', 'mp4v.mkv', 'live.webm',
                 'rec.webm'):
        assert diag(str(media / name)) == (None, None), name
    size = osp.getsize(media / 'cut_vp8.webm')
    assert diag(str(media / 'cut_vp8.webm')) == (
        'truncated', f'Segment element at byte 36 needs '
        f'{osp.getsize(media / "vp8.webm")} bytes, file has {size}')
    for name in ('cut_vp9.webm', 'cut_mp4v.mkv'):
        assert diag(str(media / name))[1].startswith('Segment element')
    # live: the Segment has no size, its Clusters do
    assert diag(str(media / 'cut_live.webm'))[1].startswith('Cluster')
    # MediaRecorder style: neither has a size, the blocks do
    assert diag(str(media / 'cut_rec.webm'))[1].startswith('SimpleBlock')
    data = (media / 'rec.webm').read_bytes()
    second = data.index(b'\x1f\x43\xb6\x75', data.index(b'\x1f\x43\xb6\x75')
                        + 4)  # the second Cluster
    (media / 'cut_in_header.webm').write_bytes(data[:second + 6])
    why, detail = diag(str(media / 'cut_in_header.webm'))
    assert why == 'truncated'
    assert f'ends inside the element header at byte {second}' in detail
    # a cut exactly between two elements is invisible, not mistaken
    (media / 'cut_at_cluster.webm').write_bytes(data[:second])
    assert diag(str(media / 'cut_at_cluster.webm')) == (None, None)


def test_structure_walks_every_riff_chunk(media):
    """OpenDML AVI: a cut in a later ``RIFF AVIX`` chunk is found; junk
    after the last chunk is not a cut."""
    from bad_video_files import noise_video, write_av
    write_av(str(media / 'whole.avi'), noise_video(10), fmt='avi')
    whole = (media / 'whole.avi').read_bytes()
    assert video_guard.file_diagnosis(str(media / 'whole.avi'))[0] is None
    avix = b'RIFF' + (5000).to_bytes(4, 'little') + b'AVIX' + bytes(100)
    (media / 'opendml.avi').write_bytes(whole + avix)
    why, detail = video_guard.file_diagnosis(str(media / 'opendml.avi'))
    assert why == 'truncated'
    assert f"RIFF 'AVIX' chunk at byte {len(whole)} needs" in detail
    (media / 'padded.avi').write_bytes(whole + bytes(64))
    assert video_guard.file_diagnosis(str(media / 'padded.avi'))[0] is None


def test_truncated_even_when_the_reader_decodes_it(media):
    """Cut WebM, MKV and AVI decode (the frames before the cut): the
    structural finding stays; a cut MP4 (index lost) is found too; the
    complete files are good with every reader that opens them."""
    ann = ''.join(f'{n} 1\n' for n in [
        'vp8.webm', 'cut_vp8.webm', 'vp9.webm', 'cut_vp9.webm', 'mp4v.mkv',
        'cut_mp4v.mkv', 'whole.mp4', 'cut_whole.mp4', 'segv.avi'
    ])
    for reader in ('decord-path', 'pyav'):
        report, clean = tool_report(media, ann, reader=reader)
        got = {b['path']: (b['reason'], b['detail']) for b in report['bad']}
        assert set(got) == {
            'cut_vp8.webm', 'cut_vp9.webm', 'cut_mp4v.mkv', 'cut_whole.mp4',
            'segv.avi'
        }, (reader, got)
        assert all(r == 'truncated' for r, _ in got.values()), got
        for name in ('cut_vp8.webm', 'cut_mp4v.mkv', 'segv.avi'):
            assert f'{reader} decodes the' in got[name][1], got[name]
        assert 'frames before the cut' in got['cut_vp8.webm'][1]
        assert "RIFF 'AVI ' chunk needs" in got['segv.avi'][1]
        assert report['options']['reader'] == reader
        assert clean == ['vp8.webm 1', 'vp9.webm 1', 'mp4v.mkv 1',
                         'whole.mp4 1']


def test_decord_from_memory_crash_is_crashed(media, no_crash_dump):
    """decord segfaults opening the cut AVI from memory (as
    mmaction.DecordInit does; by path it decodes, see above): the helper
    dies, the file is ``crashed`` with the cut named, the scan goes on."""
    report, clean = tool_report(media, 'segv.avi 0\nwhole.mp4 1\n',
                                timeout=30)
    assert report['options']['reader'] == 'decord-memory'
    (bad, ) = report['bad']
    assert bad['reason'] == 'crashed', bad
    assert 'decord-memory: the decoding process died (SIGSEGV)' in bad[
        'detail']
    assert "the file is truncated: RIFF 'AVI ' chunk needs" in bad['detail']
    assert clean == ['whole.mp4 1']


def test_reader_from_a_real_config(media, tmp_path, no_crash_dump):
    videomae = osp.join(REPO_ROOT, 'configs', 'videomae')
    mmaction = osp.join(
        videomae, 'mmaction2', 'vit-base-p16_videomae-k400-pre-800e_64xb8-'
        '16x4x1-100e_kinetics400-rgb.py')  # MMAction2's: DecordInit
    k400 = osp.join(videomae,
                    'videomae_vit-base-p16_64xb32-800e_kinetics400.py')
    k400_ft = osp.join(
        videomae, 'finetune', 'vit-base-p16_videomae-k400-pre-1600e_64xb6-'
        'rep2-16x4x1-75e_kinetics400-rgb.py')
    got = check_settings_from_config(mmaction)
    assert got['reader'] == 'decord-memory'
    assert got['reader_from'].endswith(': DecordInit')
    got = check_settings_from_config(k400)
    assert got['reader'] == 'pyav' and got['delimiter'] == ' '
    assert got['reader_from'].endswith("VideoInit(backend='pyav')")
    assert check_settings_from_config(k400_ft)['reader'] == 'pyav'
    # a config built on a real one, its loading transform overridden
    # through the inheritance (and a tab-delimited list)
    derived = tmp_path / 'derived.py'
    derived.write_text(
        f'_base_ = [{k400!r}]\n'
        'train_dataloader = dict(dataset=dict(delimiter="\\t", pipeline=['
        'dict(type="mmmae.VideoInit", backend="decord")]))\n')
    got = check_settings_from_config(str(derived))
    assert (got['reader'], got['delimiter']) == ('decord-path', '\t')
    # the config decides how the scan opens files: the crasher is only
    # truncated under PyAV (Kinetics), and crashes decord from memory
    ann = 'segv.avi 0\n'
    report, _ = tool_report(media, ann, config=k400, name='k.txt')
    assert report['options']['reader'] == 'pyav'
    assert report['bad'][0]['reason'] == 'truncated'
    report, _ = tool_report(media, ann, config=mmaction, name='d.txt')
    assert report['options']['reader'] == 'decord-memory'
    assert report['bad'][0]['reason'] == 'crashed'
    # an explicit --reader wins over the config
    report, _ = tool_report(media, ann, config=mmaction, reader='decord-path',
                            name='e.txt')
    assert report['options']['reader_from'] == '--reader'
    assert report['bad'][0]['reason'] == 'truncated'
    # a loading transform no reader imitates: refused, not guessed
    odd = tmp_path / 'odd.py'
    odd.write_text('train_dataloader = dict(dataset=dict(type="RepeatDataset",'
                   ' dataset=dict(pipeline=[dict(type="OpenCVInit")])))\n')
    with pytest.raises(DatasetCheckError, match='OpenCVInit'):
        check_settings_from_config(str(odd))


def test_list_paths_with_spaces(media):
    """Tab-separated, quoted and plain lines name the same real file in a
    folder with a space; the clean list keeps each line as written."""
    lines = [
        'my dir/a b.mp4\t3', '"my dir/a b.mp4" 3', 'my dir/a b.mp4 3',
        'my dir/a b.mp4', 'my dir/gone clip.mp4 2', '# comment',
        '"my dir/cut_vp8.webm" 1'
    ]
    (media / 'my dir' / 'cut_vp8.webm').write_bytes(
        (media / 'cut_vp8.webm').read_bytes())
    report, clean = tool_report(media, '\n'.join(lines) + '\n',
                                reader='decord-path', name='sp.txt')
    assert report['num_entries'] == 6 and report['num_good'] == 4
    got = {b['path']: b['reason'] for b in report['bad']}
    assert got == {'my dir/gone clip.mp4': 'missing',
                   'my dir/cut_vp8.webm': 'truncated'}
    assert clean == lines[:4] + ['# comment']
    # an explicit delimiter, as the dataset's `delimiter`
    report, clean = tool_report(media, 'my dir/a b.mp4,3\n', delimiter=',',
                                name='csv.txt')
    assert report['num_good'] == 1 and clean == ['my dir/a b.mp4,3']
    # a line the dataset would refuse stops the scan, naming it
    with pytest.raises(DatasetCheckError, match=r'amb.txt:2: .*last 2 fields'):
        tool_report(media, 'whole.mp4 1\nrawframes/x 300 1\n', name='amb.txt')


@pytest.mark.parametrize('line,kwargs,expected', [
    ('a.mp4 3', {}, ('a.mp4', [3])),
    ('a.mp4', {}, ('a.mp4', [])),
    ('my dir/a  b.mp4   3', {}, ('my dir/a  b.mp4', [3])),
    ('my dir/a b.mp4', {}, ('my dir/a b.mp4', [])),
    ('my dir/a b.mp4\t3', {}, ('my dir/a b.mp4', [3])),
    ('"take 2" 3', {}, ('take 2', [3])),
    (r'"say \"hi\".mp4" -1', {}, ('say "hi".mp4', [-1])),
    ('"a,b.mp4",3', dict(delimiter=','), ('a,b.mp4', [3])),
    ('a b.mp4 , 3', dict(delimiter=','), ('a b.mp4', [3])),
    ('a b.mp4 1 2', dict(multi_label=True), ('a b.mp4', [1, 2])),
    ('a b.mp4\t1\t2', dict(multi_label=True), ('a b.mp4', [1, 2])),
    ('  # note', {}, None),
    ('', {}, None),
])
def test_parse_ann_line(line, kwargs, expected):
    assert video_guard.parse_ann_line(line, **kwargs) == expected


@pytest.mark.parametrize('line,match', [
    ('a.mp4 1 2', 'last 2 fields are integers'),
    ('"a b.mp4 3', 'No closing quotation'),
    ('a.mp4\tcat', "label 'cat' is not an integer"),
    ('a.mp4\t1\t2', 'got 2 labels'),
    ('"" 3', 'empty path'),
])
def test_parse_ann_line_refuses(line, match):
    with pytest.raises(ValueError, match=match):
        video_guard.parse_ann_line(line)
