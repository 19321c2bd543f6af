"""StyleGAN2 Generator and Discriminator with NVlabs' module tree, names and shapes.

`Generator(z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs, synthesis_kwargs)` takes the
same keywords as a stylegan2-ada-pytorch pickle's `_init_kwargs`, so its weights load 1:1 with strict=True.
Every network keeps `init_kwargs` (plain JSON-able dict) so a checkpoint can record how to rebuild it.
fp16 blocks run in fp16 only on CUDA (as the stylegan3 repo does); elsewhere everything is fp32.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import fast
from .errors import ModelError
from .latents import w_resolutions
from .layers import (
    ACT_GAINS,
    Conv2dLayer,
    FullyConnectedLayer,
    bias_act,
    check_activation,
    check_fir_buffers,
    check_resample_filter,
    downsample2d,
    fir_filter,
    modulated_conv2d,
    normalize_2nd_moment,
    upsample2d,
)

ARCHITECTURES = ("orig", "skip", "resnet")


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
    return min(channel_base // res, channel_max)


def fp16_resolution(img_resolution: int, num_fp16_res: int) -> int:
    return max(2 ** (int(math.log2(img_resolution)) + 1 - num_fp16_res), 8)


def check_resolution(img_resolution: int) -> int:
    if img_resolution < 4 or img_resolution & (img_resolution - 1):
        raise ModelError(f"unsupported network: resolution {img_resolution} is not a power of two >= 4")
    return int(math.log2(img_resolution))


def check_architecture(architecture: str) -> str:
    if architecture not in ARCHITECTURES:
        raise ModelError(f"unsupported network: architecture '{architecture}'")
    return architecture


def block_dtype(use_fp16: bool, force_fp32: bool, device: torch.device,
                fast_dtype: torch.dtype | None) -> torch.dtype:
    if fast_dtype is not None and not force_fp32:
        return fast.block_dtype(fast_dtype, use_fp16)
    return torch.float16 if use_fp16 and not force_fp32 and device.type == "cuda" else torch.float32


def block_layout(channels_last: bool, dtype: torch.dtype, fast_dtype: torch.dtype | None) -> torch.memory_format:
    """NVlabs uses channels_last only for fp16 blocks with fp16_channels_last; the fast path always does."""
    if fast_dtype is not None or (channels_last and dtype == torch.float16):
        return torch.channels_last
    return torch.contiguous_format


# ---------------------------------------------------------------------------------------------------------
# Generator


class MappingNetwork(nn.Module):
    """z (+ class embedding) -> w through an MLP with lr multiplier 0.01; tracks w_avg for truncation."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int | None, num_layers: int = 8,
                 embed_features: int | None = None, layer_features: int | None = None,
                 activation: str = "lrelu", lr_multiplier: float = 0.01, w_avg_beta: float | None = 0.995):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers, self.w_avg_beta = num_layers, w_avg_beta
        embed_features = (w_dim if embed_features is None else embed_features) if c_dim else 0
        layer_features = w_dim if layer_features is None else layer_features
        widths = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for i in range(num_layers):
            fc = FullyConnectedLayer(widths[i], widths[i + 1], activation=activation, lr_multiplier=lr_multiplier)
            setattr(self, f"fc{i}", fc)
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor | None, c: torch.Tensor | None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, update_emas: bool = False) -> torch.Tensor:
        x = normalize_2nd_moment(z.to(torch.float32)) if self.z_dim > 0 else None
        if self.c_dim > 0:
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1) if x is not None else y
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        if update_emas and self.w_avg_beta is not None:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if self.num_ws is None:
            return x
        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            if truncation_cutoff is None:
                x = self.w_avg.lerp(x, truncation_psi)
            else:
                x[:, :truncation_cutoff] = self.w_avg.lerp(x[:, :truncation_cutoff], truncation_psi)
        return x


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally 2x up) + per-pixel noise + bias + lrelu."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: int = 1,
                 use_noise: bool = True, activation: str = "lrelu", conv_clamp: float | None = None):
        super().__init__()
        self.resolution, self.up, self.use_noise = resolution, up, use_noise
        self.activation, self.conv_clamp = check_activation(activation), conv_clamp
        self.act_gain = ACT_GAINS[activation]
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 3, 3]))
        if use_noise:
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("resample_filter", fir_filter())
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random", fused_modconv: bool = True,
                gain: float = 1.0, fast_dtype: torch.dtype | None = None) -> torch.Tensor:
        styles = self.affine(w)
        noise = None
        if self.use_noise and noise_mode == "random":
            r = self.resolution
            noise = torch.randn([x.shape[0], 1, r, r], device=x.device) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        if fast_dtype is not None:
            return fast.modulated_layer(x, self.weight, styles, noise, self.bias, up=self.up, f=self.resample_filter,
                                        act=self.activation, gain=self.act_gain * gain, clamp=clamp)
        x = modulated_conv2d(x, self.weight, styles, noise, up=self.up, f=self.resample_filter,
                             fused=fused_modconv)
        return bias_act(x, self.bias.to(x.dtype), self.activation, gain=self.act_gain * gain, clamp=clamp)


class ToRGBLayer(nn.Module):
    """1x1 modulated conv without demodulation; the equalised-lr gain scales the styles."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused_modconv: bool = True,
                fast_dtype: torch.dtype | None = None) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        if fast_dtype is not None:
            return fast.modulated_layer(x, self.weight, styles, None, self.bias, demodulate=False,
                                        clamp=self.conv_clamp)
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused=fused_modconv)
        return bias_act(x, self.bias.to(x.dtype), "linear", gain=1, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution of the synthesis network: (const | 2x-up conv0) -> conv1 -> ToRGB."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 is_last: bool, architecture: str = "skip", conv_clamp: float | None = None,
                 use_fp16: bool = False, fp16_channels_last: bool = False, use_noise: bool = True,
                 activation: str = "lrelu"):
        super().__init__()
        self.in_channels, self.resolution, self.is_last = in_channels, resolution, is_last
        self.architecture, self.use_fp16, self.channels_last = architecture, use_fp16, fp16_channels_last
        layer_kwargs = dict(w_dim=w_dim, resolution=resolution, use_noise=use_noise, activation=activation,
                            conv_clamp=conv_clamp)
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        self.register_buffer("resample_filter", fir_filter())
        self.num_conv = self.num_torgb = 0
        if in_channels != 0:
            self.conv0 = SynthesisLayer(in_channels, out_channels, up=2, **layer_kwargs)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, **layer_kwargs)
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
            self.num_torgb = 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(in_channels, out_channels, 1, bias=False, up=2)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
                force_fp32: bool = False, fused_modconv: bool | None = None, noise_mode: str = "random",
                fast_dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        w_iter = iter(ws.unbind(dim=1))
        dtype = block_dtype(self.use_fp16, force_fp32, ws.device, fast_dtype)
        n = ws.shape[0]
        if fused_modconv is None:
            fused_modconv = not self.training and (dtype == torch.float32 or n == 1)
        if self.in_channels == 0:
            x = self.const.to(dtype=dtype).unsqueeze(0).repeat([n, 1, 1, 1])
        x = x.to(dtype=dtype, memory_format=block_layout(self.channels_last, dtype, fast_dtype))
        conv = dict(noise_mode=noise_mode, fused_modconv=fused_modconv, fast_dtype=fast_dtype)
        if self.in_channels == 0:
            x = self.conv1(x, next(w_iter), **conv)
        elif self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5), fast_dtype=fast_dtype)
            x = self.conv0(x, next(w_iter), **conv)
            x = self.conv1(x, next(w_iter), **conv, gain=math.sqrt(0.5))
            x = y.add_(x)
        else:
            x = self.conv0(x, next(w_iter), **conv)
            x = self.conv1(x, next(w_iter), **conv)
        if img is not None:
            img = (fast.upsample2d if fast_dtype is not None else upsample2d)(img, self.resample_filter)
        if self.num_torgb:
            y = self.torgb(x, next(w_iter), fused_modconv, fast_dtype)
            y = y.to(torch.float32, memory_format=torch.contiguous_format)
            img = img.add_(y) if img is not None else y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image; block r reads its own window of ws (spec §4.8)."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 32768,
                 channel_max: int = 512, num_fp16_res: int = 0, conv_clamp: float | None = None,
                 architecture: str = "skip", resample_filter=(1, 3, 3, 1), use_noise: bool = True,
                 activation: str = "lrelu", fp16_channels_last: bool = False):
        super().__init__()
        log2 = check_resolution(img_resolution)
        check_architecture(architecture)
        check_resample_filter(resample_filter)
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.block_resolutions = [2 ** i for i in range(2, log2 + 1)]
        fp16_res = fp16_resolution(img_resolution, num_fp16_res)
        self.num_ws = 0
        for res in self.block_resolutions:
            in_ch = channels_at(res // 2, channel_base, channel_max) if res > 4 else 0
            block = SynthesisBlock(in_ch, channels_at(res, channel_base, channel_max), w_dim, res, img_channels,
                                   is_last=res == img_resolution, architecture=architecture,
                                   conv_clamp=conv_clamp, use_fp16=res >= fp16_res,
                                   fp16_channels_last=fp16_channels_last, use_noise=use_noise,
                                   activation=activation)
            self.num_ws += block.num_conv + (block.num_torgb if res == img_resolution else 0)
            setattr(self, f"b{res}", block)

    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def conv_layers(self) -> list[tuple[int, nn.Module]]:
        """(w index, layer) of every conv in w order. A block reads ws from its first index on, conv0 then conv1
        (b4 has only conv1); its toRGB reads the index after them, shared with the next block's conv0."""
        layers, first = [], 0
        for block in self.blocks():
            convs = [block.conv1] if block.in_channels == 0 else [block.conv0, block.conv1]
            layers += [(first + j, conv) for j, conv in enumerate(convs)]
            first += block.num_conv
        return layers

    def forward(self, ws: torch.Tensor, noise_mode: str = "random", force_fp32: bool = False,
                fused_modconv: bool | None = None, fast_dtype: torch.dtype | None = None) -> torch.Tensor:
        """`fast_dtype` None: NVlabs' op order (bit-exact in fp32); a dtype: model/fast.py's ops computing in it."""
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = 0
        for block in self.blocks():
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            w_idx += block.num_conv
            x, img = block(x, img, block_ws, force_fp32=force_fp32, fused_modconv=fused_modconv,
                           noise_mode=noise_mode, fast_dtype=fast_dtype)
        return img


class Generator(nn.Module):
    """G(z, c) = synthesis(mapping(z, c)); keywords as in a stylegan2-ada-pytorch pickle.

    What every generator family offers (see also networks_sg3): `family`, `num_ws`, `w_resolutions` (the
    resolution each w index shapes), `synthesis.conv_layers()` and `check_filters(tensors)` for loaders.
    """

    family = "stylegan2"
    check_filters = staticmethod(check_fir_buffers)

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, img_resolution: int, img_channels: int,
                 mapping_kwargs: dict | None = None, synthesis_kwargs: dict | None = None):
        super().__init__()
        mapping_kwargs, synthesis_kwargs = dict(mapping_kwargs or {}), dict(synthesis_kwargs or {})
        if "resample_filter" in synthesis_kwargs:
            synthesis_kwargs["resample_filter"] = list(synthesis_kwargs["resample_filter"])
        self.init_kwargs = dict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution,
                                img_channels=img_channels, mapping_kwargs=mapping_kwargs,
                                synthesis_kwargs=synthesis_kwargs)
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.w_resolutions = w_resolutions(img_resolution)
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, num_ws=self.num_ws, **mapping_kwargs)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, update_emas: bool = False, noise_mode: str = "random",
                force_fp32: bool = False, fused_modconv: bool | None = None,
                fast_dtype: torch.dtype | None = None) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi, truncation_cutoff, update_emas=update_emas)
        return self.synthesis(ws, noise_mode=noise_mode, force_fp32=force_fp32, fused_modconv=fused_modconv,
                              fast_dtype=fast_dtype)


# ---------------------------------------------------------------------------------------------------------
# Discriminator


class DiscriminatorBlock(nn.Module):
    """fromrgb (first block / skip) -> conv0 -> conv1 (down 2), with a 1x1 down-2 shortcut for resnet."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, resolution: int,
                 img_channels: int, first_layer_idx: int, architecture: str = "resnet",
                 activation: str = "lrelu", resample_filter=(1, 3, 3, 1), conv_clamp: float | None = None,
                 use_fp16: bool = False, fp16_channels_last: bool = False, freeze_layers: int = 0):
        super().__init__()
        check_resample_filter(resample_filter)
        self.in_channels, self.resolution, self.architecture = in_channels, resolution, architecture
        self.use_fp16, self.channels_last = use_fp16, fp16_channels_last
        self.first_layer_idx = first_layer_idx
        self.num_layers = 0
        self.register_buffer("resample_filter", fir_filter())

        def trainable() -> bool:  # freeze-D counts layers in creation order across blocks
            self.num_layers += 1
            return first_layer_idx + self.num_layers - 1 >= freeze_layers

        conv = dict(activation=activation, conv_clamp=conv_clamp)
        if in_channels == 0 or architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, trainable=trainable(), **conv)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, trainable=trainable(), **conv)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, down=2, trainable=trainable(), **conv)
        if architecture == "resnet":
            self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2, trainable=trainable())

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, force_fp32: bool = False,
                fast_dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        dtype = block_dtype(self.use_fp16, force_fp32, (x if x is not None else img).device, fast_dtype)
        layout = block_layout(self.channels_last, dtype, fast_dtype)
        if x is not None:
            x = x.to(dtype=dtype, memory_format=layout)
        if self.in_channels == 0 or self.architecture == "skip":
            img = img.to(dtype=dtype, memory_format=layout)
            y = self.fromrgb(img, fast_dtype=fast_dtype)
            x = x + y if x is not None else y
            down = fast.downsample2d if fast_dtype is not None else downsample2d
            img = down(img, self.resample_filter) if self.architecture == "skip" else None
        if self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5), fast_dtype=fast_dtype)
            x = self.conv0(x, fast_dtype=fast_dtype)
            x = self.conv1(x, gain=math.sqrt(0.5), fast_dtype=fast_dtype)
            x = y.add_(x)
        else:
            x = self.conv1(self.conv0(x, fast_dtype=fast_dtype), fast_dtype=fast_dtype)
        return x, img


class MinibatchStdLayer(nn.Module):
    """Appends the per-group feature standard deviation; groups are strided (sample g*n + m is in group m)."""

    def __init__(self, group_size: int | None, num_channels: int = 1):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n) if self.group_size is not None else n
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)
        y = y - y.mean(dim=0)
        y = y.square().mean(dim=0)
        y = (y + 1e-8).sqrt()
        y = y.mean(dim=[2, 3, 4])
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    """The 4x4 head: minibatch std, conv, fc, out; projection onto the class embedding if conditional."""

    def __init__(self, in_channels: int, cmap_dim: int, resolution: int, img_channels: int,
                 architecture: str = "resnet", mbstd_group_size: int | None = 4, mbstd_num_channels: int = 1,
                 activation: str = "lrelu", conv_clamp: float | None = None):
        super().__init__()
        self.in_channels, self.cmap_dim, self.resolution = in_channels, cmap_dim, resolution
        self.architecture = architecture
        if architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, in_channels, 1, activation=activation)
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, 3, activation=activation,
                                conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * resolution ** 2, in_channels, activation=activation)
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x: torch.Tensor, img: torch.Tensor | None, cmap: torch.Tensor | None,
                fast_dtype: torch.dtype | None = None) -> torch.Tensor:
        """Always in fp32, as NVlabs; `fast_dtype` only selects the fast ops."""
        x = x.to(torch.float32, memory_format=torch.contiguous_format)
        if self.architecture == "skip":
            x = x + self.fromrgb(img.to(torch.float32), fast_dtype=fast_dtype)
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x, fast_dtype=fast_dtype)
        x = self.fc(x.flatten(1))
        x = self.out(x)
        if self.cmap_dim > 0:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x


class Discriminator(nn.Module):
    """D(img, c) -> [N, 1] logits; keywords as in a stylegan2-ada-pytorch pickle."""

    check_filters = staticmethod(check_fir_buffers)

    def __init__(self, c_dim: int, img_resolution: int, img_channels: int, architecture: str = "resnet",
                 channel_base: int = 32768, channel_max: int = 512, num_fp16_res: int = 0,
                 conv_clamp: float | None = None, cmap_dim: int | None = None, block_kwargs: dict | None = None,
                 mapping_kwargs: dict | None = None, epilogue_kwargs: dict | None = None):
        super().__init__()
        block_kwargs, mapping_kwargs = dict(block_kwargs or {}), dict(mapping_kwargs or {})
        epilogue_kwargs = dict(epilogue_kwargs or {})
        if "resample_filter" in block_kwargs:
            block_kwargs["resample_filter"] = list(block_kwargs["resample_filter"])
        self.init_kwargs = dict(c_dim=c_dim, img_resolution=img_resolution, img_channels=img_channels,
                                architecture=architecture, channel_base=channel_base, channel_max=channel_max,
                                num_fp16_res=num_fp16_res, conv_clamp=conv_clamp, cmap_dim=cmap_dim,
                                block_kwargs=block_kwargs, mapping_kwargs=mapping_kwargs,
                                epilogue_kwargs=epilogue_kwargs)
        log2 = check_resolution(img_resolution)
        check_architecture(architecture)
        self.c_dim, self.img_resolution, self.img_channels = c_dim, img_resolution, img_channels
        self.block_resolutions = [2 ** i for i in range(log2, 2, -1)]
        fp16_res = fp16_resolution(img_resolution, num_fp16_res)
        c4 = channels_at(4, channel_base, channel_max)
        cmap_dim = (c4 if cmap_dim is None else cmap_dim) if c_dim else 0
        common = dict(img_channels=img_channels, architecture=architecture, conv_clamp=conv_clamp)
        layer_idx = 0
        for res in self.block_resolutions:
            tmp = channels_at(res, channel_base, channel_max)
            block = DiscriminatorBlock(tmp if res < img_resolution else 0, tmp,
                                       channels_at(res // 2, channel_base, channel_max), res,
                                       first_layer_idx=layer_idx, use_fp16=res >= fp16_res,
                                       **block_kwargs, **common)
            layer_idx += block.num_layers
            setattr(self, f"b{res}", block)
        if c_dim > 0:
            self.mapping = MappingNetwork(0, c_dim, cmap_dim, num_ws=None, w_avg_beta=None, **mapping_kwargs)
        self.b4 = DiscriminatorEpilogue(c4, cmap_dim, 4, **epilogue_kwargs, **common)

    def forward(self, img: torch.Tensor, c: torch.Tensor | None, force_fp32: bool = False,
                fast_dtype: torch.dtype | None = None) -> torch.Tensor:
        """`fast_dtype` as in SynthesisNetwork.forward."""
        x = None
        for res in self.block_resolutions:
            x, img = getattr(self, f"b{res}")(x, img, force_fp32=force_fp32, fast_dtype=fast_dtype)
        cmap = self.mapping(None, c) if self.c_dim > 0 else None
        return self.b4(x, img, cmap, fast_dtype=fast_dtype)
