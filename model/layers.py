"""StyleGAN2 building blocks: FIR resampling, bias+activation, equalised-lr layers, modulated convolution.

The operation order follows the compatibility spec (§4.20) on purpose: on the CPU in fp32 it makes our
networks bit-identical to NVlabs' reference, so the same seed gives the same image. Mathematically equal
rewrites (for speed) belong in a separate fast path, never here.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import fast
from .errors import ModelError

ACT_GAINS = {"linear": 1.0, "lrelu": math.sqrt(2)}
FIR_TAPS = (1, 3, 3, 1)


def check_activation(name: str) -> str:
    if name not in ACT_GAINS:
        raise ModelError(f"unsupported network: activation '{name}' (only lrelu and linear are supported)")
    return name


def check_resample_filter(taps) -> None:
    if list(taps) != list(FIR_TAPS):
        raise ModelError(f"unsupported network: resample filter {list(taps)} (only [1, 3, 3, 1] is supported)")


def check_fir_buffers(tensors: dict[str, torch.Tensor]) -> None:
    """A StyleGAN2 file's `resample_filter` buffers must hold exactly the [1, 3, 3, 1] filter (spec §6.6 step 2)."""
    fir = fir_filter()
    for key, t in tensors.items():
        if key.endswith("resample_filter") and not torch.equal(t, fir):
            raise ModelError(f"incompatible weights: '{key}' is not the [1, 3, 3, 1] resample filter")


def fir_filter() -> torch.Tensor:
    """The 4x4 binomial filter: outer product of [1, 3, 3, 1] normalised to sum 1 (k / 64, exact in fp32).

    Made from Python numbers: torch's meta versions of outer and divide are Python code whose first call imports
    sympy and torch._dynamo (loaders build networks on the meta device).
    """
    total = sum(FIR_TAPS) ** 2
    return torch.tensor([[a * b / total for b in FIR_TAPS] for a in FIR_TAPS], dtype=torch.float32)


def upfirdn2d(x: torch.Tensor, f: torch.Tensor | None, up: int = 1, down: int = 1,
              padding: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Zero-insert by `up`, pad (x0, x1, y0, y1; negative crops), convolve, keep every `down`-th sample.

    f None is the identity. A 1-D filter is separable: it runs along the width, then along the height, each
    time scaled by sqrt(gain); a 2-D filter runs once, scaled by gain.
    """
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x0, x1, y0, y1 = padding
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    x = x[:, :, max(-y0, 0):x.shape[2] - max(-y1, 0), max(-x0, 0):x.shape[3] - max(-x1, 0)]
    if f is not None:
        f = (f * gain ** (f.ndim / 2)).to(x.dtype).flip(list(range(f.ndim)))
        if f.ndim == 2:
            x = F.conv2d(x, f[None, None].repeat(c, 1, 1, 1), groups=c)
        else:
            x = F.conv2d(x, f[None, None, None].repeat(c, 1, 1, 1), groups=c)
            x = F.conv2d(x, f[None, None, :, None].repeat(c, 1, 1, 1), groups=c)
    return x[:, :, ::down, ::down]


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return upfirdn2d(x, f, up=2, padding=(2, 1, 2, 1), gain=4)


def downsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return upfirdn2d(x, f, down=2, padding=(1, 1, 1, 1))


def bias_act(x: torch.Tensor, b: torch.Tensor | None, act: str = "linear", gain: float | None = None,
             clamp: float | None = None) -> torch.Tensor:
    """y = clamp(act(x + b) * gain, -clamp, clamp), bias on axis 1, four separate ops."""
    if b is not None:
        x = x + b.reshape([-1 if i == 1 else 1 for i in range(x.ndim)])
    if act == "lrelu":
        x = F.leaky_relu(x, 0.2)
    gain = ACT_GAINS[act] if gain is None else gain
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def conv2d_resample(x: torch.Tensor, w: torch.Tensor, f: torch.Tensor | None = None, up: int = 1,
                    down: int = 1, groups: int = 1) -> torch.Tensor:
    """The convolution cases StyleGAN2 uses (spec §4.11); 'same' padding for k = 1 or 3."""
    k = w.shape[-1]
    if up == 1 and down == 1:
        return F.conv2d(x, w, padding=k // 2, groups=groups)
    if k == 1 and down == 2:
        return F.conv2d(downsample2d(x, f), w, groups=groups)
    if k == 1 and up == 2:
        return upsample2d(F.conv2d(x, w, groups=groups), f)
    if k == 3 and down == 2:
        return F.conv2d(upfirdn2d(x, f, padding=(2, 2, 2, 2)), w, stride=2, groups=groups)
    if k == 3 and up == 2:
        # Transposed conv wants [in, out/groups, k, k] per group; no spatial flip (spec §4.11).
        o, i = w.shape[:2]
        w = w.reshape(groups, o // groups, i, k, k).transpose(1, 2).reshape(groups * i, o // groups, k, k)
        x = F.conv_transpose2d(x, w, stride=2, groups=groups)
        return upfirdn2d(x, f, padding=(1, 1, 1, 1), gain=4)
    raise ValueError(f"unsupported resampling: kernel {k}, up {up}, down {down}")


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                     noise: torch.Tensor | None = None, up: int = 1, f: torch.Tensor | None = None,
                     demodulate: bool = True, fused: bool = True) -> torch.Tensor:
    """Convolve x[N, I] with weight[O, I] scaled per sample by styles[N, I], then demodulate.

    `fused` folds the batch into groups (one conv with per-sample weights); the non-fused form scales the
    activations instead and shares one weight, which is what training and large fp16 batches use.
    """
    n = x.shape[0]
    o, i, kh, kw = weight.shape
    if x.dtype == torch.float16 and demodulate:  # keep fp16 from overflowing; demodulation cancels it
        weight = weight * (1 / np.sqrt(i * kh * kw) / weight.abs().amax(dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.abs().amax(dim=1, keepdim=True)
    w = dcoefs = None
    if demodulate or fused:
        w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
    if not fused:
        x = x * styles.to(x.dtype).reshape(n, -1, 1, 1)
        x = conv2d_resample(x, weight.to(x.dtype), f, up=up)
        if demodulate and noise is not None:
            return torch.addcmul(noise.to(x.dtype), x, dcoefs.to(x.dtype).reshape(n, -1, 1, 1))
        if demodulate:
            return x * dcoefs.to(x.dtype).reshape(n, -1, 1, 1)
        return x if noise is None else x + noise.to(x.dtype)
    if demodulate:
        w = w * dcoefs.reshape(n, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    x = conv2d_resample(x, w.reshape(-1, i, kh, kw).to(x.dtype), f, up=up, groups=n)
    x = x.reshape(n, -1, *x.shape[2:])
    if noise is not None:
        x = x.add_(noise)
    return x


class FullyConnectedLayer(nn.Module):
    """Equalised-learning-rate dense layer: weights stored at unit scale, gain applied at run time."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.activation = check_activation(activation)
        self.weight = nn.Parameter(torch.randn([out_features, in_features]).div_(lr_multiplier))  # see fir_filter
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = fast.derived(self.weight, f"gain {x.dtype}", lambda w: w.to(x.dtype) * self.weight_gain)  # same values
        b = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)


class Conv2dLayer(nn.Module):
    """Equalised-lr convolution with optional 2x up/down FIR resampling (D layers, G resnet skips).

    `trainable=False` stores weight and bias as buffers under the same names (NVlabs' freeze-D).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "linear", up: int = 1, down: int = 1, conv_clamp: float | None = None,
                 trainable: bool = True):
        super().__init__()
        self.activation = check_activation(activation)
        self.up, self.down, self.conv_clamp = up, down, conv_clamp
        self.register_buffer("resample_filter", fir_filter())
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.act_gain = ACT_GAINS[activation]
        weight = torch.randn([out_channels, in_channels, kernel_size, kernel_size])
        bias_t = torch.zeros([out_channels]) if bias else None
        if trainable:
            self.weight = nn.Parameter(weight)
            self.bias = nn.Parameter(bias_t) if bias else None
        else:
            self.register_buffer("weight", weight)
            self.register_buffer("bias", bias_t)

    def forward(self, x: torch.Tensor, gain: float = 1.0, fast_dtype: torch.dtype | None = None) -> torch.Tensor:
        """`fast_dtype` set: model/fast.py's ops (x already in that dtype); None: the exact op order."""
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        if fast_dtype is not None:
            return fast.conv_layer(x, self.weight * self.weight_gain, self.bias, self.resample_filter, self.up,
                                   self.down, self.activation, self.act_gain * gain, clamp)
        w = (self.weight * self.weight_gain).to(x.dtype)
        b = self.bias.to(x.dtype) if self.bias is not None else None
        x = conv2d_resample(x, w, self.resample_filter, up=self.up, down=self.down)
        return bias_act(x, b, self.activation, gain=self.act_gain * gain, clamp=clamp)
