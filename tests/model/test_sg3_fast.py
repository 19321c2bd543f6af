"""StyleGAN3's fast path (model/fast_sg3.py) against the exact one: its operations on random tensors, the layers and
whole images of the spec's conformance nets (fp32 to float tolerance; bf16 by the PSNR of the uint8 images, the
measure a user sees), the clamp, batches and gradients."""

import copy

import numpy as np
import pytest
import torch

from model import fast_sg3
from model.layers_sg3 import upfirdn2d
from model.render import to_uint8

from .sg3_fixture import make_r, make_t

NETS = {"T": make_t(), "R": make_r()}


def seeds_ws(g, seeds) -> torch.Tensor:
    z = torch.from_numpy(np.stack([np.random.RandomState(s).randn(g.z_dim) for s in seeds])).float()
    with torch.no_grad():
        return g.mapping(z, None)


def psnr(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    mse = ((to_uint8(a).astype(np.float64) - to_uint8(b).astype(np.float64)) ** 2).mean(axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        return 10 * np.log10(255.0 ** 2 / mse)


def nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1).contiguous()


@pytest.mark.parametrize("up, down, lo, hi, size, taps", [
    (2, 1, 9, 8, 38, 12), (4, 1, -6, -9, 54, 24), (2, 1, -11, -12, 30, 12), (1, 2, 0, 0, 80, 12), (1, 1, 3, -2, 30, 1),
])
def test_two_passes_are_separable_upfirdn2d(up, down, lo, hi, size, taps, monkeypatch):
    """Along H, transposed, along W: the exact zero-insert / pad / convolve / subsample, on [W, H]."""
    monkeypatch.setattr(fast_sg3, "TILE_IN", 16)  # several tiles, so the seams and edge tiles are checked
    gen = torch.Generator().manual_seed(0)
    f = torch.rand(taps, generator=gen, dtype=torch.float64)
    x = torch.randn([2, 3, size, size], generator=gen)
    out = (size * up + lo + hi - taps) // down + 1
    p = fast_sg3.make_pass([f.numpy()], up, down, lo, size, out, 1.5)
    got = p(p(nhwc(x), transpose=True))
    want = upfirdn2d(x, f.float(), up=up, down=down, padding=(lo, hi, lo, hi), gain=1.5 ** 2)
    assert p.tile < out
    torch.testing.assert_close(got.permute(0, 3, 2, 1), want, rtol=1e-5, atol=1e-5)


def test_radial_filters_run_as_stacked_then_merged_passes():
    """R's 2-D down filters: a few separable components, stacked by the first pass and summed by the second."""
    f = next(la for la in NETS["R"].synthesis.layers() if la.down_radial).down_filter
    rows, cols = fast_sg3.radial_components(f.double().numpy())
    assert len(rows) >= 2
    np.testing.assert_allclose(sum(np.outer(r, c) for r, c in zip(rows, cols, strict=True)), f,
                               atol=fast_sg3.RADIAL_TOLERANCE * float(f.abs().max()))
    x = torch.randn([2, 5, 40, 40], generator=torch.Generator().manual_seed(1))
    down_w = fast_sg3.make_pass(cols, 1, 2, 0, 40, 15, 1.0, "stack")
    down_h = fast_sg3.make_pass(rows, 1, 2, 0, 40, 15, 1.0, "merge")
    got = down_h(down_w(nhwc(x).transpose(1, 2).contiguous(), transpose=True))
    want = upfirdn2d(x, f, down=2)
    assert (got.permute(0, 3, 1, 2) - want).abs().max() < 2e-3 * want.abs().max()


@pytest.mark.parametrize("cfg", ["T", "R"])
@pytest.mark.parametrize("n", [1, 2])  # batch 1 folds everything into the weight, larger batches do not
def test_every_layer_matches_the_exact_layer_in_fp32(cfg, n):
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for layer in NETS[cfg].synthesis.layers():
            x = torch.randn([n, layer.in_channels, layer.in_size, layer.in_size], generator=gen)
            w = torch.randn([n, layer.w_dim], generator=gen)
            want = layer(x, w)
            got = fast_sg3.synthesis_layer(layer, nhwc(x), w).permute(0, 3, 1, 2)
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))


@pytest.mark.parametrize("cfg", ["T", "R"])
def test_images_match_exact_in_fp32_and_bf16_by_psnr(cfg):
    g, ws = NETS[cfg], seeds_ws(NETS[cfg], range(5))
    with torch.no_grad():
        exact = g.synthesis(ws)
        fp32 = g.synthesis(ws, fast_dtype=torch.float32)
        bf16 = g.synthesis(ws, fast_dtype=torch.bfloat16)
        single = torch.cat([g.synthesis(w[None], fast_dtype=torch.bfloat16) for w in ws])
    assert fp32.dtype == bf16.dtype == torch.float32 and bf16.shape == exact.shape
    torch.testing.assert_close(fp32, exact, rtol=1e-4, atol=1e-4)
    assert not torch.equal(bf16, exact)
    for images in (bf16, single):
        p = psnr(images, exact)
        assert np.median(p) >= 40 and p.min() >= 35, p


def test_the_clamp_applies_where_values_reach_it():
    g = copy.deepcopy(NETS["T"])
    for layer in g.synthesis.layers():
        layer.conv_clamp = 0.3
    ws = seeds_ws(g, [0, 1])
    with torch.no_grad():
        exact, fast = g.synthesis(ws), g.synthesis(ws, fast_dtype=torch.float32)
        unclamped = NETS["T"].synthesis(ws, fast_dtype=torch.float32)
    assert (fast - unclamped).abs().max() > 0.1  # the clamp changed the image ...
    torch.testing.assert_close(fast, exact, rtol=1e-4, atol=1e-4)  # ... exactly as the exact path's


def test_fast_dtype_applies_to_its_call_only():
    g, ws = NETS["R"], seeds_ws(NETS["R"], [3])
    with torch.no_grad():
        before = g.synthesis(ws)
        g.synthesis(ws, fast_dtype=torch.bfloat16)
        after = g.synthesis(ws)
    assert torch.equal(before, after)


def test_the_fast_path_is_differentiable_like_the_exact_one():
    """The projector optimises w through whichever path the precision picks."""
    g = NETS["T"]
    grads = []
    for dtype in (None, torch.float32):
        w = seeds_ws(g, [4]).requires_grad_(True)
        g.synthesis(w, fast_dtype=dtype).square().mean().backward()
        grads.append(w.grad.flatten().double())
    assert float(grads[0] @ grads[1] / (grads[0].norm() * grads[1].norm())) > 0.9999
