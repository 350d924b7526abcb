# Copyright (c) mmmae contributors. All rights reserved.
"""Cross-modal predictions of a tiny multi-modal video MAE on rendered
scene videos (real mp4s, exact depth and classes), drawn to PNG: the grid,
the grey hidden tubes, the truth tiles against the files, the metrics and
the command line."""
import json
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch

from conftest import REPO_ROOT, run_tool
from mmmae.apis import (InputError, build_video_pipeline,
                        init_multimae_model, open_video_split,
                        predict_video_cross_modal, video_mae_geometry,
                        visualize_multimodal_video)
from mmmae.visualization import MASK_GREY, colorize_depth, depth_range
from mmmae.visualization.multimodal_video import (NO_DEPTH_COLOR,
                                                  standardization_stats,
                                                  unnormalize_tubes)

sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'test_models'))
from _multimodal_video_helpers import video_mae_cfg  # noqa: E402

T_FILE, S = 8, 32  # clips on disk: 8 frames of 32 x 32
FRAME_INDS = [0, 2, 4, 6]  # clip_len 4, interval 2, test mode: 8 frames
SHOWN = [0, 2, 3]  # select_frames(4, 3)
TOOL = 'tools/visualize_multimodal_video.py'


def _write_config(path: str) -> str:
    """The model plus a val pipeline whose sampler and crop are random:
    the visualisation must make them deterministic."""
    val = dict(dataset=dict(type='mmmae.MultiModalVideoDataset', pipeline=[
        dict(type='mmmae.VideoInit', backend='pyav'),
        dict(type='SampleFrames', clip_len=4, frame_interval=2,
             num_clips=3),
        dict(type='mmmae.VideoDecode'),
        dict(type='mmmae.LoadMultiModalVideo'),
        dict(type='mmmae.MultiModalVideoRandomResizedCrop', size=32),
        dict(type='mmmae.MultiModalTubeMaskGenerator', grid=(2, 4, 4),
             num_visible=16),
        dict(type='mmmae.PackMultiModalVideoInputs'),
    ]))
    with open(path, 'w') as f:
        f.write(f'model = {video_mae_cfg()!r}\nval_dataloader = {val!r}\n')
    return path


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    from mmmae.apis import quiet_init_weights
    from mmmae.datasets.demo import make_scene_video_dataset
    from mmmae.registry import MODELS
    tmp = tmp_path_factory.mktemp('mm_video_vis')
    root = make_scene_video_dataset(str(tmp / 'sv'), num_train=1, num_val=2,
                                    num_frames=T_FILE, size=S)['root']
    cfg = _write_config(str(tmp / 'video_mae.py'))
    torch.manual_seed(0)
    model = quiet_init_weights(MODELS.build(video_mae_cfg()))
    ckpt = str(tmp / 'random.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    records = visualize_multimodal_video(cfg, ckpt, root, str(tmp / 'out'),
                                         max_clips=2, frames_shown=3,
                                         device='cpu')
    return dict(tmp=tmp, root=root, cfg=cfg, ckpt=ckpt, records=records)


def _tiles(png: str, layout: dict) -> dict:
    """``(row, col) -> (H, W, 3)`` RGB tile at data resolution."""
    img = cv2.imread(png, cv2.IMREAD_COLOR)[..., ::-1]
    k = layout['scale']
    return {
        rc: img[y:y + h:k, x:x + w:k]
        for rc, (y, x, h, w) in layout['tiles'].items()
    }


def _rgb_frames(root: str, name: str) -> np.ndarray:
    from mmmae.datasets.transforms.video_decode import VideoDecode, VideoInit
    res = VideoInit(backend='pyav')(
        dict(filename=osp.join(root, 'val', 'rgb', name + '.mp4')))
    res['frame_inds'] = np.asarray(FRAME_INDS)
    return VideoDecode()(res)['imgs']


def _npz(root: str, modality: str, name: str) -> np.ndarray:
    path = osp.join(root, 'val', modality, name + '.npz')
    return np.load(path)['frames'][FRAME_INDS]


def test_png_grid_hidden_tubes_and_truth(env):
    """9 rows (input / prediction / truth of rgb, depth, semseg) x 3 frame
    columns; hidden depth and semseg inputs are flat grey; the truth tiles
    are the files' frames, coloured exactly."""
    records = env['records']
    assert [r['clip'] for r in records] == ['000000', '000001']
    for rec in records:
        layout = rec['layout']
        assert osp.basename(rec['png']) == rec['clip'] + '_vis-rgb.png'
        assert rec['frame_inds'] == FRAME_INDS
        assert layout['frames'] == SHOWN
        assert layout['rows'] == [
            'rgb input (grey = hidden)', 'rgb prediction (GT tube mean/std)',
            'rgb truth', 'depth input (grey = hidden)', 'depth prediction',
            'depth truth', 'semseg input (grey = hidden)',
            'semseg prediction', 'semseg truth'
        ]
        img = cv2.imread(rec['png'])
        y, x, h, w = layout['tiles'][(8, 2)]
        assert layout['scale'] == 4 and (h, w) == (4 * S, 4 * S)
        assert sorted(layout['tiles']) == [(r, c) for r in range(9)
                                           for c in range(3)]
        assert img.shape[1] == x + w + 2  # the last column, one gap
        assert img.shape[0] > y + h
        assert not rec['masks']['rgb'].any()
        assert rec['masks']['depth'].all() and rec['masks']['semseg'].all()
        assert rec['masks']['rgb'].shape == (2, 4, 4)

        tiles = _tiles(rec['png'], layout)
        rgb = _rgb_frames(env['root'], rec['clip'])
        raw_depth = _npz(env['root'], 'depth', rec['clip'])
        ids = _npz(env['root'], 'semseg', rec['clip'])
        depth = raw_depth.astype(np.float32) / np.float32(1000.)
        depth[raw_depth == 65535] = np.nan
        assert (raw_depth == 65535).any()  # sky: drawn black
        vmin, vmax, unit = layout['depth_range']['depth']
        assert unit == 'm'
        assert (vmin, vmax) == pytest.approx(depth_range(depth, 10., 90.))
        with open(osp.join(env['root'], 'classes.json')) as f:
            palette = [tuple(c) for c in json.load(f)['palette']]
        for c, f in enumerate(SHOWN):
            np.testing.assert_array_equal(tiles[(0, c)], rgb[f])  # visible
            np.testing.assert_array_equal(tiles[(2, c)], rgb[f])
            for row in (3, 6):  # depth, semseg inputs: every tube hidden
                assert (tiles[(row, c)] == MASK_GREY).all()
            want = colorize_depth(depth[f], vmin, vmax)
            want[np.isnan(depth[f])] = NO_DEPTH_COLOR
            np.testing.assert_array_equal(tiles[(5, c)], want)
            np.testing.assert_array_equal(tiles[(8, c)],
                                          np.asarray(palette)[ids[f]])
            pred = {tuple(p) for p in tiles[(7, c)].reshape(-1, 3)}
            assert pred <= set(palette)  # argmax through the palette


def test_metrics_are_the_hidden_tube_errors(env):
    """The record's metrics are the errors of the returned prediction on
    the hidden tubes, depth in metres through the clip's statistics."""
    from mmmae.models.data_preprocessors.multimodal_preprocessor import \
        truncated_standardize
    rec = env['records'][0]
    assert sorted(rec['metrics']) == ['depth_absrel', 'depth_l1',
                                      'semseg_acc']
    model = init_multimae_model(env['cfg'], env['ckpt'])
    geom = video_mae_geometry(model)
    ds = open_video_split(env['root'], 'val', geom)
    res = predict_video_cross_modal(model, ds.get_data_info(0), ('rgb', ),
                                    build_video_pipeline(model.cfg, geom),
                                    geom)
    assert res['given'] == ['rgb', 'depth', 'semseg']
    assert res['preds']['semseg'].shape == (6, 4, S // 4, S // 4)
    assert res['inputs']['semseg'].shape == (4, S // 4, S // 4)
    assert res['clip']['semseg'].shape == (4, S, S)  # truth: full size
    # the statistics the preprocessor used, recovered from its output
    packed = torch.nan_to_num(res['clip']['depth'], nan=0.0)
    mean, std = standardization_stats(packed, res['inputs']['depth'])
    torch.testing.assert_close(truncated_standardize(packed[None])[0],
                               (packed - mean) / std, atol=1e-4, rtol=1e-4)
    pred_m = res['preds']['depth'][0].numpy() * std + mean
    truth = res['clip']['depth'][0].numpy()
    ok = np.isfinite(truth) & (truth > 0)
    err = np.abs(pred_m - truth)[ok]
    assert rec['metrics']['depth_l1'] == pytest.approx(err.mean(), rel=1e-4)
    assert rec['metrics']['depth_absrel'] == pytest.approx(
        (err / truth[ok]).mean(), rel=1e-4)
    up = res['preds']['semseg'].argmax(0).repeat_interleave(4, 1)
    up = up.repeat_interleave(4, 2).numpy()
    acc = (up == res['clip']['semseg'].numpy()).mean()
    assert rec['metrics']['semseg_acc'] == pytest.approx(acc)


def test_partial_visible_tubes(env, tmp_path):
    """``rgb:0.5 depth:0.25``: tube masks (one pattern in every slot), the
    visible depth cells drawn as truth and the rest grey, rgb errors."""
    records = visualize_multimodal_video(
        env['cfg'], env['ckpt'], env['root'], str(tmp_path),
        visible=('rgb:0.5', 'depth:0.25'), max_clips=1, frames_shown=3,
        device='cpu')
    rec = records[0]
    assert osp.basename(rec['png']) == '000000_vis-rgb0.5-depth0.25-seed0.png'
    masks = rec['masks']
    assert int((~masks['rgb'][0]).sum()) == 8
    assert int((~masks['depth'][0]).sum()) == 4
    assert masks['semseg'].all()
    for m in masks.values():
        assert (m == m[:1]).all()  # a tube mask
    assert {'rgb_mse', 'rgb_z_mse', 'depth_absrel', 'semseg_acc'} <= set(
        rec['metrics'])
    tiles = _tiles(rec['png'], rec['layout'])
    hidden = masks['depth'][0].repeat(8, 0).repeat(8, 1)
    for c in range(3):
        inp, truth = tiles[(3, c)], tiles[(5, c)]
        assert (inp[hidden] == MASK_GREY).all()
        np.testing.assert_array_equal(inp[~hidden], truth[~hidden])


def test_default_pipeline_without_config_pipelines(env):
    """A config with a model only: VideoInit (decord) and the centre clip
    of ``num_frames`` consecutive frames."""
    from mmengine.config import Config
    model = init_multimae_model(Config(dict(model=video_mae_cfg())), 'none')
    geom = video_mae_geometry(model)
    pipeline = build_video_pipeline(model.cfg, geom)
    info = open_video_split(env['root'], 'val', geom).get_data_info(1)
    res = predict_video_cross_modal(model, info, pipeline=pipeline)
    assert list(res['frame_inds']) == [2, 3, 4, 5]
    assert res['name'] == '000001' and res['thw'] == (4, S, S)
    assert res['clip']['rgb'].dtype == torch.uint8
    # an already packed clip gives the same prediction
    packed = predict_video_cross_modal(model, pipeline(dict(info)))
    for task, pred in res['preds'].items():
        torch.testing.assert_close(packed['preds'][task], pred, msg=task)


def test_unnormalize_tubes_inverts_the_norm_pix_target():
    from mmmae.models.losses.multimae_losses import norm_pix_target
    clip = torch.randn(3, 4, 16, 16, dtype=torch.float64)
    z = norm_pix_target(clip[None], 8, tubelet=2)[0]
    torch.testing.assert_close(unnormalize_tubes(z, clip, 8, 2), clip)


def test_errors_name_the_culprit(env, tmp_path):
    model = init_multimae_model(env['cfg'], 'none')
    geom = video_mae_geometry(model)
    assert geom['grid'] == (2, 4, 4) and geom['num_classes'] == {'semseg': 6}
    info = open_video_split(env['root'], 'val', geom).get_data_info(0)
    with pytest.raises(InputError, match='normals'):
        predict_video_cross_modal(model, info, visible=('normals', ))
    with pytest.raises(InputError, match='nothing is visible'):
        predict_video_cross_modal(model, info, visible=())
    with pytest.raises(InputError, match='test.txt'):
        open_video_split(env['root'], 'test', geom)
    missing = dict(info, filename=str(tmp_path / 'gone.mp4'))
    with pytest.raises(InputError, match='gone.mp4'):
        predict_video_cross_modal(model, missing)
    with pytest.raises(InputError, match='nowhere'):
        visualize_multimodal_video(env['cfg'], 'none',
                                   str(tmp_path / 'nowhere'),
                                   str(tmp_path / 'out'))


def test_command_line(env, tmp_path, capsys):
    out = tmp_path / 'cli'
    assert run_tool(TOOL, env['cfg'], 'none', env['root'], '--out', out,
                    '--max-clips', 1, '--frames', 2, '--device', 'cpu') == 0
    assert (out / '000000_vis-rgb.png').is_file()
    assert 'hidden tubes: depth_absrel' in capsys.readouterr().out
    missing = tmp_path / 'no_data'
    assert run_tool(TOOL, env['cfg'], 'none', missing, '--out', out) == 2
    assert f'data root {missing} does not exist' in capsys.readouterr().err
