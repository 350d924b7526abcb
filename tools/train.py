# Copyright (c) mmmae contributors. All rights reserved.
"""Train (pretrain) a model from a config, MMAction2-style.

Examples::

    python tools/train.py configs/videomae/videomae_vit-tiny-p8_1xb8-30e_moving-digits.py
    python tools/train.py CONFIG --amp --resume            # auto-resume
    bash tools/dist_train.sh CONFIG 8 --amp                 # 8 GPUs

On a machine without CUDA, ``--amp`` uses bfloat16 CPU autocast
(``mmmae.CPUAmpOptimWrapper``) and a distributed launcher uses the gloo
backend with ``mmmae.CPUDistributedDataParallel``.
FSDP / DeepSpeed configs (``runner_type = 'FlexibleRunner'``) use the same
launchers, and ``auto_scale_lr`` counts gradient accumulation
(``mmmae.engine.account_grad_accumulation``); see docs/distributed.md.
"""
import argparse
import copy
import logging
import os
import os.path as osp

import mmmae  # noqa: F401,I001  (compat patches + registries first)

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

from mmmae.engine.fsdp import setup_cpu_fsdp
from mmmae.engine.lr_scaling import account_grad_accumulation
from mmmae.engine.model_wrappers import setup_cpu_distributed
from mmmae.engine.schedule_rescale import follow_train_length


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model (mmmae)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not '
        'specify, try to auto resume from the latest checkpoint '
        'in the work directory.')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training (fp16 with dynamic '
        'loss scale on CUDA, bfloat16 autocast on CPU)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='whether not to evaluate the checkpoint during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='whether to auto scale the learning rate according to the '
        'actual batch size and the original batch size '
        '(needs `auto_scale_lr` in the config)')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument(
        '--diff-rank-seed',
        action='store_true',
        help='whether or not set different seeds for different ranks')
    parser.add_argument(
        '--deterministic',
        action='store_true',
        help='deterministic algorithms (CUDNN) and bit-exact resumable '
        'training: resume after a kill at any iteration reproduces the '
        'uninterrupted run (mmmae.engine.make_resumable; docs/resume.md). '
        'Same as `resumable = True` in the config')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # When using PyTorch version >= 2.0.0, the `torch.distributed.launch`
    # will pass the `--local-rank` parameter to `tools/train.py` instead
    # of `--local_rank`.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Merge CLI arguments into the config (MMAction2 semantics)."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    cfg.launcher = args.launcher

    # work_dir: CLI > config file > ./work_dirs/<config stem>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    # mixed precision (on CPU, fix_amp_on_cpu swaps in bf16 autocast)
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        assert optim_wrapper in ('OptimWrapper', 'AmpOptimWrapper',
                                 'mmmae.CPUAmpOptimWrapper'), \
            '`--amp` is not supported custom optimizer wrapper type ' \
            f'`{optim_wrapper}.'
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    # resume training
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    # enable auto scale learning rate
    if args.auto_scale_lr:
        if cfg.get('auto_scale_lr', None) is None:
            raise KeyError(
                f'`--auto-scale-lr` needs `auto_scale_lr` in the config '
                f'({args.config}), e.g. `auto_scale_lr = dict(enable=True, '
                'base_batch_size=256)` where base_batch_size is the total '
                'batch size the config lr is meant for.')
        cfg.auto_scale_lr.enable = True

    # set random seeds (only when the config has none)
    if cfg.get('randomness', None) is None:
        cfg.randomness = dict(
            seed=args.seed,
            diff_rank_seed=args.diff_rank_seed,
            deterministic=args.deterministic)

    if args.cfg_options is not None:
        base_cfg = copy.deepcopy(cfg)
        cfg.merge_from_dict(args.cfg_options)
        # max_epochs/max_iters overrides move the schedulers' `end` too
        cfg = follow_train_length(cfg, base_cfg, args.cfg_options)

    # bit-exact resume: resumable loop + sampler, per-sample RNG seeding,
    # RNG states in checkpoints (docs/resume.md)
    if args.deterministic or cfg.get('resumable', False):
        from mmmae.engine.resumable import make_resumable
        cfg = make_resumable(cfg)

    return cfg


def fix_amp_on_cpu(cfg):
    """Without CUDA, swap ``AmpOptimWrapper`` (which asserts CUDA) for
    ``mmmae.CPUAmpOptimWrapper``: bfloat16 CPU autocast, no loss scaling."""
    if torch.cuda.is_available() or cfg.get('optim_wrapper', None) is None:
        return cfg
    if cfg.optim_wrapper.get('type', None) in ('AmpOptimWrapper',
                                               'mmengine.AmpOptimWrapper'):
        print_log(
            'AmpOptimWrapper needs CUDA; training with bfloat16 CPU '
            'autocast (mmmae.CPUAmpOptimWrapper) instead.',
            logger='current',
            level=logging.WARNING)
        cfg.optim_wrapper.type = 'mmmae.CPUAmpOptimWrapper'
        cfg.optim_wrapper.pop('loss_scale', None)
        if cfg.optim_wrapper.get('dtype', None) not in ('bfloat16', 'float16'):
            cfg.optim_wrapper.dtype = 'bfloat16'
    return cfg


def main():
    args = parse_args()

    # load config
    cfg = Config.fromfile(args.config)

    # merge cli arguments to config
    cfg = merge_args(cfg, args)
    cfg = fix_amp_on_cpu(cfg)
    cfg = setup_cpu_distributed(cfg)
    cfg = setup_cpu_fsdp(cfg)
    # auto_scale_lr counts accumulated micro-batches (mmmae/engine/lr_scaling)
    cfg = account_grad_accumulation(cfg)

    # build the runner from config
    if 'runner_type' not in cfg:
        # build the default runner
        runner = Runner.from_cfg(cfg)
    else:
        # build customized runner from the registry
        # if 'runner_type' is set in the cfg
        from mmmae.registry import RUNNERS
        runner = RUNNERS.build(cfg)

    # start training
    runner.train()


if __name__ == '__main__':
    main()
