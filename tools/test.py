# Copyright (c) mmmae contributors. All rights reserved.
"""Test (evaluate) a checkpoint with a config, MMAction2-style.

Pretraining configs have no ``test_dataloader``; for them this tool says so
and points at ``tools/visualize_reconstruction.py`` instead.
"""
import argparse
import os
import sys

import mmmae  # noqa: F401,I001  (compat patches + registries first)

from mmengine.config import DictAction

from mmmae.apis.runner import (NoTestLoopError, build_runner,
                               prepare_test_config)
from mmmae.utils.cli import run_cli


def parse_args():
    parser = argparse.ArgumentParser(
        description='Test (and eval) a model (mmmae)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--dump',
        type=str,
        help='dump predictions to a pickle file for offline evaluation')
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
        '--show-dir',
        help='directory where the visualization images will be saved.')
    parser.add_argument(
        '--show',
        action='store_true',
        help='whether to display the prediction results in a window.')
    parser.add_argument(
        '--interval',
        type=int,
        default=1,
        help='visualize per interval samples.')
    parser.add_argument(
        '--wait-time',
        type=float,
        default=2,
        help='display time of every window. (second)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main() -> int:
    args = parse_args()
    options = vars(args)
    config, checkpoint = options.pop('config'), options.pop('checkpoint')
    options.pop('local_rank')

    def work():
        build_runner(prepare_test_config(config, checkpoint,
                                         **options)).test()

    # a pretraining config: say so (exit 2), no traceback
    return run_cli(work, NoTestLoopError, status=2, prefix='')


if __name__ == '__main__':
    sys.exit(main())
