"""Fréchet Inception distance (FID, Heusel et al. 2017) with the Inception v3 port that pytorch-fid uses.

Nothing is downloaded: the user supplies pytorch-fid's pt_inception-2015-12-05-6726825d.pth (`--fid-weights`),
the TensorFlow FID Inception under torchvision's Inception3 parameter names. Its blocks differ from torchvision's
the way the TensorFlow graph does: average pools leave the padding out of the count, and Mixed_7c pools its last
branch with a max. Images are resized to 299x299 (bilinear) and scaled to [-1, 1] as pytorch-fid does; the
features are the 2048-d global average pool. The weights file is read as data only, a state dict through
torch.load(weights_only=True) or a safetensors file, because a pickle could run any code; all else is refused.
"""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from torch import nn

from .config import ConfigError
from .metrics import DRAW_SEED_STRIDE, generate_uint8

INPUT_SIZE = 299
NUM_FEATURES = 2048
NUM_CLASSES = 1008  # the TensorFlow graph's 1008 ImageNet logits
WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"


class FIDWeightsError(ConfigError):
    """The --fid-weights file is not FID Inception weights; the CLI prints it as a one-line error."""


class BasicConv2d(nn.Module):
    """Convolution without bias, batch norm with TensorFlow's eps, ReLU."""

    def __init__(self, cin: int, cout: int, kernel_size, stride: int = 1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          self.branch_pool(_avg_pool(x))], 1)


class InceptionB(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d7 = x
        for i in range(1, 6):
            d7 = getattr(self, f"branch7x7dbl_{i}")(d7)
        return torch.cat([self.branch1x1(x), b7, d7, self.branch_pool(_avg_pool(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = x
        for i in range(1, 5):
            b7 = getattr(self, f"branch7x7x3_{i}")(b7)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """`max_pool`: Mixed_7c of the TensorFlow graph max-pools its pool branch where Mixed_7b averages."""

    def __init__(self, cin: int, max_pool: bool = False):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        d3 = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pool = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(b3), self.branch3x3_2b(b3),
                          self.branch3x3dbl_3a(d3), self.branch3x3dbl_3b(d3), self.branch_pool(pool)], 1)


MIXED = ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
         "Mixed_7a", "Mixed_7b", "Mixed_7c")


class FIDInception(nn.Module):
    """The FID Inception v3 under torchvision's parameter names, without the auxiliary classifier."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, c7=128)
        self.Mixed_6c = InceptionC(768, c7=160)
        self.Mixed_6d = InceptionC(768, c7=160)
        self.Mixed_6e = InceptionC(768, c7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(NUM_FEATURES, NUM_CLASSES)  # in the file, so it loads strictly; FID stops before it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] images [N, 3, H, W] (H, W >= 75; FID uses 299) -> pool features [N, 2048]."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, stride=2)))
        x = F.max_pool2d(x, 3, stride=2)
        for name in MIXED:
            x = getattr(self, name)(x)
        return x.mean(dim=(2, 3))


# ---------------------------------------------------------------------------------------------------------
# Weights: data only


def _refuse(path: Path, found: str) -> FIDWeightsError:
    return FIDWeightsError(f"--fid-weights {path.name}: {found}; supply pytorch-fid's {WEIGHTS_NAME} (a state "
                           "dict; NVlabs' TorchScript inception-2015-12-05.pkl cannot be read safely)")


def read_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a .safetensors or torch.save state dict file; nothing in the file is ever executed."""
    path = Path(path)
    if path.suffix == ".safetensors":
        try:
            return safetensors.torch.load_file(path)
        except (SafetensorError, OSError) as e:
            raise _refuse(path, f"not a readable safetensors file ({e})") from None
    with open(path, "rb") as f:
        head = f.read(2)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            if any(n.endswith("constants.pkl") or "/code/" in n for n in zf.namelist()):
                raise _refuse(path, "a TorchScript archive (a program, not weights)")
    elif head[:1] != b"\x80":
        raise _refuse(path, "neither a PyTorch file nor a safetensors file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols; a refusal says what matters
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # whatever the data-only unpickler objects to, the file is refused the same way
        msg = str(e)
        global_name = re.search(r"GLOBAL ([\w.]+)", msg)
        why = re.search(r"WeightsUnpickler error:\s*(.+)", msg)
        found = (f"a pickle that would import {global_name[1]}" if global_name else
                 f"a pickle the data-only reader refuses ({why[1]})" if why else
                 f"an unreadable PyTorch file ({msg.splitlines()[0] if msg else type(e).__name__})")
        raise _refuse(path, found) from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise _refuse(path, f"holds a {type(state).__name__}, not a state dict of tensors")
    return state


def load_inception(path: str | os.PathLike) -> FIDInception:
    """The FID Inception with the file's weights (eval mode, CPU, fp32), or FIDWeightsError."""
    path = Path(path)
    with torch.device("meta"):
        net = FIDInception()
    expected = net.state_dict()
    state = {k: v for k, v in read_weights(path).items() if not k.startswith("AuxLogits.")}  # not part of FID
    for key in expected:
        if key.endswith(".num_batches_tracked"):  # eval-mode batch norm never reads it; older files lack it
            state.setdefault(key, torch.tensor(0))
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        first = f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}"
        raise _refuse(path, f"{len(missing)} missing and {len(unexpected)} unexpected tensor(s), e.g. {first}")
    for key, ref in expected.items():
        if state[key].shape != ref.shape:
            raise _refuse(path, f"{key} is {list(state[key].shape)}, the FID Inception has {list(ref.shape)}")
    net.load_state_dict({k: v if k.endswith("num_batches_tracked") else v.float() for k, v in state.items()},
                        strict=True, assign=True)
    return net.eval().requires_grad_(False).to(memory_format=torch.channels_last)  # ~1.4x faster on the CPU


# ---------------------------------------------------------------------------------------------------------
# Features and the distance


def to_inception_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] or float [-1, 1] images [N, 1 or 3, H, W] -> float [-1, 1], 3 channels, 299x299."""
    x = images.to(torch.float32)
    if images.dtype == torch.uint8:
        x = x / 127.5 - 1
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)


@torch.inference_mode()
def inception_features(net: FIDInception, images: torch.Tensor, batch: int = 32) -> np.ndarray:
    """Pool features [N, 2048] as float64, `batch` images at a time on the network's device."""
    device = net.fc.weight.device
    out = [net(to_inception_input(images[i:i + batch].to(device)).contiguous(memory_format=torch.channels_last))
           for i in range(0, len(images), batch)]
    return torch.cat(out).double().cpu().numpy()


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance in float64, as pytorch-fid computes them."""
    if len(features) < 2:
        raise ValueError(f"FID needs at least 2 images, got {len(features)}")
    f = np.asarray(features, np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _f64(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)


def _psd_factor(sigma: np.ndarray) -> torch.Tensor:
    """B [D, rank] with B B^T = sigma: eigenvectors scaled by the square roots of the eigenvalues, leaving out
    those below rounding noise (numpy's matrix_rank tolerance), which are the zeros of a rank-deficient sigma."""
    w, v = torch.linalg.eigh(_f64(sigma))
    keep = w > w.max().clamp(min=0) * len(w) * torch.finfo(torch.float64).eps
    return v[:, keep] * w[keep].sqrt()


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     factor1: torch.Tensor | None = None) -> float:
    """|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) between two Gaussians, in float64.

    With S1 = B B^T, the nonzero eigenvalues of S1 S2 are those of the symmetric PSD matrix B^T S2 B (the
    eigenvalues of sqrt(S1) S2 sqrt(S1)), so Tr (S1 S2)^(1/2) is the sum of their square roots, negative rounding
    clamped to 0. Unlike scipy's sqrtm this needs no offset for the rank-deficient covariances of fewer images
    than dimensions, where B has only `rank` columns. `factor1` is any such B, e.g. the centred features over
    sqrt(n - 1): it spares the eigensolve, which takes far longer at 2048x2048 than the rest.
    """
    mu1, mu2, s1, s2 = (_f64(a) for a in (mu1, mu2, sigma1, sigma2))
    b = _psd_factor(s1) if factor1 is None else factor1
    m = b.T @ s2 @ b
    tr_sqrt = torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0).sqrt().sum()
    return float((mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * tr_sqrt)


class FIDMetric:
    """FID of a generator against a fixed random subset of the training images (`num` of them, or all).

    The subset is SWD's (the same seed); its statistics are computed at the first snapshot and kept for the run.
    """

    name = "fid"

    def __init__(self, dataset, weights: str | os.PathLike, num: int, seed: int = 0, batch: int = 32):
        self.num = min(num, len(dataset))
        self.seed, self.batch = seed, batch
        self.dataset, self.labels = dataset, dataset.labels
        self.pick = sorted(np.random.default_rng(seed).choice(len(dataset), size=self.num, replace=False))
        self.net = load_inception(weights)
        self.real_stats: tuple[np.ndarray, np.ndarray, torch.Tensor] | None = None  # mu, sigma, B with B B^T = sigma

    def distance(self, images: torch.Tensor, device: torch.device) -> float:
        """FID of uint8 images [N, C, H, W] against the real subset."""
        self.net.to(device)
        if self.real_stats is None:
            reals = torch.from_numpy(np.stack([self.dataset[int(i)][0] for i in self.pick]))
            feats = inception_features(self.net, reals, self.batch)
            mu, sigma = feature_statistics(feats)
            self.real_stats = mu, sigma, _f64((feats - mu).T / np.sqrt(len(feats) - 1))  # B B^T = sigma
        mu, sigma, factor = self.real_stats
        return frechet_distance(mu, sigma, *feature_statistics(inception_features(self.net, images, self.batch)),
                                factor1=factor)

    def __call__(self, G, device: torch.device, draw: int = 0) -> dict[str, float]:
        """Draw 0 is the trainer's; later draws take fresh fakes (the real statistics stay)."""
        fakes = generate_uint8(G, self.num, self.labels, device, seed=self.seed + draw * DRAW_SEED_STRIDE)
        return {"fid": self.distance(fakes, device)}
