"""StyleGAN3 building blocks: low-pass filter design, filtered leaky ReLU and the modulated convolution of the
alias-free layers (FIR resampling is model/layers.py's upfirdn2d, with separable filters).

These are the exact versions: each follows the operation order of NVlabs' CPU reference path (see the StyleGAN3
compatibility spec), which makes fp32 CPU images bit-identical to theirs. Faster rewrites that round differently
do not belong here.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .layers import upfirdn2d

# ---------------------------------------------------------------------------------------------------------
# Filter design (float64 numpy). Loaded networks use their stored filters; these rebuild them for new
# networks and to check that a file's filters are the low-pass filters its keywords describe.


def kaiser_beta(numtaps: int, width: float, fs: float) -> float:
    """Kaiser window beta for a transition band `width` (Hz at sample rate fs), by Kaiser's empirical formula."""
    atten = 2.285 * (numtaps - 1) * np.pi * (width / (fs / 2)) + 7.95
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    if atten >= 21:
        return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21)
    return 0.0


def design_lowpass(numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False) -> np.ndarray | None:
    """A Kaiser-windowed low-pass FIR with unit DC gain, or None for one tap (the identity).

    Separable: a windowed sinc, `numtaps` taps, used along both axes. Radial: a `numtaps`² 2-D filter whose
    pass band is a disc (the jinc function, J1(2π f_c r) / (π r)), windowed by the outer product of the window.
    """
    if numtaps == 1:
        return None
    window = np.kaiser(numtaps, kaiser_beta(numtaps, width, fs))
    if not radial:
        rate = cutoff / (fs / 2)
        f = rate * np.sinc(rate * (np.arange(numtaps) - (numtaps - 1) / 2)) * window
    else:
        x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
        r = np.hypot(*np.meshgrid(x, x))  # never 0: numtaps is even
        j1 = torch.special.bessel_j1(torch.from_numpy(2 * cutoff * (np.pi * r))).numpy()
        f = j1 / (np.pi * r) * np.outer(window, window)
    return f / np.sum(f)


# ---------------------------------------------------------------------------------------------------------
# Operations


def filtered_lrelu(x: torch.Tensor, fu: torch.Tensor | None, fd: torch.Tensor | None, b: torch.Tensor, up: int,
                   down: int, padding: tuple[int, int, int, int], gain: float, slope: float,
                   clamp: float | None) -> torch.Tensor:
    """Bias, upsample, leaky ReLU (times gain, clamped), downsample: the nonlinearity at `up` times the rate,
    so the harmonics it creates are filtered out before going back down."""
    x = x + b.to(x.dtype).reshape(1, -1, 1, 1)
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up ** 2)
    if slope != 1:
        x = F.leaky_relu(x, slope)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-float(clamp), float(clamp))
    return upfirdn2d(x, fd, down=down)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool,
                     padding: int, input_gain: torch.Tensor) -> torch.Tensor:
    """One grouped conv of x[N, I] with weight[O, I] scaled per sample by styles[N, I] (and demodulated).

    Weight and styles are first normalised to unit mean square (this cancels in the demodulation but sets its
    rounding); the styles over the whole batch, so a batch renders slightly differently from single images.
    """
    n = x.shape[0]
    o, i, kh, kw = weight.shape
    if demodulate:
        weight = weight * weight.square().mean([1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean().rsqrt()
    w = weight.unsqueeze(0) * styles.reshape(n, 1, i, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(n, o, 1, 1, 1)
    w = w * input_gain
    x = F.conv2d(x.reshape(1, n * i, *x.shape[2:]), w.reshape(n * o, i, kh, kw).to(x.dtype), padding=padding,
                 groups=n)
    return x.reshape(n, o, *x.shape[2:])
