"""StyleGAN3's fast path: the alias-free layers with speed-first operations (model/fast.py does StyleGAN2's).

The exact path (model/layers_sg3.py) zero-inserts before its up-sampling filter, filters every sample of the
up-sampled image and then drops three in four; its depthwise FIR convolutions are 70-80 % of a CPU render. Here the
same maths, rounded differently:

- One FIR pass along one axis (crop or pad, zero insertion, filter, keep every d-th sample) is a banded matrix.
  It runs as dense products of a tile of output rows with the window of input rows it reads (`Pass`): BLAS speed
  (AMX in bf16) instead of a depthwise conv's, and no zero is stored or multiplied outside the band.
- Activations are NHWC and a pass runs along the first spatial axis, where a tile times [rows, W*C] is one large
  product. The first pass of a filter writes its result transposed, tile by tile, for the second: the up-sampled
  tensor holds [W, H], and the down filter's first pass, along W, brings it back to [H, W].
- R's radial (non-separable) down filters are sums of 2-3 separable ones (their SVD, components above
  `RADIAL_TOLERANCE` of the largest), run as two passes: the first stacks the components, the second sums them.
- Modulation, demodulation and the input gain fold into the conv weight at batch 1 (scale the activations and the
  output otherwise); the bias goes into the conv, the leaky ReLU's gain into the up filter, and the clamp is skipped
  when no value reaches it.
- Layers compute in `dtype` (bf16 on CPUs with AMX), NHWC; styles, the Fourier input and the image stay fp32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .fast import act_clamp, block_dtype, conv2d, derived

RADIAL_TOLERANCE = 1e-3  # SVD components of a radial filter below this fraction of the largest are dropped
CHUNK_BYTES = 64 << 20  # the down filter's intermediate result is made in bands of about this size
TILE_IN = 64  # input rows a tile's product reads: larger tiles multiply more zeros, smaller ones run BLAS slower


def _inplace(x: torch.Tensor) -> bool:
    return not (torch.is_grad_enabled() and x.requires_grad)


@dataclass(frozen=True)
class Pass:
    """One resampling along dim 1 of [N, rows, ...]: out[q] = sum_i A[q, i] x[i], A banded.

    A[q, i] = gain * f[K-1-k] for k = i*up - q*down + pad, 0 <= k < K: zero insertion by `up`, padding (a negative
    pad crops), true convolution with f, every `down`-th sample. Output rows are cut into tiles of `tile`; tile t
    reads input rows first + t*step ... + tile_in, the same tile matrix for all (edge tiles drop the rows outside the
    input). With several filters (components of a radial filter), `stack` puts them side by side on the output (one
    output row per component: [q, component]) and `merge` sums them from such an input.
    """

    matrix: torch.Tensor  # [tile * out_group, tile_in * in_group], float32
    tile: int
    tile_in: int
    step: int
    first: int
    size_in: int
    size_out: int
    in_group: int = 1
    out_group: int = 1

    @property
    def norm(self) -> float:
        """The largest |output| per unit of max |input| (the matrix's largest row L1 norm)."""
        return float(self.matrix.abs().sum(dim=1).max())

    def __call__(self, x: torch.Tensor, transpose: bool = False, rows: tuple[int, int] | None = None) -> torch.Tensor:
        """NHWC-like x [N, size_in * in_group, A, C] -> [N, size_out * out_group, A, C], or with `transpose`
        [N, A * out_group, size_out, C]: each tile is transposed while it is small, instead of the whole result.
        `rows` (start, stop): only those output rows, start on a tile boundary."""
        start, stop = rows or (0, self.size_out)
        size = stop - start
        n, (a_size, c) = x.shape[0], x.shape[2:]
        src = x.reshape(n, self.size_in * self.in_group, a_size * c)
        m = derived(self.matrix, f"{x.dtype} {x.device}", lambda m: m.to(x.device, x.dtype))
        gi, go, parts = self.in_group, self.out_group, []
        out = None
        if _inplace(x):
            out = src.new_empty([n, a_size, go, size, c] if transpose else [n, size * go, a_size * c])
        for q0 in range(start, stop, self.tile):
            q1 = min(q0 + self.tile, stop)
            a = self.first + q0 // self.tile * self.step
            a0, a1 = max(a, 0), min(a + self.tile_in, self.size_in)
            mt, xt = m[:(q1 - q0) * go, (a0 - a) * gi:(a1 - a) * gi], src[:, a0 * gi:a1 * gi]
            if out is None:
                parts.append(torch.matmul(mt, xt))
            elif transpose:
                for i in range(n):
                    tile = torch.matmul(mt, xt[i]).reshape(q1 - q0, go, a_size, c)
                    out[i, :, :, q0 - start:q1 - start] = tile.permute(2, 1, 0, 3)
            else:
                for i in range(n):
                    torch.matmul(mt, xt[i], out=out[i, (q0 - start) * go:(q1 - start) * go])
        if out is None:
            out = torch.cat(parts, dim=1)
            if transpose:
                out = out.reshape(n, size, go, a_size, c).permute(0, 3, 2, 1, 4).contiguous()
        if transpose:
            return out.reshape(n, a_size * go, size, c)
        return out.reshape(n, size * go, a_size, c)


def make_pass(filters: list[np.ndarray], up: int, down: int, pad: int, size_in: int, size_out: int, gain: float,
              combine: str = "stack") -> Pass:
    """The Pass for 1-D filters of K taps (float64); several filters are stacked on the output or merged
    (summed) from a stacked input. Tiles are as large as keeps a tile's input window within TILE_IN samples."""
    k, r = len(filters[0]), len(filters)
    in_group, out_group = (r, 1) if combine == "merge" else (1, r)
    first = -(pad // up)  # the first input sample output 0 reads: ceil(-pad / up)
    unit = up // math.gcd(up, down)  # tiles must start on the same filter phase: tile * down divisible by up

    def tile_in(tile: int) -> int:
        return ((tile - 1) * down - pad + k - 1) // up - first + 1

    tile = unit
    while tile < size_out and tile_in(tile + unit) <= TILE_IN:
        tile += unit
    q = np.arange(tile)[:, None]
    taps = (first + np.arange(tile_in(tile))[None, :]) * up - q * down + pad  # k of A[q, i]
    inside = (taps >= 0) & (taps < k)
    mats = [np.where(inside, f[np.clip(k - 1 - taps, 0, k - 1)], 0.0) * gain for f in filters]
    matrix = np.stack(mats, axis=2 if combine == "merge" else 1).reshape(tile * out_group, -1)
    return Pass(torch.from_numpy(matrix).float(), tile, tile_in(tile), tile * down // up, first, size_in, size_out,
                in_group, out_group)


def _filter(f: torch.Tensor | None) -> np.ndarray:
    return np.ones(1) if f is None else f.double().cpu().numpy()


def radial_components(f: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A 2-D filter as sum_r outer(rows[r], cols[r]) (its SVD): rows filter along the height, cols the width."""
    u, s, vt = np.linalg.svd(f)
    keep = s > RADIAL_TOLERANCE * s[0]
    return list((u * s)[:, keep].T), list(vt[keep])


def layer_passes(layer) -> tuple[Pass, Pass, Pass]:
    """A SynthesisLayer's up pass (used along H, then W) and its two down passes (along W, then H)."""
    size = layer.in_size + layer.conv_kernel - 1  # the conv pads by k - 1 on each side
    lo, hi = layer.padding[:2]
    fu = _filter(layer.up_filter)
    tmp = size * layer.up_factor + lo + hi - len(fu) + 1
    up = make_pass([fu], layer.up_factor, 1, lo, size, tmp, layer.up_factor * 2 ** 0.25)  # sqrt(2) in two passes
    fd = _filter(layer.down_filter)
    rows, cols = radial_components(fd) if fd.ndim == 2 else ([fd], [fd])
    out = (tmp - len(fd)) // layer.down_factor + 1
    return (up, make_pass(cols, 1, layer.down_factor, 0, tmp, out, 1.0, "stack"),
            make_pass(rows, 1, layer.down_factor, 0, tmp, out, 1.0, "merge"))


def _normalised(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight at unit mean square per output channel (as the exact path, which sets the demodulation's
    epsilon relative to it) and its sums of squares per [in, out] pair."""
    weight = weight * weight.square().mean([1, 2, 3], keepdim=True).rsqrt()
    return weight, weight.square().sum(dim=[2, 3]).t()


def modulated_conv(layer, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """NHWC x -> NHWC conv output + bias: the exact path's modulated_conv2d and the bias add of filtered_lrelu."""
    n, dtype = x.shape[0], x.dtype
    styles = layer.affine(w)
    o, i, k, _ = layer.weight.shape
    gain = layer.magnitude_ema.rsqrt()
    if layer.is_torgb:
        weight, styles = layer.weight, styles * (1 / math.sqrt(i * k * k))
        scale = gain.expand(n, o)
    else:
        weight, sums = derived(layer.weight, "sg3 normalised", _normalised)
        styles = styles * styles.square().mean().rsqrt()
        scale = (styles.square() @ sums + 1e-8).rsqrt() * gain
    x, bias = x.permute(0, 3, 1, 2), layer.bias.to(dtype)
    if n == 1 and weight.numel() <= x.numel():  # one sample: everything folds into the (smaller) weight
        weight = weight * styles.reshape(1, i, 1, 1) * scale.reshape(o, 1, 1, 1)
        y = F.conv2d(x, weight.to(dtype).contiguous(memory_format=torch.channels_last), bias, padding=k - 1)
    else:  # a shared weight, packed once for oneDNN (fast.conv2d)
        weight = derived(layer.weight, f"sg3 {dtype}",
                         lambda _: weight.to(dtype).contiguous(memory_format=torch.channels_last))
        y = conv2d(x * styles.to(dtype).reshape(n, i, 1, 1), weight, None, (k - 1, k - 1), layer.weight, "sg3")
        args = bias.reshape(1, o, 1, 1), y, scale.to(dtype).reshape(n, o, 1, 1)
        y = torch.addcmul(*args, out=y) if _inplace(y) else torch.addcmul(*args)
    return y.permute(0, 2, 3, 1).contiguous()


def _max_abs(x: torch.Tensor) -> float:
    lo, hi = torch.aminmax(x.detach())
    return max(-float(lo), float(hi))


def synthesis_layer(layer, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """NHWC in, NHWC out: conv, up-sample, leaky ReLU, clamp, down-sample."""
    x = modulated_conv(layer, x, w)
    if layer.is_torgb:  # no filters, no padding, no activation
        return act_clamp(x, "linear", layer.conv_clamp)
    up, down_w, down_h = derived(layer.weight, "sg3 passes", lambda _: layer_passes(layer))
    clamp = layer.conv_clamp
    if clamp is not None and x.device.type == "cpu" and _max_abs(x) * up.norm ** 2 <= clamp:
        clamp = None  # the up-sampled values cannot reach the clamp: no need to look at the 4x larger tensor
    x = up(up(x, transpose=True))  # along H, then W: [N, W, H, C]
    x = act_clamp(x, "lrelu", clamp)
    # Down along W, then H (via [N, H * components, W', C]), a band of W' at a time: at 1024² a whole [H, W']
    # with R's 2-3 components weighs as much as the up-sampled tensor (1.3 GB).
    out = x.new_empty([x.shape[0], down_h.size_out, down_w.size_out, x.shape[3]])
    column = x.shape[2] * down_w.out_group * x.shape[3] * x.element_size()
    band = max(CHUNK_BYTES // column // down_w.tile, 1) * down_w.tile
    for w0 in range(0, down_w.size_out, band):
        w1 = min(w0 + band, down_w.size_out)
        out[:, :, w0:w1] = down_h(down_w(x, transpose=True, rows=(w0, w1)))
    return out


def synthesis(net, ws: torch.Tensor, dtype: torch.dtype, transform: torch.Tensor | None = None) -> torch.Tensor:
    """SynthesisNetwork.forward on the fast ops: ws [N, num_ws, w_dim] -> float32 images [N, C, H, W]."""
    ws = ws.to(torch.float32).unbind(dim=1)
    x = net.input(ws[0], transform).permute(0, 2, 3, 1).contiguous()
    for layer, w in zip(net.layers(), ws[1:], strict=True):
        x = synthesis_layer(layer, x.to(torch.float32 if layer.is_torgb else block_dtype(dtype, layer.use_fp16)), w)
    x = x.permute(0, 3, 1, 2).float()
    return (x * net.output_scale if net.output_scale != 1 else x).contiguous()
