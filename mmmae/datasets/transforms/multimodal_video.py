# Copyright (c) mmmae contributors. All rights reserved.
"""Loading, shared geometry and packing for multi-modal *video* clips.

The data layout (``docs/multimodal_video.md``) stores one mp4 per clip and,
per extra modality, one ``.npz`` whose ``frames`` array holds frame ``i``
of the decoded video at index ``i``. A pipeline reads a clip as::

    dict(type='mmmae.VideoInit'),            # open the mp4
    dict(type='SampleFrames', ...),          # frame_inds, from its length
    dict(type='mmmae.VideoDecode'),          # rgb frames at frame_inds
    dict(type='mmmae.LoadMultiModalVideo'),  # the same inds of every .npz
    dict(type='mmmae.MultiModalVideoRandomResizedCrop', size=224),
    dict(type='mmmae.MultiModalVideoFlip'),
    dict(type='mmmae.PackMultiModalVideoInputs'),

so every modality gets the indices that ``SampleFrames`` drew once. Without
``rgb`` in the dataset's modalities (depth-only fine-tuning) leave
``VideoDecode`` out: the mp4 is only opened for its frame count.

Between loading and packing, ``results['videos']`` is a dict modality name
-> array with a leading frame axis ``N`` (``num_clips * clip_len``):

- *rgb* kind: ``(N, H, W, 3)`` uint8;
- *depth* kind: ``(N, H, W)`` float32 metres, **NaN where the file holds
  65535** (no depth: sky, invalid). Bilinear resizing spreads NaN to every
  output pixel that an invalid pixel contributes to, so a depth value is
  never a blend with "no depth";
- *semseg* kind: ``(N, H, W)`` int64 class ids (255 = ignore).

The key differs from the image transforms' ``results['images']`` on
purpose: an image transform put in a video pipeline by mistake fails
instead of cropping the frame axis. The geometric transforms draw their
parameters once per clip and apply them to every frame of every modality
with the helpers of :mod:`~mmmae.datasets.transforms.multimodal` (label
maps always nearest); :class:`PackMultiModalVideoInputs` turns NaN depth
into 0 and returns the validity in ``data_samples.valid_masks``.
"""
import struct
import zipfile
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmmae.registry import TRANSFORMS
from .fused_crop import MultiScaleCropResize
from .multimodal import (MultiModalCenterCrop, MultiModalFlip,
                         MultiModalRandomResizedCrop, MultiModalResize,
                         PackMultiModalInputs, SemSegDownsample, _apply_box,
                         _check_interpolation, _kind_of)

__all__ = [
    'NO_DEPTH', 'DEFAULT_DEPTH_SCALE', 'NpzFrames', 'LoadMultiModalVideo',
    'MultiModalVideoRandomResizedCrop', 'MultiModalVideoMultiScaleCrop',
    'MultiModalVideoFlip', 'MultiModalVideoResize',
    'MultiModalVideoCenterCrop', 'MultiModalVideoSemSegDownsample',
    'PackMultiModalVideoInputs', 'PackMultiModalVideoActionInputs'
]

#: Stored depth value meaning "no depth" (sky, invalid pixel).
NO_DEPTH = 65535
#: Stored depth per metre when a modality has no manifest saying otherwise.
DEFAULT_DEPTH_SCALE = 1000.0
#: The official pipelines' filters for videos (mmaction resizes bilinearly).
_VIDEO_INTERP = dict(rgb='bilinear', depth='bilinear', semseg='nearest')


# --------------------------------------------------------------------------
# .npz frames
# --------------------------------------------------------------------------
def _member_data_offset(path: str, info: zipfile.ZipInfo) -> int:
    """File offset of the (stored) data of zip member ``info``.

    The local header's name and extra fields may differ in length from the
    central directory's, so they are read from the local header itself.
    """
    with open(path, 'rb') as f:
        f.seek(info.header_offset)
        head = f.read(30)
    if len(head) != 30 or head[:4] != b'PK\x03\x04':
        raise ValueError(f'{path}: bad zip local header for {info.filename}')
    name_len, extra_len = struct.unpack('<HH', head[26:30])
    return info.header_offset + 30 + name_len + extra_len


class NpzFrames:
    """The ``(T, H, W)`` frames of one array in an ``.npz``, read lazily.

    A member stored uncompressed (``np.savez``) is memory-mapped, so a clip
    costs a gather of its frames. A deflated one (``np.savez_compressed``)
    is decompressed forward and only up to the last wanted frame, one frame
    at a time: a long video is never held in memory whole.

    Args:
        path (str): the ``.npz`` file.
        key (str): the array's name. Defaults to ``'frames'``.

    Attributes:
        shape (tuple[int, int, int]): ``(T, H, W)``, from the header.
        dtype (np.dtype): the array's dtype.

    Raises:
        ValueError: not a readable ``.npz``, no array ``key``, or the array
            is not a C-ordered ``(T, H, W)`` array with ``T >= 1``.
    """

    def __init__(self, path: str, key: str = 'frames') -> None:
        self.path, self.key = path, key
        fmt = np.lib.format
        try:
            with zipfile.ZipFile(path) as zf:
                self._info = zf.getinfo(key + '.npy')
                with zf.open(self._info) as f:
                    version = fmt.read_magic(f)
                    if version == (1, 0):
                        shape, fortran, dtype = fmt.read_array_header_1_0(f)
                    elif version == (2, 0):
                        shape, fortran, dtype = fmt.read_array_header_2_0(f)
                    else:
                        raise ValueError(f'unsupported .npy version '
                                         f'{version}')
                    self._header_len = f.tell()
        except KeyError as err:
            raise ValueError(
                f'{path}: no array {key!r} (write it with np.savez(f, '
                f'{key}=array))') from err
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
            raise ValueError(f'{path}: not a readable .npz ({err})') from err
        if len(shape) != 3 or fortran or shape[0] < 1:
            raise ValueError(
                f'{path}: {key!r} must be a C-ordered (T, H, W) array with '
                f'T >= 1, got shape {shape}'
                f'{" in Fortran order" if fortran else ""}')
        self.shape: Tuple[int, int, int] = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self._offset: Optional[int] = None
        if self._info.compress_type == zipfile.ZIP_STORED:
            self._offset = (_member_data_offset(path, self._info) +
                            self._header_len)

    def __len__(self) -> int:
        return self.shape[0]

    def get(self, inds) -> np.ndarray:
        """A copy of the frames at ``inds`` (any order, repeats allowed).

        Args:
            inds (Sequence[int] | np.ndarray): indices in ``[0, T)``.

        Returns:
            np.ndarray: ``(len(inds), H, W)``.

        Raises:
            IndexError: an index is out of range.
            ValueError: the file ends before a wanted frame.
        """
        inds = np.asarray(inds, dtype=np.int64).reshape(-1)
        if inds.size and (inds.min() < 0 or inds.max() >= len(self)):
            raise IndexError(
                f'{self.path}: frame index out of range [0, {len(self)}): '
                f'{inds.min()}..{inds.max()}')
        if self._offset is not None:
            frames = np.memmap(self.path, dtype=self.dtype, mode='r',
                               offset=self._offset, shape=self.shape)
            return np.ascontiguousarray(frames[inds])
        uniq, inverse = np.unique(inds, return_inverse=True)
        out = np.empty((len(uniq), ) + self.shape[1:], dtype=self.dtype)
        nbytes = out[0].nbytes if len(uniq) else 0
        with zipfile.ZipFile(self.path) as zf, zf.open(self._info) as f:
            # ascending: each seek only decompresses forward
            for j, i in enumerate(uniq):
                f.seek(self._header_len + int(i) * nbytes)
                buf = f.read(nbytes)
                if len(buf) != nbytes:
                    raise ValueError(f'{self.path}: ends before frame {i}')
                out[j] = np.frombuffer(buf, self.dtype).reshape(
                    self.shape[1:])
        return out[inverse]


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------
@TRANSFORMS.register_module()
class LoadMultiModalVideo(BaseTransform):
    """Load the frames at ``frame_inds`` of every modality of a clip.

    Put it after ``mmmae.VideoInit``, ``SampleFrames`` and (when the clip
    has ``rgb``) ``mmmae.VideoDecode``: the rgb frames are the decoded
    ``imgs``, the other modalities are read at the same ``frame_inds``
    from their ``.npz`` (:class:`NpzFrames`, lazily).

    Every ``.npz`` must have as many frames as the video
    (``total_frames``, from the opened video) and every modality the same
    ``H x W``; a mismatch raises a ``ValueError`` naming both files and
    both numbers (sampled indices would silently pair frame ``i`` of one
    modality with frame ``j`` of another).

    **Required Keys:** frame_inds, total_frames, filename, modalities,
    modality_path, modality_kinds (set by
    :class:`~mmmae.datasets.MultiModalVideoDataset`), imgs (with rgb).

    **Optional Keys:** depth_scale (dict name -> stored value per metre,
    default 1000).

    **Added Keys:** videos (see the module doc), ori_shape, img_shape.
    **Removed Keys:** imgs, video_reader.

    Args:
        key (str): array name inside the ``.npz`` files. Defaults to
            ``'frames'``.
    """

    def __init__(self, key: str = 'frames') -> None:
        self.key = key

    def _load_npz(self, name: str, kind: str, path: str, inds: np.ndarray,
                  scale: float) -> np.ndarray:
        frames = NpzFrames(path, self.key)
        raw = frames.get(inds)
        if kind == 'depth':
            if raw.dtype != np.uint16:
                raise ValueError(
                    f'{name} file {path!r} holds {raw.dtype} frames; depth '
                    'must be uint16 round(depth_m * scale), 65535 = none')
            depth = raw.astype(np.float32) / np.float32(scale)
            depth[raw == NO_DEPTH] = np.nan
            return depth
        if not np.issubdtype(raw.dtype, np.unsignedinteger):
            raise ValueError(f'{name} file {path!r} holds {raw.dtype} '
                             'frames; class ids must be uint8 (or uint16)')
        return raw.astype(np.int64)

    def transform(self, results: dict) -> dict:
        """Add ``results['videos']``: every modality at ``frame_inds``."""
        inds = np.asarray(results['frame_inds']).reshape(-1)
        total = int(results['total_frames'])
        video = results['filename']
        paths: Mapping[str, str] = results.get('modality_path', {})
        kinds: Mapping[str, str] = results.get('modality_kinds', {})
        scales: Mapping[str, float] = results.get('depth_scale', {})
        imgs = results.pop('imgs', None)
        results.pop('video_reader', None)
        videos: Dict[str, np.ndarray] = {}
        ref = None  # (name, file, (H, W)) the others must match
        for name in results['modalities']:
            kind = kinds.get(name) or _kind_of(name)
            if kind == 'rgb':
                if imgs is None:
                    raise KeyError(
                        f'{name} of {video} was not decoded: put '
                        "dict(type='mmmae.VideoDecode') before "
                        'LoadMultiModalVideo')
                arr, path = np.asarray(imgs), video
            else:
                path = paths[name]
                num = len(NpzFrames(path, self.key))
                if num != total:
                    raise ValueError(
                        f'frame count mismatch: {path} has {num} frames but '
                        f'the video {video} has {total}; frame i of every '
                        'modality must be frame i of the video (regenerate '
                        'the labels from this video)')
                arr = self._load_npz(name, kind, path, inds,
                                     float(scales.get(name,
                                                      DEFAULT_DEPTH_SCALE)))
            if ref is None:
                ref = (name, path, arr.shape[1:3])
            elif arr.shape[1:3] != ref[2]:
                raise ValueError(
                    f'{name} file {path} is {arr.shape[1]}x{arr.shape[2]} '
                    f'(HxW) but {ref[0]} file {ref[1]} is '
                    f'{ref[2][0]}x{ref[2][1]}: every modality must have the '
                    'frame size of the video')
            videos[name] = arr
        results['videos'] = videos
        results['ori_shape'] = results['img_shape'] = tuple(ref[2])
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(key={self.key!r})'


# --------------------------------------------------------------------------
# Geometry: one draw per clip, applied to every frame of every modality
# --------------------------------------------------------------------------
def _videos(results: dict) -> Dict[str, np.ndarray]:
    videos = results.get('videos')
    if not isinstance(videos, dict) or not videos:
        raise KeyError("results['videos'] (dict name -> frames) is missing; "
                       'put LoadMultiModalVideo first in the pipeline')
    return videos


def _shared_thw(videos: Mapping[str, np.ndarray],
                results: dict) -> Tuple[int, int, int]:
    """``(N, H, W)`` shared by every modality."""
    shapes = {n: a.shape[:3] for n, a in videos.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError('all modalities must have the same frames and '
                         f'H x W before a shared transform, got {shapes} for '
                         f'{results.get("filename")}')
    return next(iter(shapes.values()))


def _per_frame(results: dict, fn: Callable[[dict], object]) -> dict:
    """Run the image transform step ``fn`` on each frame and restack.

    ``fn`` gets ``dict(images={name: frame}, img_path=filename)`` (the
    image transforms' format) and edits it in place; it must not draw
    random numbers, or frames would differ.

    Returns:
        dict: the last frame's results (its ``img_shape``, ``crop_bbox``).
    """
    videos = _videos(results)
    num = _shared_thw(videos, results)[0]
    out = {name: [] for name in videos}
    frame: dict = {}
    for t in range(num):
        frame = dict(images={n: a[t] for n, a in videos.items()},
                     img_path=results.get('filename'))
        fn(frame)
        for name, arr in frame['images'].items():
            out[name].append(arr)
    results['videos'] = {name: np.stack(arrs) for name, arrs in out.items()}
    if 'img_shape' in frame:
        results['img_shape'] = tuple(frame['img_shape'])
    return frame


@TRANSFORMS.register_module()
class MultiModalVideoRandomResizedCrop(MultiModalRandomResizedCrop):
    """One random resized crop box for every frame of every modality.

    The box is drawn as :class:`MultiModalRandomResizedCrop` draws it (once
    per clip); each frame is then cropped and resized with its modality's
    filter (label maps nearest).

    **Required Keys:** videos. **Modified Keys:** videos, img_shape.
    **Added Keys:** crop_bbox ``(x1, y1, x2, y2)`` in input pixels.

    Args:
        size (int | tuple[int, int]): output ``(h, w)``. Defaults to 224.
        scale (tuple[float, float]): area fraction range. Defaults to
            ``(0.2, 1.0)``.
        ratio (tuple[float, float]): aspect ratio (w / h) range.
        interpolation (str | dict): filter per modality. Defaults to
            bilinear for rgb and depth, nearest for semseg.
    """

    def __init__(self,
                 size: Union[int, Sequence[int]] = 224,
                 scale: Tuple[float, float] = (0.2, 1.0),
                 ratio: Tuple[float, float] = (3. / 4., 4. / 3.),
                 interpolation: Union[str, Mapping[str,
                                                   str]] = _VIDEO_INTERP):
        super().__init__(size, scale, ratio, interpolation)

    def transform(self, results: dict) -> dict:
        """Crop and resize all frames with one box."""
        _, height, width = _shared_thw(_videos(results), results)
        top, left, h, w = self.get_params(height, width)
        box = (left, top, left + w, top + h)
        _per_frame(results,
                   lambda f: _apply_box(f, box, self.size, self.interpolation))
        results['crop_bbox'] = box
        return results


@TRANSFORMS.register_module()
class MultiModalVideoMultiScaleCrop(MultiScaleCropResize):
    """VideoMAE's multi-scale corner crop + resize, shared by all
    modalities.

    The box is drawn exactly as :class:`~mmmae.datasets.transforms.
    MultiScaleCropResize` (``mmaction.MultiScaleCrop``) draws it, with
    Python's ``random``; every frame of every modality is then resized to
    ``out_size`` with its own filter (label maps nearest).

    **Required Keys:** videos. **Modified Keys:** videos, img_shape.
    **Added Keys:** crop_bbox ``(x1, y1, x2, y2)``.

    Args:
        interpolation (str | dict): filter per modality. Defaults to
            bilinear for rgb and depth, nearest for semseg.
        **kwargs: the crop of
            :class:`~mmmae.datasets.transforms.MultiScaleCropResize`
            (``input_size``, ``scales``, ``max_wh_scale_gap``,
            ``random_crop``, ``num_fixed_crops``, ``out_size``; sizes are
            ``(w, h)``).
    """

    def __init__(self,
                 interpolation: Union[str, Mapping[str,
                                                   str]] = _VIDEO_INTERP,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.interpolation = _check_interpolation(interpolation,
                                                  'interpolation')

    def transform(self, results: dict) -> dict:
        """Crop all frames with one multi-scale box and resize them."""
        _, height, width = _shared_thw(_videos(results), results)
        x, y, crop_w, crop_h = self._crop_box(height, width)
        box = (x, y, x + crop_w, y + crop_h)
        out_hw = (self.out_size[1], self.out_size[0])
        _per_frame(results,
                   lambda f: _apply_box(f, box, out_hw, self.interpolation))
        results['crop_bbox'] = box
        return results


@TRANSFORMS.register_module()
class MultiModalVideoFlip(MultiModalFlip):
    """:class:`MultiModalFlip` (``prob``, ``direction``) of every frame of
    every modality, with one draw per clip; sets ``flip`` and
    ``flip_direction``."""

    def transform(self, results: dict) -> dict:
        """Flip all frames if the clip's draw says so."""
        videos = _videos(results)
        flip = bool(np.random.rand() < self.prob)
        if flip:
            # frames are (N, H, W[, C]): W is axis 2, H axis 1
            axis = 2 if self.direction == 'horizontal' else 1
            results['videos'] = {
                name: np.ascontiguousarray(np.flip(arr, axis))
                for name, arr in videos.items()
            }
        results['flip'] = flip
        results['flip_direction'] = self.direction if flip else None
        return results


@TRANSFORMS.register_module()
class MultiModalVideoResize(MultiModalResize):
    """:class:`MultiModalResize` of every frame (evaluation): an int
    ``scale`` sets the shorter side, ``(h, w)`` the exact size.

    Args:
        scale (int | tuple[int, int]): as :class:`MultiModalResize`.
        interpolation (str | dict): Defaults to bilinear for rgb and depth,
            nearest for semseg.
    """

    def __init__(self,
                 scale: Union[int, Sequence[int]] = 256,
                 interpolation: Union[str, Mapping[str,
                                                   str]] = _VIDEO_INTERP):
        super().__init__(scale, interpolation)

    def transform(self, results: dict) -> dict:
        """Resize all frames to the same size."""
        _per_frame(results, super().transform)
        return results


@TRANSFORMS.register_module()
class MultiModalVideoCenterCrop(MultiModalCenterCrop):
    """:class:`MultiModalCenterCrop` of every frame (evaluation).

    **Added Keys:** crop_bbox.

    Args:
        crop_size (int | tuple[int, int]): ``(h, w)``; must fit the frames.
    """

    def transform(self, results: dict) -> dict:
        """Crop the centre of all frames."""
        results['crop_bbox'] = _per_frame(results,
                                          super().transform)['crop_bbox']
        return results


@TRANSFORMS.register_module()
class MultiModalVideoSemSegDownsample(SemSegDownsample):
    """:class:`SemSegDownsample` (nearest, ``1/factor``) of the label
    frames; put it after the geometric transforms.

    Args:
        factor (int): must divide H and W. Defaults to 4.
        keys (Sequence[str]): modalities to downsample. Defaults to
            ``('semseg', )``.
    """

    def transform(self, results: dict) -> dict:
        """Replace the label frames by their ``1/factor`` samples
        (``img_shape`` stays the rgb size)."""
        _per_frame(results, super().transform)
        return results


# --------------------------------------------------------------------------
# Packing
# --------------------------------------------------------------------------
def _split_views(tensor: torch.Tensor, views: int,
                 channels: bool) -> torch.Tensor:
    """``(C, V*L, H, W)`` -> ``(V, C, L, H, W)`` (``channels``) or
    ``(V*L, H, W)`` -> ``(V, L, H, W)``, as ``FormatShape('NCTHW')``."""
    if views == 1:
        return tensor
    if not channels:
        return tensor.reshape(views, -1, *tensor.shape[1:])
    c, n = tensor.shape[:2]
    return tensor.reshape(c, views, n // views,
                          *tensor.shape[2:]).transpose(0, 1).contiguous()


@TRANSFORMS.register_module()
class PackMultiModalVideoInputs(PackMultiModalInputs):
    """Pack a multi-modal clip for the model.

    Output for one clip of ``T`` frames::

        {'inputs': {'rgb': uint8 (3, T, H, W),
                    'depth': float32 (1, T, H, W),   # metres, 0 = no depth
                    'semseg': int64 (T, H', W')},
         'data_samples': ActionDataSample(
             gt_label=tensor([label]),               # -1 = unlabelled
             valid_masks={'depth': bool (1, T, H, W)},
             masks={'rgb': bool (N_rgb,), ...},      # when generated
             decoder_masks={'rgb': bool (N_rgb,), ...},  # V2, if made
             metainfo={k: results[k] for k in meta_keys if k in results})}

    With ``num_clips = V > 1`` (multi-clip testing) every input gets a
    leading view axis, ``(V, 3, T, H, W)`` etc., as ``FormatShape('NCTHW')``
    gives.

    Depth convention: pixels without depth (NaN after loading, 65535 on
    disk) hold 0 in ``inputs['depth']``, and ``valid_masks[name]`` is False
    there; a depth loss must use the mask (0 m is not a real depth).

    Args:
        meta_keys (Sequence[str]): keys copied into the metainfo when
            present.
        semseg_stride (int | None): label frames must be ``img_shape /
            semseg_stride`` (:class:`MultiModalVideoSemSegDownsample`);
            ``None`` (default) does not check.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('filename', 'clip_name',
                                             'frame_inds', 'clip_len',
                                             'frame_interval', 'num_clips',
                                             'ori_shape', 'img_shape',
                                             'crop_bbox', 'flip'),
                 semseg_stride: Optional[int] = None) -> None:
        if semseg_stride is not None and int(semseg_stride) < 1:
            raise ValueError(f'semseg_stride must be >= 1 or None, got '
                             f'{semseg_stride}')
        super().__init__(meta_keys, semseg_stride)

    def _check_stride(self, name: str, arr: np.ndarray, results: dict):
        if not self.semseg_stride:
            return
        h, w = results.get('img_shape', arr.shape[1:3])[:2]
        want = (h // self.semseg_stride, w // self.semseg_stride)
        if arr.shape[1:3] != want:
            raise ValueError(
                f'{name} label frames are {arr.shape[1:3]}, expected {want} '
                f'(img_shape / {self.semseg_stride}); add '
                'MultiModalVideoSemSegDownsample(factor='
                f'{self.semseg_stride}) before the packer, or set '
                'semseg_stride=None')

    def transform(self, results: dict) -> dict:
        """Build ``dict(inputs=..., data_samples=...)``."""
        from mmaction.structures import ActionDataSample
        views = max(1, int(results.get('num_clips', 1)))
        inputs, valid = {}, {}
        for name, arr in _videos(results).items():
            if arr.ndim == 4:
                tensor = torch.from_numpy(arr).permute(3, 0, 1, 2)
                inputs[name] = _split_views(tensor, views, True).contiguous()
            elif np.issubdtype(arr.dtype, np.integer):
                self._check_stride(name, arr, results)
                tensor = torch.from_numpy(arr.astype(np.int64, copy=False))
                inputs[name] = _split_views(tensor, views, False)
            elif arr.ndim == 3:
                ok = ~np.isnan(arr)
                depth = np.where(ok, arr, np.float32(0)).astype(np.float32)
                inputs[name] = _split_views(
                    torch.from_numpy(depth)[None], views, True)
                valid[name] = _split_views(
                    torch.from_numpy(ok)[None], views, True)
            else:
                raise ValueError(f'{name}: cannot pack frames of shape '
                                 f'{arr.shape}')
        sample = ActionDataSample(
            metainfo={k: results[k]
                      for k in self.meta_keys if k in results})
        sample.set_gt_label(results.get('label', -1))
        if valid:
            sample.valid_masks = valid
        for key in ('masks', 'decoder_masks'):
            if key in results:
                sample.set_field({
                    name: torch.as_tensor(np.asarray(mask, dtype=bool))
                    for name, mask in results[key].items()
                }, key)
        return dict(inputs=inputs, data_samples=sample)


@TRANSFORMS.register_module()
class PackMultiModalVideoActionInputs(PackMultiModalVideoInputs):
    """Pack a multi-modal clip for an MMAction2 recognizer: the modalities
    stacked along channels, as ``FormatShape('NCTHW')`` + ``PackActionInputs``
    would give for RGB.

    ``inputs`` is float32 ``(V, C, T, H, W)`` (``V`` = views, 1 for one
    clip) with the channel groups in ``modalities`` order: rgb 0-255,
    depth in metres (0 = no depth), class ids as one float channel.
    :class:`~mmmae.models.MultiModalActionDataPreprocessor` normalises the
    groups and :class:`~mmmae.models.MultiModalViT` splits them again with
    the same layout (``input_channels``). The data sample is the one of
    :class:`PackMultiModalVideoInputs` (``gt_label``, ``valid_masks``).

    Args:
        modalities (Sequence[str]): Channel groups in order, e.g.
            ``('rgb',)``, ``('rgb', 'depth')`` or ``('depth',)``.
        **kwargs: The arguments of :class:`PackMultiModalVideoInputs`.
    """

    def __init__(self, modalities: Sequence[str] = ('rgb', ), **kwargs):
        super().__init__(**kwargs)
        if isinstance(modalities, str) or not modalities:
            raise ValueError('PackMultiModalVideoActionInputs needs a '
                             f'sequence of modalities, got {modalities!r}')
        self.modalities = tuple(modalities)

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        groups = []
        for name in self.modalities:
            if name not in packed['inputs']:
                raise KeyError(
                    f'PackMultiModalVideoActionInputs: {name!r} is not '
                    f'loaded for {results.get("filename")} (loaded: '
                    f'{sorted(packed["inputs"])}); add it to the dataset '
                    'modalities')
            x = packed['inputs'][name]
            if not x.is_floating_point() and x.dtype != torch.uint8:
                x = x.unsqueeze(-4)  # ids (.., T, H, W): one channel
            groups.append(x.float())
        stacked = torch.cat(groups, dim=-4)
        packed['inputs'] = stacked if stacked.dim() == 5 else stacked[None]
        return packed
