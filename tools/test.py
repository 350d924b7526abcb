# Copyright (c) mmmae contributors. All rights reserved.
"""Test (evaluate) a checkpoint with a config, MMAction2-style.

Pretraining configs have no ``test_dataloader``; for them this tool says so
and points at ``tools/visualize_reconstruction.py`` instead.
"""
import argparse
import copy
import os
import os.path as osp
import sys

import mmmae  # noqa: F401,I001  (compat patches + registries first)

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mmmae.engine.model_wrappers import setup_cpu_distributed


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


def merge_args(cfg, args):
    """Merge CLI arguments into the config (MMAction2 semantics)."""
    cfg.launcher = args.launcher

    # work_dir: CLI > config file > ./work_dirs/<config stem>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    # -------------------- visualization --------------------
    if args.show or (args.show_dir is not None):
        assert 'visualization' in cfg.default_hooks, \
            'VisualizationHook is not set in the `default_hooks` field of ' \
            'config. Please set `visualization=dict(type="VisualizationHook")`'
        cfg.default_hooks.visualization.enable = True
        cfg.default_hooks.visualization.show = args.show
        cfg.default_hooks.visualization.wait_time = args.wait_time
        cfg.default_hooks.visualization.out_dir = args.show_dir
        cfg.default_hooks.visualization.interval = args.interval

    # -------------------- Dump predictions --------------------
    if args.dump is not None:
        assert args.dump.endswith(('.pkl', '.pickle')), \
            'The dump file must be a pkl file.'
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        if isinstance(cfg.test_evaluator, (list, tuple)):
            cfg.test_evaluator = list(cfg.test_evaluator)
            cfg.test_evaluator.append(dump_metric)
        else:
            cfg.test_evaluator = [cfg.test_evaluator, dump_metric]

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    return cfg


def has_test_loop(cfg) -> bool:
    return all(
        cfg.get(key, None) is not None
        for key in ('test_dataloader', 'test_cfg', 'test_evaluator'))


def main():
    args = parse_args()

    cfg = Config.fromfile(args.config)
    # a test loop may also come from --cfg-options
    probe = copy.deepcopy(cfg)
    if args.cfg_options is not None:
        probe.merge_from_dict(args.cfg_options)
    if not has_test_loop(probe):
        print(
            f'{args.config} has no test loop (test_dataloader/test_cfg/'
            'test_evaluator are unset): it is a pretraining config, and '
            'masked-autoencoder pretraining has nothing to evaluate. '
            'Use tools/visualize_reconstruction.py to look at '
            'reconstructions, or evaluate the backbone with a fine-tuning '
            'config (see configs/videomae/README.md).',
            file=sys.stderr)
        sys.exit(2)
    cfg = merge_args(cfg, args)
    cfg.load_from = args.checkpoint
    cfg = setup_cpu_distributed(cfg)

    # build the runner from config
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        from mmmae.registry import RUNNERS
        runner = RUNNERS.build(cfg)

    # start testing
    runner.test()


if __name__ == '__main__':
    main()
