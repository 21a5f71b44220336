"""Conv2d and ConvTranspose2d (drop-in, same parameters) that run two of their products on other kernels where
PyTorch's own are slow on a CPU.

Training a convolution takes three products: its output, its input's gradient and its weight's gradient. On
a CPU PyTorch runs all three with oneDNN, and two are slow for small GANs' shapes. `benchmarks/conv_kernels.py
--alternatives` times each product both ways (results/conv_kernels_*_epyc_avx512_bf16*.json, a 2-core AMD EPYC
with AVX512_BF16):
- The weight gradient in bf16 runs at about a third of the matmul rate, where the same layers' forward kernels
  beat it. It is the same sum as a forward convolution of the input by the output gradient, each with batch
  and channels swapped, dilated by the stride: 1.2-2.8x faster where both sides have 16 channels or more.
  With fewer, the swapped convolution is a batch of 1 to 3 large maps and is 2.4-5x slower, so those keep
  oneDNN's kernel; so does fp32, where the two are even or oneDNN's is faster, and so does a CPU with AMX,
  whose bf16 kernels are others, not measured this way.
- A transposed product into a single channel (a grey image's G's last layer, and the input gradient of its
  D's first layer) runs at 4% of the matmul rate. It is one matrix product and a fold (col2im) instead: 2-3.5x
  faster, in fp32 and in bf16. Into 3 channels at 64 x 64 the fold is 2-2.7x slower: RGB models keep oneDNN's.
In a whole step the other forms cost copies the products alone do not show (the swapped tensors): `best`'s
step gained 1.07x and 1.15x in two runs, `rgb`'s at 64 x 64 nothing.
Every other product, every other device and any layer option these do not cover (groups, dilation, output
padding, non-zero padding modes) go to PyTorch's own kernels. The sums are the same, in another order: results
agree to rounding. `plain_kernels()` turns the choice off (benchmarks measure before and after with it, tests
compare the two, exporters write plain graphs).
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import cache

import torch
import torch.nn.functional as F
from torch import nn

from gankit.infra.device import cpu_flags

_state = {"enabled": True}
AS_CONV_MIN_CHANNELS = 16  # both sides of a weight gradient, for the forward-convolution form


@contextmanager
def plain_kernels():
    """Every product on PyTorch's own kernels inside the block."""
    saved, _state["enabled"] = _state["enabled"], False
    try:
        yield
    finally:
        _state["enabled"] = saved


def weight_grad_as_conv(inp: torch.Tensor, gout: torch.Tensor, kernel: int, stride: int,
                        padding: int) -> torch.Tensor:
    """dW[o, i, a, b] = sum over n, y, x of gout[n, o, y, x] * inp_padded[n, i, stride*y + a, stride*x + b]:
    a convolution of inp (channels as the batch) by gout (its channels as output channels, the batch as input
    channels), dilated by the stride. For a transposed convolution pass the output's gradient as `inp` and its
    input as `gout`: the result is then in ConvTranspose2d's (in, out) weight layout."""
    out = F.conv2d(inp.transpose(0, 1), gout.transpose(0, 1), None, 1, padding, stride)
    return out[:, :, :kernel, :kernel].transpose(0, 1).contiguous()


def transposed_by_fold(small: torch.Tensor, weight: torch.Tensor, size: tuple[int, int], kernel: int,
                       stride: int, padding: int, bias: torch.Tensor | None = None) -> torch.Tensor:
    """The transposed convolution of `small` (N, C, h, w) by `weight` (C, c, k, k) onto a (N, c, *size) map, plus
    `bias` (c,): each position's k x k patch of contributions from one matrix product, summed into place by fold.
    In fp32 or better, rounded once at the end as oneDNN's kernels round, not once per patch and again in the
    sum and the bias."""
    n, c = small.shape[:2]
    wide = torch.promote_types(small.dtype, torch.float32)
    patches = weight.reshape(c, -1).t().to(wide) @ small.reshape(n, c, -1).to(wide)  # (N, c k k, h w)
    out = F.fold(patches, size, kernel, padding=padding, stride=stride)
    if bias is not None:
        out = out + bias.to(wide).view(1, -1, 1, 1)
    return out.to(small.dtype)


def _fold_pays(w: torch.Tensor) -> bool:
    """For the transposed product into one channel: a transposed conv's output, a conv's input gradient (the
    channel count is the weight's second dimension in both layouts). The layers only get here on a CPU."""
    return w.shape[1] == 1


@cache
def _has_amx() -> bool:
    return "amx_bf16" in (cpu_flags() or set())


def _as_conv_pays(x: torch.Tensor, w: torch.Tensor) -> bool:
    """For the weight gradient; its two sides are the weight's two channel counts, in both layouts."""
    return x.dtype == torch.bfloat16 and min(w.shape[:2]) >= AS_CONV_MIN_CHANNELS and not _has_amx()


def _output(x, w, b, stride: int, padding: int, transposed: bool) -> torch.Tensor:
    if not transposed:
        return F.conv2d(x, w, b, stride, padding)
    if not _fold_pays(w):
        return F.conv_transpose2d(x, w, b, stride, padding)
    k = w.shape[-1]
    size = tuple((s - 1) * stride - 2 * padding + k for s in x.shape[-2:])
    return transposed_by_fold(x, w, size, k, stride, padding, b)


def _input_grad(gy, x, w, stride: int, padding: int, transposed: bool) -> torch.Tensor:
    if not transposed and _fold_pays(w):
        return transposed_by_fold(gy, w, tuple(x.shape[-2:]), w.shape[-1], stride, padding)
    return torch.ops.aten.convolution_backward(gy, x, w, None, [stride] * 2, [padding] * 2, [1, 1], transposed,
                                               [0, 0], 1, [True, False, False])[0]


def _weight_grad(gy, x, w, stride: int, padding: int, transposed: bool) -> torch.Tensor:
    if _as_conv_pays(x, w):
        inp, gout = (gy, x) if transposed else (x, gy)
        return weight_grad_as_conv(inp, gout, w.shape[-1], stride, padding)
    return torch.ops.aten.convolution_backward(gy, x, w, None, [stride] * 2, [padding] * 2, [1, 1], transposed,
                                               [0, 0], 1, [False, True, False])[1]


def _own_path(x, w, transposed: bool) -> bool:
    """Whether any product this call needs goes to another kernel: else PyTorch's own autograd node (in C++)."""
    if _fold_pays(w) and (transposed or x.requires_grad):
        return True
    return w.requires_grad and _as_conv_pays(x, w)


class _Conv(torch.autograd.Function):
    """A convolution whose backward pass picks each gradient's kernel; built of differentiable operators, so a
    gradient penalty can differentiate through it again."""

    @staticmethod
    def forward(ctx, x, w, b, stride: int, padding: int, transposed: bool):
        ctx.save_for_backward(x, w)
        ctx.geometry, ctx.has_bias = (stride, padding, transposed), b is not None
        return _output(x, w, b, stride, padding, transposed)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = _input_grad(gy, x, w, *ctx.geometry) if need_x else None
        gw = _weight_grad(gy, x, w, *ctx.geometry) if need_w else None
        gb = gy.sum((0, 2, 3)) if need_b and ctx.has_bias else None
        return gx, gw, gb, None, None, None


def _conv(x, w, b, stride: int, padding: int, transposed: bool) -> torch.Tensor:
    if torch.is_autocast_enabled(x.device.type):  # autocast's own rule: fp32 tensors go to its dtype
        dtype = torch.get_autocast_dtype(x.device.type)
        x, w, b = (t.to(dtype) if t is not None and t.dtype == torch.float32 else t for t in (x, w, b))
        with torch.autocast(x.device.type, enabled=False):
            return _conv(x, w, b, stride, padding, transposed)
    if not (torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, w, b))):
        return _output(x, w, b, stride, padding, transposed)
    if _own_path(x, w, transposed):
        return _Conv.apply(x, w, b, stride, padding, transposed)
    return (F.conv_transpose2d if transposed else F.conv2d)(x, w, b, stride, padding)


def _covered(m: nn.modules.conv._ConvNd, x: torch.Tensor) -> bool:
    """Square stride and padding, no dilation, groups or output padding, zero padding, a CPU batch."""
    return (_state["enabled"] and x.device.type == "cpu" and x.dim() == 4 and m.groups == 1
            and m.padding_mode == "zeros" and isinstance(m.padding, tuple) and len(set(m.padding)) == 1
            and len(set(m.stride)) == 1 and set(m.dilation) == {1} and set(m.output_padding) <= {0}
            and len(set(m.kernel_size)) == 1)


class Conv2d(nn.Conv2d):
    def _conv_forward(self, input, weight, bias):
        if not _covered(self, input):
            return super()._conv_forward(input, weight, bias)
        return _conv(input, weight, bias, self.stride[0], self.padding[0], False)


class ConvTranspose2d(nn.ConvTranspose2d):
    def forward(self, input, output_size=None):
        if output_size is not None or not _covered(self, input):
            return super().forward(input, output_size)
        return _conv(input, self.weight, self.bias, self.stride[0], self.padding[0], True)
