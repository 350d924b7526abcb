# Copyright (c) mmmae contributors. All rights reserved.
"""Write reconstruction pictures of a fixed set of clips during training."""
import os.path as osp
from typing import List, Optional

from mmengine.dataset import pseudo_collate
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmmae.registry import HOOKS
from mmmae.visualization import (infer_token_geometry, masked_mse,
                                 predict_reconstructions, predicted_pixels,
                                 save_reconstruction, seeded, unwrap_model)

__all__ = ['ReconstructionVisHook']


@HOOKS.register_module()
class ReconstructionVisHook(Hook):
    """Save ``original | masked | recon (raw) | recon (GT stats)`` PNGs.

    The first ``num_samples`` samples of the chosen dataset are loaded once,
    through the dataset pipeline (which includes the mask generator), with
    the numpy/``random``/torch RNGs temporarily seeded by ``seed``. So the
    clips, crops and masks are the same at every epoch and the pictures are
    comparable. At the chosen epochs the (unwrapped) model runs
    ``data_preprocessor`` and ``predict`` under ``torch.no_grad()`` in eval
    mode (train mode is restored), and rank 0 writes
    ``{out_dir}/epoch_{E}_sample_{i}.png`` (``iter_{I}`` when
    ``by_epoch=False``; ``_view_{v}`` is appended when a sample holds several
    views) and logs the paths with the masked-patch MSE of both views.

    The fourth column un-normalizes the prediction with the ground-truth
    mean/std of every hidden patch, as the official visualization does: it
    leaks the answer and looks better than the model is. The third column is
    the honest one.

    Args:
        interval (int): every how many epochs (iterations when
            ``by_epoch=False``). The last epoch is always drawn. Defaults to 1.
        num_samples (int): clips to draw. Defaults to 2.
        out_dir (str, optional): output folder. Defaults to
            ``{work_dir}/reconstructions``.
        dataloader (str): ``'train'``, ``'val'`` or ``'test'``: whose dataset
            to take clips from. Pretraining configs usually have only a train
            loader. Defaults to ``'train'``.
        seed (int): seed used while loading the clips. Defaults to 0.
        num_frames_shown (int, optional): frames (rows) per image. Defaults
            to None (up to 8, evenly spaced).
        by_epoch (bool): draw after epochs (True) or iterations.
            Defaults to True.
        patch_size (int, optional): override the value read from the model.
        tubelet_size (int, optional): override the value read from the model.
        add_to_visualizer (bool): also send the images to
            ``runner.visualizer.add_image`` (e.g. TensorBoard).
            Defaults to False.
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 1,
                 num_samples: int = 2,
                 out_dir: Optional[str] = None,
                 dataloader: str = 'train',
                 seed: int = 0,
                 num_frames_shown: Optional[int] = None,
                 by_epoch: bool = True,
                 patch_size: Optional[int] = None,
                 tubelet_size: Optional[int] = None,
                 add_to_visualizer: bool = False) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        if num_samples < 1:
            raise ValueError(f'num_samples must be >= 1, got {num_samples}')
        if dataloader not in ('train', 'val', 'test'):
            raise ValueError("dataloader must be 'train', 'val' or 'test', "
                             f'got {dataloader!r}')
        self.interval = interval
        self.num_samples = num_samples
        self.out_dir = out_dir
        self.dataloader = dataloader
        self.seed = seed
        self.num_frames_shown = num_frames_shown
        self.by_epoch = by_epoch
        self.patch_size = patch_size
        self.tubelet_size = tubelet_size
        self.add_to_visualizer = add_to_visualizer
        self._cache: Optional[List[dict]] = None
        self._collate = None

    # ------------------------------------------------------------------ data
    def _load_samples(self, runner) -> List[dict]:
        """Load (once) the fixed clips and their masks."""
        if self._cache is not None:
            return self._cache
        loader = getattr(runner, f'{self.dataloader}_dataloader')
        dataset = getattr(loader, 'dataset', loader)
        collate = getattr(loader, 'collate_fn', None)
        self._collate = collate if callable(collate) else pseudo_collate
        n = min(self.num_samples, len(dataset))
        if n == 0:
            raise RuntimeError(
                f'ReconstructionVisHook: the {self.dataloader} dataset is '
                'empty')
        with seeded(self.seed):
            self._cache = [dataset[i] for i in range(n)]
        return self._cache

    # --------------------------------------------------------------- drawing
    def draw(self, runner, tag: str) -> List[str]:
        """Run the model on the fixed clips and write one PNG per clip.

        Args:
            runner (Runner): the runner.
            tag (str): file-name prefix such as ``'epoch_3'``.

        Returns:
            list[str]: paths written (empty on ranks other than 0).
        """
        if not is_main_process():
            return []
        samples = self._load_samples(runner)
        model = unwrap_model(runner.model)
        patch, tube = self.patch_size, self.tubelet_size
        if patch is None or tube is None:
            found = infer_token_geometry(model)
            patch = found[0] if patch is None else patch
            tube = found[1] if tube is None else tube

        results = predict_reconstructions(model, samples, self._collate)
        num_views = max(1, len(results) // len(samples))
        out_dir = self.out_dir or osp.join(runner.work_dir, 'reconstructions')
        paths = []
        for k, res in enumerate(results):
            i, v = divmod(k, num_views)
            name = f'{tag}_sample_{i}'
            if num_views > 1:
                name += f'_view_{v}'
            path = osp.join(out_dir, name + '.png')
            orig, mask = res['original'], res['mask']
            raw, leaky = res['pred_video'], res['pred_video_gt_stats']
            img = save_reconstruction(
                path,
                orig,
                mask,
                raw,
                leaky,
                patch_size=patch,
                tubelet_size=tube,
                decoder_mask=res['decoder_mask'],
                frames=self.num_frames_shown,
                title=f'{tag.replace("_", " ")}, sample {i}')
            pix = predicted_pixels(mask, orig.shape, patch, tube,
                                   res['decoder_mask'])
            msg = (f'reconstruction saved to {path} (masked-patch MSE: raw '
                   f'{masked_mse(raw, orig, pix):.4f}')
            if leaky is not None:
                msg += (', with GT patch stats (leaky) '
                        f'{masked_mse(leaky, orig, pix):.4f}')
            runner.logger.info(msg + ')')
            if self.add_to_visualizer:
                step = runner.epoch + 1 if self.by_epoch else runner.iter + 1
                runner.visualizer.add_image(
                    f'reconstruction/{name[len(tag) + 1:]}', img, step=step)
            paths.append(path)
        return paths

    # ----------------------------------------------------------------- hooks
    def after_train_epoch(self, runner) -> None:
        """Draw every ``interval`` epochs and after the last one."""
        if not self.by_epoch:
            return
        if self.every_n_epochs(runner, self.interval) or \
                self.is_last_train_epoch(runner):
            self.draw(runner, f'epoch_{runner.epoch + 1}')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        """Draw every ``interval`` iterations (``by_epoch=False``)."""
        if self.by_epoch:
            return
        if self.every_n_train_iters(runner, self.interval) or \
                self.is_last_train_iter(runner):
            self.draw(runner, f'iter_{runner.iter + 1}')
