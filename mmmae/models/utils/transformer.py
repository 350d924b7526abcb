# Copyright (c) mmmae contributors. All rights reserved.
"""Pre-LN transformer block shared by the VideoMAE encoder and decoder.

The module and parameter names (``norm1``, ``attn.qkv``, ``attn.q_bias``,
``attn.v_bias``, ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``,
``gamma_1``, ``gamma_2``) equal the official VideoMAE ones, so converting an
official checkpoint is a pure key-prefix rename.
"""
from functools import partial
from typing import Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    'Attention', 'Mlp', 'TransformerBlock', 'DropPath', 'build_norm',
    'init_weights_official_pretrain', 'CrossAttention'
]

#: Every VideoMAE LayerNorm uses eps 1e-6 (PyTorch's default is 1e-5).
build_norm = partial(nn.LayerNorm, eps=1e-6)


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per sample.

    Args:
        drop_prob (float): Probability of dropping the branch. Defaults to 0.
    """

    def __init__(self, drop_prob: float = 0.) -> None:
        super().__init__()
        self.drop_prob = float(drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale kept samples by ``1/keep`` so the expectation is unchanged.

        Args:
            x (Tensor): ``(B, ...)``.

        Returns:
            Tensor: Same shape as ``x``.
        """
        if self.drop_prob == 0. or not self.training:
            return x
        keep = 1. - self.drop_prob
        shape = (x.shape[0], ) + (1, ) * (x.ndim - 1)
        keep_mask = x.new_empty(shape).bernoulli_(keep)
        return x * keep_mask.div_(keep)

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}'


class Attention(nn.Module):
    """Multi-head self-attention with BEiT-style q/v biases or a fused bias.

    With ``qkv_bias=True`` (or ``'qv'``, the VideoMAE layout) the projection
    is one bias-free ``qkv`` Linear plus two learnable vectors ``q_bias`` and
    ``v_bias``; the key bias is fixed at zero (a key bias only adds a
    per-query constant to the logits, which softmax cancels). The biases are
    concatenated once per call and applied with a single ``F.linear``.
    With ``qkv_bias='qkv'`` the ``qkv`` Linear has its own fused bias
    (timm / official MultiMAE layout, key ``attn.qkv.bias``).

    Args:
        embed_dims (int): Token width ``C``.
        num_heads (int): Number of heads. Defaults to 8.
        qkv_bias (bool | str): ``True``/``'qv'``: learn ``q_bias``/``v_bias``;
            ``'qkv'``: fused ``qkv.bias``; ``False``: no bias. Defaults to
            True.
        qk_scale (float, optional): Logit scale; ``head_dim ** -0.5`` when
            None (the official default).
        attn_drop (float): Dropout on attention weights (training only).
        proj_drop (float): Dropout after ``proj``.
        head_dims (int, optional): Per-head width when it differs from
            ``embed_dims // num_heads`` (official ``attn_head_dim``).
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int = 8,
                 qkv_bias: Union[bool, str] = True,
                 qk_scale: Optional[float] = None,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 head_dims: Optional[int] = None) -> None:
        super().__init__()
        if head_dims is None:
            if embed_dims % num_heads != 0:
                raise ValueError(f'embed_dims ({embed_dims}) must be '
                                 f'divisible by num_heads ({num_heads})')
            head_dims = embed_dims // num_heads
        self.num_heads = num_heads
        self.head_dims = head_dims
        all_dims = head_dims * num_heads
        self.scale = qk_scale if qk_scale is not None else head_dims**-0.5
        self.attn_drop = float(attn_drop)

        if qkv_bias not in (True, False, 'qv', 'qkv'):
            raise ValueError(f"qkv_bias must be True, False, 'qv' or 'qkv', "
                             f'got {qkv_bias!r}')
        fused = qkv_bias == 'qkv'
        self.qkv = nn.Linear(embed_dims, all_dims * 3, bias=fused)
        if qkv_bias and not fused:
            self.q_bias = nn.Parameter(torch.zeros(all_dims))
            self.v_bias = nn.Parameter(torch.zeros(all_dims))
        else:
            self.q_bias = None
            self.v_bias = None
        self.proj = nn.Linear(all_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def _qkv_bias(self) -> Optional[torch.Tensor]:
        if self.q_bias is None:
            # Fused bias (or none): whatever the Linear holds.
            return self.qkv.bias
        # A zero (not learnable) key slot keeps the official layout [q; k; v].
        return torch.cat((self.q_bias, torch.zeros_like(self.v_bias),
                          self.v_bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend over all tokens.

        Args:
            x (Tensor): ``(B, N, C)``.

        Returns:
            Tensor: ``(B, N, C)``.
        """
        B, N, _ = x.shape
        qkv = F.linear(x, self.qkv.weight, self._qkv_bias())
        # (B, N, 3, h, d) -> (3, B, h, N, d)
        qkv = qkv.reshape(B, N, 3, self.num_heads,
                          self.head_dims).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        x = F.scaled_dot_product_attention(
            q,
            k,
            v,
            dropout_p=self.attn_drop if self.training else 0.,
            scale=self.scale)
        x = x.transpose(1, 2).reshape(B, N, -1)
        return self.proj_drop(self.proj(x))


class CrossAttention(nn.Module):
    """Multi-head cross-attention of queries over a context (no residual).

    ``q`` projects the queries; one fused ``kv`` Linear projects the context,
    its output rows being all key channels first, then all value channels
    (official MultiMAE ``decoder.kv`` layout); ``proj`` mixes the heads.

    Args:
        embed_dims (int): Width ``C`` of queries, context and output.
        num_heads (int): Number of heads. Defaults to 8.
        qkv_bias (bool): Biases on ``q`` and ``kv``. Defaults to True.
        qk_scale (float, optional): Logit scale; ``head_dim ** -0.5`` when
            None.
        attn_drop (float): Dropout on attention weights (training only).
        proj_drop (float): Dropout after ``proj``.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int = 8,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.) -> None:
        super().__init__()
        if embed_dims % num_heads != 0:
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible '
                             f'by num_heads ({num_heads})')
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.scale = qk_scale if qk_scale is not None else self.head_dims**-.5
        self.attn_drop = float(attn_drop)
        self.q = nn.Linear(embed_dims, embed_dims, bias=bool(qkv_bias))
        self.kv = nn.Linear(embed_dims, embed_dims * 2, bias=bool(qkv_bias))
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Attend from ``x`` to ``context``.

        Args:
            x (Tensor): Queries ``(B, N, C)``.
            context (Tensor): ``(B, M, C)``.

        Returns:
            Tensor: ``(B, N, C)``.
        """
        B, N, C = x.shape
        M = context.shape[1]
        q = self.q(x).reshape(B, N, self.num_heads,
                              self.head_dims).transpose(1, 2)
        # (B, M, 2, h, d) -> (2, B, h, M, d): keys are the first C rows.
        kv = self.kv(context).reshape(B, M, 2, self.num_heads,
                                      self.head_dims).permute(2, 0, 3, 1, 4)
        k, v = kv.unbind(0)
        x = F.scaled_dot_product_attention(
            q,
            k,
            v,
            dropout_p=self.attn_drop if self.training else 0.,
            scale=self.scale)
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))


class Mlp(nn.Module):
    """Two-layer GELU MLP (``fc1`` -> GELU -> ``fc2``).

    Args:
        in_dims (int): Input and output width.
        hidden_dims (int): Hidden width.
        drop (float): Dropout after each Linear.
    """

    def __init__(self, in_dims: int, hidden_dims: int,
                 drop: float = 0.) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dims, hidden_dims)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dims, in_dims)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the module.

        Args:
            x (Tensor): ``(B, N, C)``.

        Returns:
            Tensor: ``(B, N, C)``.
        """
        x = self.fc1(x)
        if not x.requires_grad and type(self.act) is nn.GELU:
            # Without autograd nothing else holds the fresh fc1 output, so
            # GELU can overwrite it (same kernel, bit-identical). This drops
            # the largest activation of the block, (B, N, 4C), from the
            # inference peak (~0.7 -> ~0.45 GB per block at 15 ViT-B views)
            # and the page faults of allocating it.
            x = torch.ops.aten.gelu_(x, approximate=self.act.approximate)
        else:
            x = self.act(x)
        return self.drop(self.fc2(self.drop(x)))


class TransformerBlock(nn.Module):
    """Pre-LN ViT block: ``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``.

    Args:
        embed_dims (int): Token width ``C``.
        num_heads (int): Attention heads.
        feedforward_channels (int): MLP hidden width.
        qkv_bias (bool | str): Attention bias layout, see :class:`Attention`
            (``True`` = VideoMAE q/v biases, ``'qkv'`` = fused bias).
            Defaults to True.
        qk_scale (float, optional): Attention logit scale override.
        drop_rate (float): Dropout after ``proj`` and in the MLP.
        attn_drop_rate (float): Attention-weight dropout.
        drop_path_rate (float): Stochastic depth of both residual branches.
        layer_scale_init_value (float): When > 0, learn per-channel
            ``gamma_1``/``gamma_2`` initialised to this value (CaiT layer
            scale, official ``init_values``). Defaults to 0 (off).
        head_dims (int, optional): Per-head width override.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 feedforward_channels: int,
                 qkv_bias: Union[bool, str] = True,
                 qk_scale: Optional[float] = None,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 0.,
                 head_dims: Optional[int] = None) -> None:
        super().__init__()
        self.norm1 = build_norm(embed_dims)
        self.attn = Attention(
            embed_dims,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            qk_scale=qk_scale,
            attn_drop=attn_drop_rate,
            proj_drop=drop_rate,
            head_dims=head_dims)
        self.drop_path = DropPath(drop_path_rate) \
            if drop_path_rate > 0. else nn.Identity()
        self.norm2 = build_norm(embed_dims)
        self.mlp = Mlp(embed_dims, feedforward_channels, drop=drop_rate)
        if layer_scale_init_value > 0:
            self.gamma_1 = nn.Parameter(
                layer_scale_init_value * torch.ones(embed_dims))
            self.gamma_2 = nn.Parameter(
                layer_scale_init_value * torch.ones(embed_dims))
        else:
            self.gamma_1 = None
            self.gamma_2 = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the module.

        Args:
            x (Tensor): ``(B, N, C)``.

        Returns:
            Tensor: ``(B, N, C)``.
        """
        if self.gamma_1 is None:
            x = x + self.drop_path(self.attn(self.norm1(x)))
            x = x + self.drop_path(self.mlp(self.norm2(x)))
        else:
            x = x + self.drop_path(self.gamma_1 * self.attn(self.norm1(x)))
            x = x + self.drop_path(self.gamma_2 * self.mlp(self.norm2(x)))
        return x


def init_weights_official_pretrain(module: nn.Module) -> None:
    """Official pretraining init: xavier Linears, zero biases, LN (1, 0).

    Used with ``nn.Module.apply``; convolutions keep PyTorch's default init
    as in the official code.

    Args:
        module (nn.Module): One submodule.
    """
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        if module.weight is not None:
            nn.init.ones_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, Attention) and module.q_bias is not None:
        nn.init.zeros_(module.q_bias)
        nn.init.zeros_(module.v_bias)


def init_weights_official_finetune(module: nn.Module) -> None:
    """Official fine-tuning init: trunc-normal(.02) Linears, zero biases,
    LN (1, 0), zero q/v biases (``modeling_finetune._init_weights``).

    Args:
        module (nn.Module): One submodule (use with ``nn.Module.apply``).
    """
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    else:
        init_weights_official_pretrain(module)
