# Copyright (c) mmmae contributors. All rights reserved.
"""Video loading transforms, the fused crop and the frame cache, on real
H.264 files with several GOPs and B-frames."""
import os.path as osp
import random
import time

import numpy as np
import pytest

av = pytest.importorskip('av', reason='PyAV (av) is not installed')

from mmmae.datasets.transforms import video_decode  # noqa: E402
from mmmae.datasets.transforms.fused_crop import \
    MultiScaleCropResize  # noqa: E402
from mmmae.datasets.transforms.video_decode import (  # noqa: E402
    FrameCacheInit, PyAVSeekReader, VideoDecode, VideoInit)


def write_video(path, codec, options, rate=30, num_frames=60, size=(48, 64),
                seed=0, shift=0):
    """Encode ``random_video`` frames with PyAV's ``codec``; ``shift`` moves
    every timestamp ``shift`` frames earlier (in an MP4 the frames before 0
    are then cut by the edit list)."""
    if codec not in av.codecs_available:
        pytest.skip(f'this PyAV build has no {codec} encoder')
    from conftest import random_video
    container = av.open(str(path), 'w')
    stream = container.add_stream(codec, rate=rate)
    stream.height, stream.width = size
    stream.pix_fmt = 'yuv420p'
    stream.options = options
    packets = []
    for img in random_video(num_frames, size, seed=seed):
        packets += stream.encode(av.VideoFrame.from_ndarray(img))
    packets += stream.encode()
    for packet in packets:  # encoder time base: 1 / rate
        packet.pts -= shift
        packet.dts -= shift
        container.mux(packet)
    container.close()
    return str(path)


def write_h264(path, num_frames=60, size=(48, 64), gop=12, seed=0):
    """A libx264 mp4 with a keyframe every ``gop`` frames and B-frames."""
    return write_video(
        path, 'libx264',
        {'g': str(gop), 'keyint_min': str(gop), 'sc_threshold': '0',
         'bf': '3'}, num_frames=num_frames, size=size, seed=seed)


def sequential_decode(path):
    """Every frame, decoded from the start: the reference."""
    with av.open(path) as c:
        return np.stack(
            [f.to_ndarray(format='rgb24') for f in c.decode(video=0)])


@pytest.fixture(scope='module')
def h264(tmp_path_factory):
    root = tmp_path_factory.mktemp('h264')
    path = write_h264(root / 'gops.mp4')
    return path, sequential_decode(path)


def test_fixture_has_several_gops_and_bframes(h264):
    path, frames = h264
    with av.open(path) as c:
        stream = c.streams.video[0]
        keys = [p.pts for p in c.demux(stream) if p.is_keyframe]
        assert stream.codec_context.has_b_frames
    assert len(keys) == 5 and len(frames) == 60


@pytest.mark.parametrize('inds', [
    np.arange(0, 16),
    np.arange(20, 60, 4),
    np.array([59]),
    np.array([13, 2, 47, 47, 12, 11, 30]),
    np.arange(0, 60, 7),
])
@pytest.mark.parametrize('skip_nonref', [True, False])
def test_seek_reader_equals_sequential_decode(h264, inds, skip_nonref):
    path, frames = h264
    reader = PyAVSeekReader(path, skip_nonref=skip_nonref)
    assert len(reader) == 60 and reader.fps == 30
    out = reader.get_batch(inds)
    assert out.dtype == np.uint8 and out.shape == (len(inds), 48, 64, 3)
    np.testing.assert_array_equal(out, frames[inds])
    # the reader is reusable after a forward decode (seeks back)
    np.testing.assert_array_equal(reader.get_batch([1, 0]), frames[[1, 0]])


def write_avi(path, codec, options):
    """An AVI whose packets carry made-up timestamps (AVI has none)."""
    return write_video(path, codec, options, rate=25, seed=1)


@pytest.mark.parametrize('codec,options', [
    ('mpeg4', {'bf': '2', 'g': '12'}),  # xvid-like, packed B-frames
    ('libx264', {'bf': '3', 'g': '12', 'sc_threshold': '0'}),
    ('mpeg4', {'g': '12'}),  # no B-frames
])
def test_seek_reader_is_exact_on_avi(tmp_path, codec, options):
    """AVI timestamps follow the packet order, not the display order: with
    B-frames, mapping them to frames returned other frames (x264) or none
    (mpeg4). The reader decodes such files from the start instead."""
    path = write_avi(tmp_path / 'b.avi', codec, options)
    frames = sequential_decode(path)
    reader = PyAVSeekReader(path)
    assert reader.sequential and len(reader) == len(frames) == 60
    for inds in (np.arange(3, 60, 4), np.array([50, 2, 2, 59, 0])):
        np.testing.assert_array_equal(reader.get_batch(inds), frames[inds])
    out = _load(_decode_pipeline(VideoInit(backend='pyav')), path, seed=2)
    np.testing.assert_array_equal(out['imgs'], frames[out['frame_inds']])


@pytest.mark.parametrize('skip_nonref', [True, False])
def test_seek_reader_skips_frames_cut_by_an_edit_list(tmp_path, skip_nonref):
    """The edit list cuts the first 5 frames: the decoder returns 55, and so
    must the reader, with the same indices (counting the 60 packets failed
    on indices 0-4 and shifted the rest by 5)."""
    path = write_video(tmp_path / 'cut.mp4', 'libx264',
                       {'g': '12', 'sc_threshold': '0', 'bf': '3'}, shift=5)
    frames = sequential_decode(path)
    assert len(frames) == 55
    reader = PyAVSeekReader(path, skip_nonref=skip_nonref)
    assert len(reader) == 55 and not reader.sequential
    for inds in (np.arange(0, 55, 4), np.array([54, 0, 13, 1])):
        np.testing.assert_array_equal(reader.get_batch(inds), frames[inds])


def test_seek_reader_seeks_on_mp4(h264):
    reader = PyAVSeekReader(h264[0])
    reader.get_batch([30, 59, 5])
    assert not reader.sequential  # every seek landed on its keyframe


@pytest.mark.parametrize('codec,ext,seeks', [
    ('libx264', 'mkv', True),
    ('libx264', 'mov', True),
    ('libx264', 'flv', True),
    ('libvpx-vp9', 'webm', True),
    ('libx264', 'ts', False),  # byte-position seeks land off the keyframe
])
def test_seek_reader_on_other_containers(tmp_path, codec, ext, seeks):
    options = {'g': '12', 'bf': '3'} if codec == 'libx264' else {
        'g': '12', 'auto-alt-ref': '1', 'lag-in-frames': '16'}
    path = write_video(tmp_path / f'v.{ext}', codec, options, rate=25)
    frames = sequential_decode(path)
    reader = PyAVSeekReader(path)
    for inds in (np.arange(0, 60, 5), np.array([59, 0, 31, 17])):
        np.testing.assert_array_equal(reader.get_batch(inds), frames[inds])
    assert reader.sequential is not seeks


def test_seek_reader_rejects_bad_indices(h264):
    reader = PyAVSeekReader(h264[0])
    with pytest.raises(IndexError, match='out of range'):
        reader.get_batch([0, 60])
    with pytest.raises(IndexError):
        reader.get_batch([])


def _load(pipeline, filename, seed=0):
    from mmcv.transforms import Compose
    np.random.seed(seed)
    random.seed(seed)
    return Compose(pipeline)(dict(filename=filename, start_index=0,
                                  modality='RGB'))


def _decode_pipeline(init):
    from mmaction.datasets.transforms import SampleFrames
    return [init, SampleFrames(clip_len=8, frame_interval=3), VideoDecode()]


@pytest.mark.parametrize('backend', ['decord', 'pyav'])
def test_video_init_decode_match_mmaction_decord(h264, backend):
    from mmaction.datasets.transforms import (DecordDecode, DecordInit,
                                              SampleFrames)
    path, frames = h264
    ours = _load(_decode_pipeline(VideoInit(backend=backend)), path, seed=3)
    ref = _load([DecordInit(), SampleFrames(clip_len=8, frame_interval=3),
                 DecordDecode()], path, seed=3)
    assert ours['video_backend'] == backend
    assert ours['total_frames'] == 60 and ours['video_reader'] is None
    assert isinstance(ours['imgs'], np.ndarray)
    assert ours['img_shape'] == (48, 64)
    np.testing.assert_array_equal(ours['frame_inds'], ref['frame_inds'])
    np.testing.assert_array_equal(ours['imgs'], np.stack(ref['imgs']))
    np.testing.assert_array_equal(ours['imgs'], frames[ours['frame_inds']])


def test_pyav_fallback_when_decord_cannot_open(h264, monkeypatch):
    path, frames = h264

    def broken(*args, **kwargs):
        raise RuntimeError('decord: cannot open')

    monkeypatch.setattr(video_decode, '_open_decord', broken)
    out = _load(_decode_pipeline(VideoInit()), path)
    assert out['video_backend'] == 'pyav'
    np.testing.assert_array_equal(out['imgs'], frames[out['frame_inds']])
    with pytest.raises(RuntimeError, match='cannot open'):
        _load(_decode_pipeline(VideoInit(fallback=None)), path)


def test_pyav_fallback_when_decord_fails_to_decode(h264):
    path, frames = h264

    class FailingReader:

        def get_batch(self, inds):
            raise RuntimeError('decord: error while decoding')

    results = dict(filename=path, video_reader=FailingReader(),
                   video_backend='decord', frame_inds=np.array([5, 40, 5]))
    out = VideoDecode().transform(dict(results))
    assert out['video_backend'] == 'pyav'
    np.testing.assert_array_equal(out['imgs'], frames[[5, 40, 5]])
    with pytest.raises(RuntimeError, match='while decoding'):
        VideoDecode(fallback=None).transform(dict(results))


def test_missing_and_corrupt_files_raise(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.mp4'):
        VideoInit().transform(dict(filename=str(tmp_path / 'nope.mp4')))
    bad = tmp_path / 'bad.mp4'
    bad.write_bytes(b'not a video' * 100)
    with pytest.raises(RuntimeError, match='decord failed .* pyav'):
        VideoInit().transform(dict(filename=str(bad)))


@pytest.fixture
def memory_backend():
    """A remote-like MMEngine file backend: ``mem://`` URIs served from a
    dict, registered through MMEngine's real ``register_backend``; counts
    the reads."""
    from mmengine.fileio import BaseStorageBackend, register_backend
    from mmengine.fileio.backends import backends, prefix_to_backends

    class MemoryBackend(BaseStorageBackend):
        files, reads = {}, []

        def get(self, filepath):
            self.reads.append(str(filepath))
            if str(filepath) not in self.files:
                raise FileNotFoundError(f'{filepath} not in memory')
            return self.files[str(filepath)]

        def get_text(self, filepath, encoding='utf-8'):
            return self.get(filepath).decode(encoding)

    register_backend('mmmae_test_mem', MemoryBackend, force=True,
                     prefixes='mem')
    yield MemoryBackend
    backends.pop('mmmae_test_mem', None)
    prefix_to_backends.pop('mem', None)


@pytest.mark.parametrize('backend', ['decord', 'pyav'])
def test_video_init_reads_remote_files(h264, memory_backend, backend):
    """A file on a non-local MMEngine backend is read into memory and
    decodes to the same frames as the local file; the bytes are dropped
    after decoding."""
    path, frames = h264
    with open(path, 'rb') as f:
        memory_backend.files['mem://bucket/gops.mp4'] = f.read()
    out = _load(_decode_pipeline(VideoInit(backend=backend)),
                'mem://bucket/gops.mp4', seed=3)
    assert memory_backend.reads == ['mem://bucket/gops.mp4']
    assert out['video_backend'] == backend and out['total_frames'] == 60
    assert 'video_source' not in out
    np.testing.assert_array_equal(out['imgs'], frames[out['frame_inds']])
    # the same bytes through an explicit backend_args / MMAction2 io_backend
    for init in (VideoInit(backend=backend,
                           backend_args=dict(backend='mmmae_test_mem')),
                 VideoInit(backend=backend, io_backend='mmmae_test_mem')):
        again = _load(_decode_pipeline(init), 'mem://bucket/gops.mp4',
                      seed=3)
        np.testing.assert_array_equal(again['imgs'], out['imgs'])
    with pytest.raises(FileNotFoundError, match='not in memory'):
        VideoInit().transform(dict(filename='mem://bucket/missing.mp4'))
    with pytest.raises(ValueError, match='not both'):
        VideoInit(backend_args={}, io_backend='petrel')


def test_remote_fallbacks_reuse_the_bytes(h264, memory_backend,
                                          monkeypatch):
    """decord failing to open or to decode a remote file falls back to
    PyAV on the bytes already read (no second download)."""
    path, frames = h264
    with open(path, 'rb') as f:
        memory_backend.files['mem://gops.mp4'] = f.read()
    results = VideoInit().transform(dict(filename='mem://gops.mp4'))

    class FailingReader:

        def get_batch(self, inds):
            raise RuntimeError('decord: error while decoding')

    results.update(video_reader=FailingReader(),
                   frame_inds=np.array([5, 40, 5]))
    out = VideoDecode().transform(results)
    assert out['video_backend'] == 'pyav'
    np.testing.assert_array_equal(out['imgs'], frames[[5, 40, 5]])

    def broken(*args, **kwargs):
        raise RuntimeError('decord: cannot open')

    monkeypatch.setattr(video_decode, '_open_decord', broken)
    out = _load(_decode_pipeline(VideoInit()), 'mem://gops.mp4')
    assert out['video_backend'] == 'pyav'
    np.testing.assert_array_equal(out['imgs'], frames[out['frame_inds']])
    assert memory_backend.reads == ['mem://gops.mp4'] * 2


def test_frame_cache_reads_remote_npy(memory_backend):
    import io
    frames = np.random.default_rng(0).integers(
        0, 255, (6, 4, 5, 3), dtype=np.uint8)
    buf = io.BytesIO()
    np.save(buf, frames)
    memory_backend.files['mem://c.npy'] = buf.getvalue()
    out = _load(_decode_pipeline(FrameCacheInit()), 'mem://c.npy')
    np.testing.assert_array_equal(out['imgs'], frames[out['frame_inds']])


def test_seek_reader_beats_mmaction_pyavdecode_on_long_video(tmp_path):
    """Not a timing assertion (shared CI): prints the CPU times."""
    from mmaction.datasets.transforms import PyAVDecode, PyAVInit
    path = write_h264(tmp_path / 'long.mp4', num_frames=600, gop=30)
    inds = np.arange(520, 584, 4)
    c0 = time.process_time()
    ref = PyAVDecode().transform(PyAVInit().transform(
        dict(filename=path, frame_inds=inds.copy())))['imgs']
    t_mma = time.process_time() - c0
    c0 = time.process_time()
    ours = PyAVSeekReader(path).get_batch(inds)
    t_ours = time.process_time() - c0
    np.testing.assert_array_equal(ours, np.stack(ref))
    print(f'\n600-frame video, frames 520..580: mmaction PyAVDecode '
          f'{t_mma * 1e3:.0f} ms CPU, PyAVSeekReader {t_ours * 1e3:.0f} ms')


def test_loading_stage_of_videomae_dataset(h264, tmp_path):
    from mmmae.datasets import VideoMAEDataset
    path, _ = h264
    (tmp_path / 'bad.mp4').write_bytes(b'garbage' * 50)
    ann = tmp_path / 'ann.txt'
    ann.write_text(f'{path} 0\n{tmp_path / "bad.mp4"} 1\n')
    ds = VideoMAEDataset(
        str(ann),
        pipeline=[
            dict(type='mmmae.VideoInit'),
            dict(type='mmaction.SampleFrames', clip_len=4, frame_interval=2),
            dict(type='mmmae.VideoDecode'),
            dict(type='mmmae.MultiScaleCropResize', input_size=32),
            dict(type='mmaction.FormatShape', input_format='NCTHW'),
            dict(type='mmaction.PackActionInputs'),
        ])
    assert ds._num_loading == 3
    for i in range(4):
        assert tuple(ds[1]['inputs'].shape) == (1, 3, 4, 32, 32)
    # the unreadable file is flagged (reason wording is the dataset's)
    assert [f[0] for f in ds.load_failures] == [str(tmp_path / 'bad.mp4')]


def test_videomae_dataset_on_remote_prefix(h264, memory_backend, tmp_path):
    """The pretraining pipeline reads videos under a remote data prefix; a
    missing remote video is replaced and counted like a local one."""
    from mmmae.datasets import VideoMAEDataset
    path, frames = h264
    with open(path, 'rb') as f:
        memory_backend.files['mem://k400/a.mp4'] = f.read()
    ann = tmp_path / 'ann.txt'
    ann.write_text('a.mp4 0\ngone.mp4 1\n')
    ds = VideoMAEDataset(
        str(ann),
        data_prefix=dict(video='mem://k400'),
        pipeline=[
            dict(type='mmmae.VideoInit', backend='pyav'),
            dict(type='mmaction.SampleFrames', clip_len=4, frame_interval=2),
            dict(type='mmmae.VideoDecode'),
            dict(type='mmaction.FormatShape', input_format='NCTHW'),
            dict(type='mmaction.PackActionInputs'),
        ])
    clip = ds[0]['inputs']
    assert tuple(clip.shape) == (1, 3, 4, 48, 64)
    assert tuple(ds[1]['inputs'].shape) == (1, 3, 4, 48, 64)
    assert [(f[0], f[1]) for f in ds.load_failures] == [
        ('mem://k400/gone.mp4', 'missing')]


# ------------------------------------------------------------- fused crop
@pytest.mark.parametrize('kwargs', [
    dict(),
    dict(num_fixed_crops=5),
    dict(random_crop=True, scales=(1, .8)),
    dict(input_size=(40, 32), scales=(1, .875, .75, .66), max_wh_scale_gap=2),
])
@pytest.mark.parametrize('shape', [(48, 64), (80, 56)])
def test_fused_crop_equals_mmaction_crop_then_resize(kwargs, shape):
    from mmaction.datasets.transforms import MultiScaleCrop, Resize
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 256, (6, ) + shape + (3, ), dtype=np.uint8)
    kw = dict(input_size=24, scales=(1, .875, .75, .66), random_crop=False,
              max_wh_scale_gap=1, num_fixed_crops=13)
    kw.update(kwargs)
    size = kw['input_size']
    size = (size, size) if isinstance(size, int) else size
    ours_t = MultiScaleCropResize(**kw)
    mma = [MultiScaleCrop(**kw), Resize(scale=size, keep_ratio=False)]
    seen = set()
    for seed in range(12):
        random.seed(seed)
        ours = ours_t(dict(imgs=clip, img_shape=shape))
        random.seed(seed)
        ref = dict(imgs=list(clip), img_shape=shape)
        for t in mma:
            ref = t(ref)
        assert ours['imgs'].shape == (6, size[1], size[0], 3)
        np.testing.assert_array_equal(ours['imgs'], np.stack(ref['imgs']))
        for key in ('crop_bbox', 'crop_quadruple', 'scale_factor'):
            np.testing.assert_allclose(ours[key], ref[key], rtol=1e-6)
        assert ours['img_shape'] == ref['img_shape']
        assert ours['keep_ratio'] is False and ours['scales'] == kw['scales']
        seen.add(tuple(ours['crop_bbox']))
    assert len(seen) > 3  # the seeds did pick different crops


def test_fused_crop_accepts_frame_lists():
    clip = np.random.default_rng(1).integers(0, 256, (3, 40, 50, 3),
                                             dtype=np.uint8)
    t = MultiScaleCropResize(input_size=16)
    random.seed(0)
    a = t(dict(imgs=list(clip), img_shape=(40, 50)))['imgs']
    random.seed(0)
    b = t(dict(imgs=clip, img_shape=(40, 50)))['imgs']
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match='num_fixed_crops'):
        MultiScaleCropResize(num_fixed_crops=4)


# ------------------------------------------------------------ frame cache
def test_frame_cache_round_trip(h264, tmp_path):
    import cv2

    from mmmae.datasets import VideoMAEDataset
    from mmmae.datasets.frame_cache import cache_dataset, cache_video
    path, frames = h264
    shape = cache_video(path, str(tmp_path / 'full.npy'))
    assert shape == (60, 48, 64)
    np.testing.assert_array_equal(np.load(tmp_path / 'full.npy'), frames)

    small = cache_video(path, str(tmp_path / 'small.npy'), short_side=24)
    assert small == (60, 24, 32)
    expect = np.stack([
        cv2.resize(f, (32, 24), interpolation=cv2.INTER_AREA) for f in frames
    ])
    np.testing.assert_array_equal(np.load(tmp_path / 'small.npy'), expect)
    # never upscales
    assert cache_video(path, str(tmp_path / 'up.npy'), 100) == (60, 48, 64)

    # a dataset: annotation list in, annotation list of caches out
    vids = tmp_path / 'videos'
    (vids / 'a').mkdir(parents=True)
    import shutil
    shutil.copy(path, vids / 'a' / 'x.mp4')
    (vids / 'bad.mp4').write_bytes(b'broken' * 40)
    ann = tmp_path / 'list.txt'
    ann.write_text('a/x.mp4 3\nbad.mp4 1\n')
    out_ann, failed = cache_dataset(str(ann), str(vids),
                                    str(tmp_path / 'cache'))
    assert [f[0] for f in failed] == ['bad.mp4']
    assert open(out_ann).read() == 'a/x.npy 3\n'
    assert not osp.exists(tmp_path / 'cache' / 'bad.npy.tmp')

    # same sample from the cache and from the video under the same seeds
    tail = [
        dict(type='mmaction.SampleFrames', clip_len=8, frame_interval=2),
        dict(type='mmmae.VideoDecode'),
        dict(type='mmmae.MultiScaleCropResize', input_size=32),
        dict(type='mmaction.FormatShape', input_format='NCTHW'),
        dict(type='mmaction.PackActionInputs'),
    ]
    from_video = VideoMAEDataset(
        str(ann), data_prefix=dict(video=str(vids)),
        pipeline=[dict(type='mmmae.VideoInit')] + tail)
    from_cache = VideoMAEDataset(
        out_ann, data_prefix=dict(video=str(tmp_path / 'cache')),
        pipeline=[dict(type='mmmae.FrameCacheInit')] + tail, num_repeats=2)
    assert from_cache._num_loading == 3
    for seed in range(3):
        np.random.seed(seed)
        random.seed(seed)
        a = from_video[0]['inputs']
        np.random.seed(seed)
        random.seed(seed)
        views = from_cache[0]
        assert len(views) == 2
        np.testing.assert_array_equal(views[0]['inputs'].numpy(), a.numpy())


def test_frame_cache_rejects_wrong_arrays(tmp_path):
    np.save(tmp_path / 'f.npy', np.zeros((4, 8, 8), np.float32))
    with pytest.raises(ValueError, match='cache_frames.py'):
        FrameCacheInit().transform(dict(filename=str(tmp_path / 'f.npy')))


def test_cache_frames_tool(h264, tmp_path, capsys):
    from conftest import run_tool
    path, frames = h264
    ann = tmp_path / 'l.txt'
    ann.write_text(f'{osp.basename(path)}\n')
    rc = run_tool('tools/dataset_converters/cache_frames.py', ann,
                  osp.dirname(path), tmp_path / 'c', '--short-side', '0')
    assert rc == 0
    assert 'wrote' in capsys.readouterr().out
    np.testing.assert_array_equal(
        np.load(tmp_path / 'c' / 'gops.npy', mmap_mode='r'), frames)


def test_unsorted_distinct_indices_keep_their_order(tmp_path):
    """Two test clips give distinct but unsorted frame indices (0..28 then
    11..39): each frame must come back where its index stands."""
    frames = np.stack([np.full((4, 4, 3), i, np.uint8) for i in range(40)])

    class Reader:
        def get_batch(self, inds):
            return frames[np.asarray(inds)]

    inds = np.concatenate([np.arange(0, 29, 4), np.arange(11, 40, 4)])
    out, shape = video_decode.read_frames(Reader(), inds)
    assert out[:, 0, 0, 0].tolist() == inds.tolist() and shape == (4, 4)


@pytest.mark.parametrize('shape,bound', [((240, 320), 224), ((720, 1280), 320),
                                         ((1080, 1920), 256), ((101, 77), 50),
                                         ((96, 128), 96)])
def test_bounded_size_is_the_size_of_mmaction_resize(shape, bound):
    from mmaction.datasets.transforms import Resize
    out = Resize(scale=(-1, bound))(dict(imgs=[np.zeros(shape + (3, ),
                                                        np.uint8)],
                                         img_shape=shape))
    assert video_decode.bounded_size(*shape, bound) == out['img_shape']
    assert video_decode.bounded_size(*shape, None) == shape
    assert video_decode.bounded_size(*shape, max(shape)) == shape  # no upscale


@pytest.fixture(scope='module')
def h264_96x128(tmp_path_factory):
    path = write_h264(tmp_path_factory.mktemp('big') / 'big.mp4',
                      num_frames=30, size=(96, 128))
    return path, sequential_decode(path)


@pytest.mark.parametrize('backend', ['pyav', 'decord'])
def test_decode_bounds_the_short_side(h264_96x128, backend):
    """Frames come area-downsampled to the bound: decord's exactly as cv2's
    INTER_AREA of the full frames; PyAV's (swscale scales the luma and the
    subsampled chroma planes, then converts) with the same luma and chroma
    edges a few levels off."""
    import cv2
    from mmaction.datasets.transforms import SampleFrames
    path, full = h264_96x128
    out = _load([VideoInit(backend=backend),
                 SampleFrames(clip_len=8, frame_interval=3),
                 VideoDecode(max_short_side=48)], path, seed=1)
    assert out['video_backend'] == backend
    assert out['imgs'].shape == (8, 48, 64, 3)
    assert out['img_shape'] == (48, 64)
    assert out['original_shape'] == (96, 128)
    ref = video_decode.bound_short_side(full[out['frame_inds']], 48)
    diff = np.abs(out['imgs'].astype(int) - ref)
    if backend == 'decord':
        assert diff.max() == 0
    else:
        def luma(frames):
            return np.stack([
                cv2.cvtColor(f, cv2.COLOR_RGB2YUV)[..., 0] for f in frames
            ]).astype(int)

        assert np.abs(luma(out['imgs']) - luma(ref)).mean() < 1
        assert diff.mean() < 8, diff.mean()
        # not a crop or a shift: far from the frames of another time
        other = video_decode.bound_short_side(full[out['frame_inds'] - 1],
                                              48)
        assert diff.mean() < 0.5 * np.abs(out['imgs'].astype(int) -
                                          other).mean()


def test_bound_above_the_short_side_is_a_no_op(h264_96x128):
    path, full = h264_96x128
    inds = np.array([3, 17, 29, 0])
    for bound in (96, 500):
        reader = PyAVSeekReader(path)
        np.testing.assert_array_equal(
            reader.get_batch(inds, max_short_side=bound), full[inds])
    assert reader.source_shape == (96, 128)
    with pytest.raises(ValueError, match='max_short_side'):
        VideoDecode(max_short_side=0)


def test_bounded_decode_on_the_device_path(h264_96x128):
    """With the bound, the lazy transforms draw their boxes on the bounded
    frames and the device applies them as the eager transforms do."""
    import torch
    from mmaction.datasets.transforms import (MultiScaleCrop, Resize,
                                              SampleFrames)

    from mmmae.datasets.transforms import PackLazyActionInputs
    from mmmae.models.data_preprocessors import apply_lazy_geometry
    path, _ = h264_96x128

    def pipeline(lazy):
        tail = [PackLazyActionInputs(crop=False)] if lazy else []
        return [VideoInit(backend='pyav'),
                SampleFrames(clip_len=4, frame_interval=2),
                VideoDecode(max_short_side=48),
                MultiScaleCrop(32, scales=(1, .875, .75), lazy=lazy),
                Resize(scale=(24, 24), keep_ratio=False, lazy=lazy)] + tail

    eager = _load(pipeline(False), path, seed=5)
    packed = _load(pipeline(True), path, seed=5)
    sample = packed['data_samples']
    assert tuple(packed['inputs'].shape) == (4, 48, 64, 3)
    out = apply_lazy_geometry([packed['inputs']], [sample.lazy_aug],
                              torch.device('cpu'))
    got = out[0].permute(1, 2, 3, 0).round().clamp(0, 255).numpy()
    diff = np.abs(got - np.stack(eager['imgs']).astype(np.float32))
    assert diff.max() <= 1, diff.max()
