"""How far a rendered image is from a projection target, with terms that need nothing from the internet.

- pixels: mean squared error on an image pyramid (full size, 1/2, 1/4, ...), so coarse colour and layout pull
  as hard as fine detail;
- structure: 1 - MS-SSIM (Wang, Simoncelli and Bovik 2003), luminance, contrast and structure over scales;
- discriminator features: the activations of the network's own D after each block, compared LPIPS-style (unit
  length per pixel across channels, then the squared difference), when the network file holds D;
- VGG16 features, LPIPS-style, when the user hands us torchvision's ImageNet VGG16 weights (a plain state dict).

Images are float [N, C, H, W] in [-1, 1], as the synthesis network makes them.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .errors import ModelError

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # per scale, fine to coarse (Wang et al. 2003)
SSIM_C1, SSIM_C2 = 0.01 ** 2, 0.03 ** 2  # stabilisers for a data range of 1
MIN_SCALE = 8  # pyramids stop before a side gets smaller than this


def pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """x and up to levels-1 halvings of it (2x2 means), stopping at MIN_SCALE pixels."""
    out = [x]
    while len(out) < levels and out[-1].shape[-1] >= 2 * MIN_SCALE:
        out.append(F.avg_pool2d(out[-1], 2))
    return out


def pixel_loss(x: torch.Tensor, target_pyramid: list[torch.Tensor]) -> torch.Tensor:
    """Mean over the pyramid's levels of the mean squared error."""
    levels = pyramid(x, len(target_pyramid))
    return sum(F.mse_loss(a, b) for a, b in zip(levels, target_pyramid, strict=True)) / len(levels)


def _gaussian(size: int, sigma: float, channels: int, device: torch.device) -> torch.Tensor:
    t = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-t ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return torch.outer(g, g).expand(channels, 1, size, size).contiguous()


def ms_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Multi-scale SSIM of two [-1, 1] images, in (0, 1]; as many of the five scales as the size allows.

    An 11-tap Gaussian window (σ 1.5), narrowed to the coarsest scale's side on small images; the scales used
    keep their relative weights. Negative contrast-structure terms are clamped, which keeps the power defined.
    """
    x, y = (x + 1) / 2, (y + 1) / 2
    scales = len(pyramid(x, len(MS_SSIM_WEIGHTS)))
    size = min(11, x.shape[-1] >> (scales - 1))
    size -= 1 - size % 2
    window = _gaussian(size, 1.5, x.shape[1], x.device)
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], device=x.device)
    weights = weights / weights.sum()
    blur = lambda t: F.conv2d(t, window, groups=t.shape[1])  # noqa: E731
    log_terms = []
    for i in range(scales):
        if i:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
        mx, my = blur(x), blur(y)
        vx, vy, cov = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        cs = (2 * cov + SSIM_C2) / (vx + vy + SSIM_C2)
        term = cs if i < scales - 1 else cs * (2 * mx * my + SSIM_C1) / (mx * mx + my * my + SSIM_C1)
        log_terms.append(term.mean(dim=[2, 3]).clamp_min(1e-6).log())
    return torch.exp(sum(w * t for w, t in zip(weights, log_terms, strict=True))).mean()


def feature_distance(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    """LPIPS-style: each pixel's feature vector scaled to unit length, squared differences summed over
    channels and averaged over pixels, then over layers (equal weights: we have no learned ones)."""
    def unit(t: torch.Tensor) -> torch.Tensor:
        return t / (t.square().sum(dim=1, keepdim=True) + 1e-10).sqrt()

    pairs = zip(a, b, strict=True)
    return sum((unit(p.float()) - unit(q.float())).square().sum(dim=1).mean() for p, q in pairs) / len(a)


class DiscriminatorFeatures(nn.Module):
    """The activations after each of D's blocks (the 4x4 epilogue with its minibatch statistics is left out)."""

    def __init__(self, D: nn.Module, fast_dtype: torch.dtype | None = None):
        super().__init__()
        self.D, self.fast_dtype = D, fast_dtype

    def forward(self, img: torch.Tensor) -> list[torch.Tensor]:
        x, feats = None, []
        for res in self.D.block_resolutions:
            x, img = getattr(self.D, f"b{res}")(x, img, force_fp32=self.fast_dtype is None, fast_dtype=self.fast_dtype)
            feats.append(x)
        return feats


# torchvision's vgg16().features: conv widths with 'M' for 2x2 max-pooling; the LPIPS taps are the ReLUs that
# end each stage (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3).
VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
VGG_SIZE = 224  # VGG16's training size: images are resized to it


class VGG16Features(nn.Module):
    """torchvision's VGG16 feature stack, rebuilt here so its `features.N.*` weights load by name."""

    def __init__(self):
        super().__init__()
        layers, taps, width = [], [], 3
        for item in VGG16_LAYOUT:
            if item == "M":
                taps.append(len(layers) - 1)
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(width, item, 3, padding=1), nn.ReLU()]
                width = item
        taps.append(len(layers) - 1)
        self.features, self.taps = nn.Sequential(*layers), taps
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1))

    def forward(self, img: torch.Tensor) -> list[torch.Tensor]:
        x = img.expand(-1, 3, -1, -1)  # a grayscale network's image is shown to VGG as gray RGB
        x = F.interpolate(x, size=(VGG_SIZE, VGG_SIZE), mode="bilinear", align_corners=False, antialias=True)
        x = ((x + 1) / 2 - self.mean) / self.std
        feats = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                feats.append(x)
        return feats


def _is_torchscript(path: str | os.PathLike) -> bool:
    """TorchScript archives are zips with a constants.pkl beside the data (how torch.load tells them apart)."""
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.rsplit("/", 1)[-1] == "constants.pkl" for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def load_vgg16(path: str | os.PathLike) -> VGG16Features:
    """torchvision's ImageNet VGG16 weights (vgg16-397923af.pth) read as plain tensors, never as code."""
    name = os.path.basename(path)
    if _is_torchscript(path):  # torch.load would hand it to torch.jit.load, which runs its code
        raise ModelError(f"cannot read {name} as VGG16 weights: it is a TorchScript program, not a weights file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # not a zip, a TorchScript archive, pickled code: weights_only refuses them all
        raise ModelError(f"cannot read {name} as VGG16 weights: {(str(e).splitlines() or [type(e).__name__])[0]}"
                         ) from None
    net = VGG16Features()
    wanted = net.features.state_dict()
    found = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")} if isinstance(
        state, dict) else {}
    bad = [k for k, v in wanted.items() if not (isinstance(found.get(k), torch.Tensor) and found[k].shape == v.shape)]
    if bad:
        raise ModelError(f"{name} is not torchvision's VGG16 weights: features.{bad[0]} is missing or misshapen")
    net.features.load_state_dict({k: found[k].float() for k in wanted})
    return net.eval().requires_grad_(False)


D_WEIGHT = 0.1  # the D-feature term's weight when asked for (benchmarks/project.py compares it)
VGG_WEIGHT = 0.1  # the VGG term's: the D term's scale, untuned (no VGG16 weights were at hand)


@dataclass(frozen=True)
class LossWeights:
    """The terms' weights; 0 turns a term off (D and VGG also need their networks). The default, pixels and
    MS-SSIM at equal weight, fitted best on benchmarks/project.py's tuning targets (MS-SSIM weight 0, 0.1, 0.3,
    1 and 3 compared; 1 and 3 tied); the D term gained little there for 2.5x the time."""

    pixel: float = 1.0
    ssim: float = 1.0
    d: float = 0.0
    vgg: float = 0.0


class ProjectionLoss(nn.Module):
    """loss(image) against one fixed target; the target's pyramid and features are computed once."""

    def __init__(self, target: torch.Tensor, weights: LossWeights = LossWeights(), D: nn.Module | None = None,
                 vgg: VGG16Features | None = None, fast_dtype: torch.dtype | None = None):
        """`fast_dtype` runs D on model/fast.py's ops in that dtype (None: the exact fp32 path)."""
        super().__init__()
        self.weights, self.target = weights, target
        self.target_pyramid = pyramid(target, 4)
        self.features = {}
        for key, net in (("d", None if D is None else DiscriminatorFeatures(D, fast_dtype)), ("vgg", vgg)):
            if net is not None and getattr(weights, key):
                with torch.no_grad():
                    self.features[key] = (net, [f.detach() for f in net(target)])

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        loss = self.weights.pixel * pixel_loss(img, self.target_pyramid)
        if self.weights.ssim:
            loss = loss + self.weights.ssim * (1 - ms_ssim(img, self.target))
        for key, (net, target_feats) in self.features.items():
            loss = loss + getattr(self.weights, key) * feature_distance(net(img), target_feats)
        return loss
