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
import os

import mmmae  # noqa: F401,I001  (compat patches + registries first)

from mmengine.config import DictAction

from mmmae.apis.runner import build_runner, prepare_train_config


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


def main():
    args = parse_args()
    options = vars(args)
    config = options.pop('config')
    options.pop('local_rank')
    cfg = prepare_train_config(config, **options)
    build_runner(cfg).train()


if __name__ == '__main__':
    main()
