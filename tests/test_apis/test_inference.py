# Copyright (c) mmmae contributors. All rights reserved.
"""mmmae.apis.init_model / inference_recognizer / quiet_init_weights on the
moving-digits fine-tuning config (shrunk) and a real mp4."""
import copy
import logging

import pytest
import torch
from mmengine.config import Config

from _apis_helpers import (decode_resize_crop, normalise,
                           tiny_recognizer_cfg)
from conftest import random_video, write_mp4
from mmmae.apis import (InputError, inference_recognizer, init_model,
                        quiet_init_weights)

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


@pytest.fixture(scope='module')
def recognizer(tmp_path_factory):
    """(config, checkpoint of non-default weights, the weights, a video)."""
    root = tmp_path_factory.mktemp('apis_recognizer')
    cfg = tiny_recognizer_cfg()
    torch.manual_seed(0)
    ref = init_model(cfg)
    with torch.no_grad():  # far from any init, so a skipped load shows
        for p in ref.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    state = {k: v.clone() for k, v in ref.state_dict().items()}
    ckpt = str(root / 'finetuned.pth')
    torch.save({'state_dict': state, 'meta': {}}, ckpt)
    video = write_mp4(str(root / 'clip.mp4'), random_video(40, (48, 64), 3))
    return dict(cfg=cfg, ckpt=ckpt, state=state, video=video)


def test_init_model(recognizer, tmp_path):
    from mmengine.registry import DefaultScope
    cfg = recognizer['cfg']
    model = init_model(cfg, recognizer['ckpt'],
                       cfg_options={'model.cls_head.dropout_ratio': 0.5})
    assert type(model).__name__ == 'Recognizer3D' and not model.training
    # the config's scope (mmaction) is current; the caller's cfg unchanged
    assert DefaultScope.get_current_instance().scope_name == 'mmaction'
    assert model.cfg.model.cls_head.dropout_ratio == 0.5
    assert cfg.model.cls_head.dropout_ratio == 0.
    loaded = model.state_dict()
    for k, v in recognizer['state'].items():
        torch.testing.assert_close(loaded[k], v, msg=k)
    # without a checkpoint: the constructors' weights, not the file's
    fresh = init_model(cfg).state_dict()
    key = 'backbone.blocks.0.mlp.layers.0.0.weight'
    key = key if key in fresh else next(k for k in fresh if 'blocks.0' in k)
    assert not torch.equal(fresh[key], recognizer['state'][key])
    # a config path works as well
    path = str(tmp_path / 'cfg.py')
    cfg.dump(path)
    assert type(init_model(path)).__name__ == 'Recognizer3D'
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        init_model(cfg, str(tmp_path / 'nope.pth'))
    with pytest.raises(InputError, match='no `model`'):
        init_model(Config(dict(default_scope='mmmae')))


def _by_hand(model, video, num_clips):
    """Scores of the fine-tuning test pipeline recomputed without it:
    SampleFrames (test mode) indices, decord, short side 64, ThreeCrop
    (x = 0, 10, 20 of 85), ImageNet normalisation, prob averaging."""
    from mmaction.datasets.transforms import SampleFrames
    inds = SampleFrames(clip_len=8, frame_interval=4, num_clips=num_clips,
                        test_mode=True)(dict(total_frames=40,
                                             start_index=0))['frame_inds']
    frames = decode_resize_crop(video, inds, 64)
    assert frames.shape == (8 * num_clips, 64, 85, 3)  # 48x64 -> 64x85
    views = [
        normalise(frames[8 * c:8 * c + 8, :, x:x + 64], MEAN, STD)
        for c in range(num_clips) for x in (0, 10, 20)
    ]
    with torch.no_grad():
        logits = model.cls_head.fc_cls(model.backbone(torch.cat(views)))
    return logits.softmax(-1).mean(0)


def test_inference_recognizer_matches_manual(recognizer):
    """The config's test pipeline (mmmae.VideoInit/VideoDecode, resize,
    ThreeCrop) and the head's prob averaging, against a hand computation
    (one clip; two below)."""
    cfg = copy.deepcopy(recognizer['cfg'])
    cfg.test_pipeline[1]['num_clips'] = 1
    model = init_model(cfg, recognizer['ckpt'])
    result = inference_recognizer(model, recognizer['video'])
    score = result.pred_score.cpu()
    assert score.shape == (6, )
    assert float(score.sum()) == pytest.approx(1.0, abs=1e-5)
    assert int(result.pred_label) == int(score.argmax())
    torch.testing.assert_close(score, _by_hand(model, recognizer['video'], 1),
                               atol=1e-5, rtol=0)
    # the pipeline's input dict works as well
    again = inference_recognizer(
        model, dict(filename=recognizer['video'], label=-1, start_index=0,
                    modality='RGB'))
    torch.testing.assert_close(again.pred_score.cpu(), score)
    with pytest.raises(FileNotFoundError):
        inference_recognizer(model, recognizer['video'] + '.missing')


def test_extract_features_of_a_recognizer(recognizer):
    """A fine-tuned Recognizer3D: its mean-pooling backbone (fc_norm) and
    its ActionDataPreprocessor's mean/std."""
    from mmmae.apis import extract_features, window_frame_indices
    model = init_model(recognizer['cfg'], recognizer['ckpt'])
    # 40 frames, 8 x 4 = 32 per window, stride 16: windows at 0 and 16
    feats = extract_features(model, recognizer['video'], stride=16)
    assert feats.shape == (2, 32)
    for w, start in enumerate((0, 16)):
        idx = window_frame_indices([start], 40, 8, 4)[0]
        clip = decode_resize_crop(recognizer['video'], idx, 64, 64)
        with torch.no_grad():
            ref = model.backbone(normalise(clip, MEAN, STD))[0]
        torch.testing.assert_close(torch.from_numpy(feats[w]), ref,
                                   atol=1e-5, rtol=0)


def test_inference_recognizer_two_clips(recognizer):
    """Two test clips (frames 0..28 then 11..39: distinct, not sorted);
    VideoDecode once returned them in sorted order, mixing the clips."""
    model = init_model(recognizer['cfg'], recognizer['ckpt'])
    score = inference_recognizer(model, recognizer['video']).pred_score
    torch.testing.assert_close(score.cpu(),
                               _by_hand(model, recognizer['video'], 2),
                               atol=1e-5, rtol=0)


class _Records(logging.Handler):
    """Collects the messages of a logger (its own stream handlers write to
    whatever stdout was when they were made, out of capsys' reach)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())

    def text(self):
        out, self.lines = '\n'.join(self.lines), []
        return out


def test_quiet_init_weights():
    from mmengine.logging import MMLogger

    from mmmae.models.backbones.videomae_vit import VideoMAEViT

    def tiny():
        return VideoMAEViT(arch=dict(embed_dims=16, num_layers=1,
                                     num_heads=2, feedforward_channels=32),
                           img_size=16, patch_size=8, num_frames=2)

    logger = MMLogger.get_current_instance()
    level = logger.level
    records = _Records()
    logger.addHandler(records)
    logger.setLevel(logging.INFO)
    try:
        # what it hides: a plain call logs every parameter at INFO
        tiny().init_weights()
        assert 'blocks.0' in records.text()
        bb = tiny()
        before = {k: v.clone() for k, v in bb.state_dict().items()}
        assert quiet_init_weights(bb) is bb
        assert 'blocks.0' not in records.text()
        assert logger.level == logging.INFO  # restored
        assert any(not torch.equal(v, before[k])
                   for k, v in bb.state_dict().items())  # it did initialise
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)
