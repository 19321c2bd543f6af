"""StyleGAN3 (alias-free, configs T and R) generator with NVlabs' module tree, names and shapes.

`Generator(z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs, **synthesis_kwargs)` takes the keywords
of a stylegan3 pickle's `_init_kwargs` (flat synthesis keywords), so its weights load 1:1 with strict=True. The
mapping network is StyleGAN2's. Synthesis: a Fourier-feature input, then 14 layers + ToRGB whose sizes, channels,
sampling rates and low-pass filters all follow from a frequency schedule (`schedule`). Inference only (no
magnitude EMA updates); the exact path runs every layer in fp32 (NVlabs uses fp16 only on CUDA), `fast_dtype`
selects model/fast_sg3.py's rewrites.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import fast_sg3
from .errors import ModelError
from .layers import FullyConnectedLayer
from .layers_sg3 import design_lowpass, filtered_lrelu, modulated_conv2d
from .networks import MappingNetwork, check_resolution

MAPPING_KEYWORDS = {"num_layers": 2, "lr_multiplier": 0.01, "w_avg_beta": 0.998}  # StyleGAN3's defaults
SYNTHESIS_KEYWORDS = ("channel_base", "channel_max", "num_layers", "num_critical", "first_cutoff", "first_stopband",
                      "last_stopband_rel", "margin_size", "output_scale", "num_fp16_res", "conv_kernel",
                      "filter_size", "lrelu_upsampling", "use_radial_filters", "conv_clamp", "magnitude_ema_beta")
# Keywords that set how many layers and taps exist, bounded before anything is built (a file cannot make us
# design a million-tap filter).
BOUNDS = {"num_layers": (2, 64), "num_critical": (0, 64), "margin_size": (0, 1024), "conv_kernel": (1, 15),
          "filter_size": (1, 64), "lrelu_upsampling": (1, 16)}


@dataclass(frozen=True)
class Schedule:
    """Per layer i = 0..num_layers (the last is ToRGB): cutoff f_c, half-width of the transition band f_h,
    sampling rate, image size (with margins) and channels. float64, as NVlabs computes them."""

    cutoffs: np.ndarray
    half_widths: np.ndarray
    sampling_rates: np.ndarray
    sizes: np.ndarray
    channels: np.ndarray


def schedule(img_resolution: int, img_channels: int, channel_base: int, channel_max: int, num_layers: int,
             num_critical: int, first_cutoff: float, first_stopband: float, last_stopband_rel: float,
             margin_size: int) -> Schedule:
    """Cutoff and stopband rise geometrically from the first layer to the last non-critical one, then stay at
    Nyquist; each layer samples at the power of two that holds its stopband, plus a margin on each side (the two
    last layers are exactly the image); channels are inversely proportional to the cutoff."""
    exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
    last_cutoff = img_resolution / 2
    cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
    stopbands = first_stopband * (last_cutoff * last_stopband_rel / first_stopband) ** exponents
    sampling_rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
    half_widths = np.maximum(stopbands, sampling_rates / 2) - cutoffs
    sizes = sampling_rates + margin_size * 2
    sizes[-2:] = img_resolution
    channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
    channels[-1] = img_channels
    return Schedule(cutoffs, half_widths, sampling_rates, sizes, channels)


def nominal_resolution(cutoff: float) -> int:
    """The StyleGAN2 resolution carrying the same detail: the power of two nearest (in log scale) to 2 * cutoff,
    the resolution whose Nyquist frequency the cutoff is (ties, and float noise near them, go up)."""
    return 2 ** math.floor(math.log2(2 * cutoff) + 0.5 + 1e-9)


class SynthesisInput(nn.Module):
    """Fourier features: sinusoids of fixed frequencies sampled on a grid, rotated and translated per sample by
    the first w, then mixed by a learned [C, C] matrix."""

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float):
        super().__init__()
        self.w_dim, self.channels, self.size = w_dim, channels, size
        self.sampling_rate, self.bandwidth = sampling_rate, bandwidth
        self.affine = FullyConnectedLayer(w_dim, 4)  # (cos, sin, tx, ty); starts as the identity transform
        with torch.no_grad():
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0, 0, 0]))
        self.weight = nn.Parameter(torch.randn([channels, channels]))
        # These few values are made on the CPU even when loaders build the net on the meta device, where the first
        # out-of-place op imports torch._dynamo (1.5 s); a loaded file replaces them.
        with torch.device("cpu"):
            self.register_buffer("transform", torch.eye(3))  # user transform (gen_images' --translate/--rotate)
            angle = torch.rand([channels]) * (2 * math.pi)  # frequencies uniform in the disc of radius bandwidth
            radius = torch.rand([channels]).sqrt() * bandwidth
            self.register_buffer("freqs", torch.stack([angle.cos(), angle.sin()], dim=1) * radius[:, None])
            self.register_buffer("phases", torch.rand([channels]) - 0.5)

    def forward(self, w: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        """`transform` [N, 3, 3], per sample, replaces the stored one (model.render.input_transform builds it
        from a translation and a rotation), so renders never need to change the shared buffer."""
        n = w.shape[0]
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)  # unit rotation (cos, sin) and the translation with it
        rot = torch.eye(3, device=w.device).unsqueeze(0).repeat(n, 1, 1)
        rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
        shift = torch.eye(3, device=w.device).unsqueeze(0).repeat(n, 1, 1)
        shift[:, 0, 2], shift[:, 1, 2] = -t[:, 2], -t[:, 3]
        m = rot @ shift @ (self.transform.unsqueeze(0) if transform is None else transform.to(w.device, w.dtype))
        freqs = self.freqs.unsqueeze(0)
        phases = self.phases.unsqueeze(0) + (freqs @ m[:, :2, 2:]).squeeze(2)
        freqs = freqs @ m[:, :2, :2]
        # Fade out frequencies the rotation pushes beyond the sampling rate's Nyquist band.
        amp = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        theta = torch.eye(2, 3, device=w.device)
        theta[0, 0] = theta[1, 1] = 0.5 * self.size / self.sampling_rate
        grid = torch.nn.functional.affine_grid(theta.unsqueeze(0), [1, 1, self.size, self.size], align_corners=False)
        x = (grid.unsqueeze(3) @ freqs.permute(0, 2, 1).unsqueeze(1).unsqueeze(2)).squeeze(3)  # [N, S, S, C]
        x = x + phases.unsqueeze(1).unsqueeze(2)
        x = torch.sin(x * (math.pi * 2))
        x = x * amp.unsqueeze(1).unsqueeze(2)
        x = x @ (self.weight / math.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)


class SynthesisLayer(nn.Module):
    """Modulated conv, then bias + leaky ReLU at `up` times the output rate between two low-pass filters.

    The ToRGB layer (last) is a 1x1 conv without demodulation, activation or resampling.
    """

    def __init__(self, w_dim: int, is_torgb: bool, is_critically_sampled: bool, use_fp16: bool,
                 in_channels: int, out_channels: int, in_size: int, out_size: int, in_sampling_rate: int,
                 out_sampling_rate: int, in_cutoff: float, out_cutoff: float, in_half_width: float,
                 out_half_width: float, conv_kernel: int = 3, filter_size: int = 6, lrelu_upsampling: int = 2,
                 use_radial_filters: bool = False, conv_clamp: float | None = 256, magnitude_ema_beta: float = 0.999):
        super().__init__()
        self.w_dim, self.is_torgb, self.is_critically_sampled = w_dim, is_torgb, is_critically_sampled
        self.use_fp16, self.in_channels, self.out_channels = use_fp16, in_channels, out_channels
        self.in_size, self.out_size = in_size, out_size
        self.in_sampling_rate, self.out_sampling_rate = in_sampling_rate, out_sampling_rate
        self.tmp_sampling_rate = max(in_sampling_rate, out_sampling_rate) * (1 if is_torgb else lrelu_upsampling)
        self.in_cutoff, self.out_cutoff = in_cutoff, out_cutoff
        self.in_half_width, self.out_half_width = in_half_width, out_half_width
        self.conv_kernel = 1 if is_torgb else conv_kernel
        self.conv_clamp, self.magnitude_ema_beta = conv_clamp, magnitude_ema_beta
        self.up_factor = self._factor(self.tmp_sampling_rate, in_sampling_rate)
        self.down_factor = self._factor(self.tmp_sampling_rate, out_sampling_rate)
        self.up_taps = filter_size * self.up_factor if self.up_factor > 1 and not is_torgb else 1
        self.down_taps = filter_size * self.down_factor if self.down_factor > 1 and not is_torgb else 1
        self.down_radial = use_radial_filters and not is_critically_sampled
        # Pad so that zero insertion, both filters and the down-sampling give exactly out_size samples.
        total = ((out_size - 1) * self.down_factor + 1 - (in_size + self.conv_kernel - 1) * self.up_factor
                 + self.up_taps + self.down_taps - 2)
        lo = (total + self.up_factor) // 2
        self.padding = [lo, total - lo, lo, total - lo]

        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        k = self.conv_kernel
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, k, k]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))
        for name, design in self.designed_filters().items():
            self.register_buffer(name, None if design is None else torch.tensor(design, dtype=torch.float32))

    @staticmethod
    def _factor(tmp_rate: float, rate: float) -> int:
        factor = int(np.rint(tmp_rate / rate))
        if factor * rate != tmp_rate:
            raise ModelError(f"unsupported network: sampling rates {rate} and {tmp_rate} are not integer multiples")
        return factor

    def designed_filters(self) -> dict[str, np.ndarray | None]:
        """The two low-pass filters this layer's schedule asks for (None: a single tap, not stored)."""
        fs = self.tmp_sampling_rate
        return {"up_filter": design_lowpass(self.up_taps, self.in_cutoff, self.in_half_width * 2, fs),
                "down_filter": design_lowpass(self.down_taps, self.out_cutoff, self.out_half_width * 2, fs,
                                              radial=self.down_radial)}

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles * (1 / math.sqrt(self.in_channels * self.conv_kernel ** 2))
        x = modulated_conv2d(x, self.weight, styles, demodulate=not self.is_torgb, padding=self.conv_kernel - 1,
                             input_gain=self.magnitude_ema.rsqrt())
        gain, slope = (1, 1) if self.is_torgb else (math.sqrt(2), 0.2)
        return filtered_lrelu(x, self.up_filter, self.down_filter, self.bias, self.up_factor, self.down_factor,
                              self.padding, gain, slope, self.conv_clamp)


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image: ws[:, 0] drives the input's transform, ws[:, i + 1] layer i."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 32768,
                 channel_max: int = 512, num_layers: int = 14, num_critical: int = 2, first_cutoff: float = 2,
                 first_stopband: float = 2 ** 2.1, last_stopband_rel: float = 2 ** 0.3, margin_size: int = 10,
                 output_scale: float = 0.25, num_fp16_res: int = 4, **layer_kwargs):
        super().__init__()
        check_resolution(img_resolution)
        if not 0 <= num_critical < num_layers:
            raise ModelError(f"unsupported network: StyleGAN3 num_critical {num_critical} of {num_layers} layers")
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.num_layers, self.num_critical, self.margin_size = num_layers, num_critical, margin_size
        self.output_scale, self.num_fp16_res = output_scale, num_fp16_res
        self.num_ws = num_layers + 2
        s = schedule(img_resolution, img_channels, channel_base, channel_max, num_layers, num_critical,
                     first_cutoff, first_stopband, last_stopband_rel, margin_size)
        self.input = SynthesisInput(w_dim, int(s.channels[0]), int(s.sizes[0]), int(s.sampling_rates[0]),
                                    float(s.cutoffs[0]))
        self.layer_names = []
        for i in range(num_layers + 1):
            p = max(i - 1, 0)
            layer = SynthesisLayer(
                w_dim, is_torgb=i == num_layers, is_critically_sampled=i >= num_layers - num_critical,
                use_fp16=bool(s.sampling_rates[i] * 2 ** num_fp16_res > img_resolution),
                in_channels=int(s.channels[p]), out_channels=int(s.channels[i]), in_size=int(s.sizes[p]),
                out_size=int(s.sizes[i]), in_sampling_rate=int(s.sampling_rates[p]),
                out_sampling_rate=int(s.sampling_rates[i]), in_cutoff=float(s.cutoffs[p]),
                out_cutoff=float(s.cutoffs[i]), in_half_width=float(s.half_widths[p]),
                out_half_width=float(s.half_widths[i]), **layer_kwargs)
            name = f"L{i}_{layer.out_size}_{layer.out_channels}"
            setattr(self, name, layer)
            self.layer_names.append(name)
        self.w_resolutions = tuple(nominal_resolution(c) for c in (s.cutoffs[0], *s.cutoffs))

    def layers(self) -> list[SynthesisLayer]:
        return [getattr(self, name) for name in self.layer_names]

    def conv_layers(self) -> list[tuple[int, nn.Module]]:
        """(w index, layer) of every modulated conv but ToRGB, in w order (the input's affine is a transform)."""
        return [(i + 1, layer) for i, layer in enumerate(self.layers()) if not layer.is_torgb]

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", force_fp32: bool = False,
                fast_dtype: torch.dtype | None = None, transform: torch.Tensor | None = None) -> torch.Tensor:
        """The keywords are StyleGAN2's (there is no noise to choose) plus the input's `transform` [N, 3, 3].
        `fast_dtype` None is the exact fp32 path (NVlabs' op order), a dtype model/fast_sg3.py's ops."""
        if fast_dtype is not None:
            return fast_sg3.synthesis(self, ws, fast_dtype, transform)
        ws = ws.to(torch.float32).unbind(dim=1)
        x = self.input(ws[0], transform)
        for layer, w in zip(self.layers(), ws[1:], strict=True):
            x = layer(x, w)
        if self.output_scale != 1:
            x = x * self.output_scale
        return x.to(torch.float32)


class Generator(nn.Module):
    """G(z, c) = synthesis(mapping(z, c)); keywords as in a stylegan3 pickle (`--cfg=stylegan3-t` or `-r`)."""

    family = "stylegan3"

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, img_resolution: int, img_channels: int,
                 mapping_kwargs: dict | None = None, **synthesis_kwargs):
        super().__init__()
        mapping_kwargs = dict(mapping_kwargs or {})
        check_keywords(mapping_kwargs, synthesis_kwargs)
        self.init_kwargs = dict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution,
                                img_channels=img_channels, mapping_kwargs=mapping_kwargs, **synthesis_kwargs)
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.w_resolutions = self.synthesis.w_resolutions
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, num_ws=self.num_ws, **{**MAPPING_KEYWORDS,
                                                                                   **mapping_kwargs})

    @property
    def config(self) -> str:
        """'r' for radial (rotation-equivariant) filters, else 't' (translation-equivariant)."""
        return "r" if self.init_kwargs.get("use_radial_filters") else "t"

    def check_filters(self, tensors: dict[str, torch.Tensor]) -> None:
        """The stored filters must be the low-pass filters the schedule designs (to float rounding)."""
        for layer_name, layer in zip(self.synthesis.layer_names, self.synthesis.layers(), strict=True):
            for name, design in layer.designed_filters().items():
                key = f"synthesis.{layer_name}.{name}"
                if design is None:
                    continue
                want = torch.from_numpy(design).float()
                if not torch.allclose(tensors[key], want, rtol=1e-6, atol=1e-6 * float(want.abs().max())):
                    raise ModelError(f"incompatible weights: '{key}' is not the low-pass filter its layer's "
                                     "schedule designs")

    def forward(self, z: torch.Tensor, c: torch.Tensor | None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, noise_mode: str = "const", force_fp32: bool = False,
                fast_dtype: torch.dtype | None = None) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi, truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, force_fp32=force_fp32, fast_dtype=fast_dtype)


def check_keywords(mapping_kwargs: dict, synthesis_kwargs: dict) -> None:
    """Only StyleGAN3's own keywords, within bounds: anything else may change the maths."""
    for key in mapping_kwargs:
        if key not in MAPPING_KEYWORDS:
            raise ModelError(f"unsupported network: unknown StyleGAN3 mapping keyword '{key}'")
    for key, value in synthesis_kwargs.items():
        if key not in SYNTHESIS_KEYWORDS:
            raise ModelError(f"unsupported network: unknown StyleGAN3 keyword '{key}'")
        lo, hi = BOUNDS.get(key, (None, None))
        if lo is not None and (type(value) is not int or not lo <= value <= hi):
            raise ModelError(f"unsupported network: StyleGAN3 {key} {value!r:.40} (expected an integer in {lo}..{hi})")
