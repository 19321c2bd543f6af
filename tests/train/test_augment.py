"""Tests for train/augment.py: every op's effect and distribution, exactness of the blits and the resampler's
geometry, identity at p = 0, differentiability (incl. R1's double backward), 1-channel images, the ADA controller."""

import math

import pytest
import torch
import torch.nn.functional as F

from train.augment import (
    PRESETS,
    AdaController,
    AugmentPipe,
    ada_adjust,
    affine_resample,
    halfband_filter,
    octave_bands,
)

OPS = ["xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac", "brightness", "contrast", "lumaflip", "hue",
       "saturation", "imgfilter", "noise", "cutout"]


def smooth_images(n: int, channels: int = 3, size: int = 16, seed: int = 0) -> torch.Tensor:
    """Band-limited colourful images in [-0.8, 0.8]: a few low-frequency sinusoids with random phases per channel."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    img = torch.zeros(n, channels, size, size)
    for fx, fy in [(1, 0), (0, 1), (1, 1), (2, 1)]:
        phase = torch.rand(n, channels, 1, 1, generator=g) * 2 * math.pi
        img += torch.sin(2 * math.pi * (fx * xx + fy * yy) / size + phase)
    return 0.2 * img


def blob(n: int, size: int = 32, sigma: float = 2.5, channels: int = 1) -> torch.Tensor:
    """A Gaussian spot at the image centre on a black (-1) background."""
    r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    spot = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma**2))
    return (spot * 2 - 1).expand(n, channels, size, size).clone()


def centroid(img: torch.Tensor) -> torch.Tensor:
    """Centre of mass (x, y) of img + 1 per sample, channel 0, in pixels."""
    w = img[:, 0] + 1
    r = torch.arange(img.shape[-1], dtype=torch.float32)
    total = w.sum((1, 2))
    return torch.stack([(w * r[None, None, :]).sum((1, 2)) / total, (w * r[None, :, None]).sum((1, 2)) / total], 1)


def apply(pipe: AugmentPipe, x: torch.Tensor, p: float = 1.0, seed: int = 0) -> torch.Tensor:
    pipe.p.fill_(p)
    torch.manual_seed(seed)
    return pipe(x)


def luma_chroma(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    luma = x.mean(1, keepdim=True)
    return luma, x - luma


# ---------------------------------------------------------------------------------------------------------
# Whole pipeline


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_p_zero_returns_the_input_tensor_itself(preset):
    x = smooth_images(2).requires_grad_()
    assert apply(AugmentPipe.from_preset(preset), x, p=0.0) is x


def test_nothing_drawn_returns_the_input_tensor_itself():
    x = smooth_images(4)
    assert apply(AugmentPipe.from_preset("bgcfnc"), x, p=1e-12) is x


def test_presets_and_unknown_names():
    bgc = AugmentPipe.from_preset("bgc")
    assert all(getattr(bgc, op) == 1 for op in OPS[:12])
    assert bgc.imgfilter == bgc.noise == bgc.cutout == 0
    full = AugmentPipe.from_preset("bgcfnc")
    assert all(getattr(full, op) == 1 for op in OPS)
    blit = AugmentPipe.from_preset("blit")
    assert [op for op in OPS if getattr(blit, op)] == ["xflip", "rotate90", "xint"]
    assert AugmentPipe.from_preset("bgc", xflip=0.5).xflip == 0.5
    with pytest.raises(ValueError, match="unknown augpipe 'bgx'"):
        AugmentPipe.from_preset("bgx")


def test_randomness_comes_from_the_global_torch_rng():
    pipe = AugmentPipe.from_preset("bgcfnc")
    pipe.p.fill_(0.7)
    x = smooth_images(8)
    state = torch.get_rng_state()
    first = pipe(x)
    assert not torch.equal(pipe(x), first)
    torch.set_rng_state(state)
    assert torch.equal(pipe(x), first)


def test_state_is_only_p_and_kwargs_round_trip():
    pipe = AugmentPipe.from_preset("bgcf", hue_max=0.5)
    assert list(pipe.state_dict()) == ["p"] and pipe.p.shape == ()
    again = AugmentPipe(**pipe.init_kwargs)
    assert again.init_kwargs == pipe.init_kwargs and again.hue_max == 0.5


@pytest.mark.parametrize("shape", [[4, 3, 16, 12], [4, 2, 16, 16], [3, 16, 16]])
def test_bad_shapes_are_refused(shape):
    with pytest.raises(ValueError, match="square"):
        apply(AugmentPipe.from_preset("bgc"), torch.zeros(shape))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("channels", [1, 3])
def test_every_op_alone_keeps_shape_and_finite_values_and_changes_something(op, channels):
    x = smooth_images(8, channels)
    y = apply(AugmentPipe(**{op: 1}), x)
    assert y.shape == x.shape and y.dtype == x.dtype and torch.isfinite(y).all()
    assert y.abs().max() < 8
    if channels == 1 and op in ("hue", "saturation"):
        assert torch.equal(y, x)  # they leave grey untouched, so 1-channel images skip them
    else:
        assert not torch.equal(y, x)


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("channels", [1, 3])
def test_gradients_reach_the_images_for_every_preset(preset, channels):
    x = smooth_images(6, channels).requires_grad_()
    y = apply(AugmentPipe.from_preset(preset), x)
    (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad != 0).any()


def test_backward_and_double_backward_are_the_adjoint_of_the_pipeline():
    """With its randomness fixed the pipeline is an affine map y = A x + b. The backward must apply A^T (D's gradient
    reaching G through fakes), and differentiating that backward must apply A again (R1 differentiates D's input
    gradient through the pipe)."""
    pipe = AugmentPipe.from_preset("bgcfnc")
    pipe.p.fill_(1.0)

    def augment(x):
        torch.manual_seed(3)
        return pipe(x)

    x, u, v = (torch.randn(4, 3, 16, 16, dtype=torch.float64) for _ in range(3))
    zero = augment(torch.zeros_like(x))
    a_u = augment(u) - zero
    assert torch.allclose(augment(x + u) - augment(x), a_u, atol=1e-10)  # affine: same A at every x
    xg = x.clone().requires_grad_()
    vg = v.clone().requires_grad_()
    (at_v,) = torch.autograd.grad(augment(xg), xg, grad_outputs=vg, create_graph=True)
    assert torch.allclose((a_u * v).sum(), (u * at_v).sum(), rtol=1e-9)  # <A u, v> == <u, A^T v>
    (a_u_again,) = torch.autograd.grad(at_v, vg, grad_outputs=u)
    assert torch.allclose(a_u_again, a_u, atol=1e-10)


def test_bfloat16_autocast_runs():
    x = smooth_images(4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = apply(AugmentPipe.from_preset("bgcfnc"), x)
    assert y.shape == x.shape and torch.isfinite(y.float()).all()


# ---------------------------------------------------------------------------------------------------------
# Pixel blitting


def test_xflip_mirrors_exactly_with_probability_p_over_two():
    x = torch.arange(4 * 4, dtype=torch.float32).view(1, 1, 4, 4).expand(4000, 1, 4, 4) / 16
    y = apply(AugmentPipe(xflip=1), x, p=0.5)
    same = (y == x).flatten(1).all(1)
    mirrored = (y == x.flip(-1)).flatten(1).all(1)
    assert (same ^ mirrored).all()
    assert abs(mirrored.float().mean().item() - 0.25) < 0.03


def test_rotate90_gives_exact_quarter_turns_of_every_kind():
    x = smooth_images(32)
    y = apply(AugmentPipe(rotate90=1), x)
    turns = []
    for i in range(len(x)):
        matches = [k for k in range(4) if torch.equal(y[i], torch.rot90(x[i], k, (1, 2)))]
        assert len(matches) == 1
        turns.append(matches[0])
    assert set(turns) == {0, 1, 2, 3}


def test_integer_translation_is_an_exact_reflect_padded_shift():
    size, reach = 16, round(0.125 * 16)
    x = torch.rand(32, 3, size, size) * 2 - 1
    y = apply(AugmentPipe(xint=1), x)
    padded = F.pad(x, (reach,) * 4, mode="reflect")
    shifts = []
    for i in range(len(x)):
        found = [(tx, ty) for tx in range(-reach, reach + 1) for ty in range(-reach, reach + 1)
                 if torch.equal(y[i], padded[i, :, reach - ty:reach - ty + size, reach - tx:reach - tx + size])]
        assert len(found) == 1
        shifts.append(found[0])
    assert len(set(shifts)) > 5


# ---------------------------------------------------------------------------------------------------------
# General geometric transformations


def test_resampler_identity_is_nearly_exact_on_smooth_images():
    x = smooth_images(2, size=32)
    y = affine_resample(x, torch.eye(3).expand(2, 3, 3))
    assert (y - x)[..., 4:-4, 4:-4].abs().max() < 2e-3  # the border sees the kink of the mirror


def test_resampler_quarter_turn_and_integer_shift_match_exact_pixel_moves():
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    ident = affine_resample(x, torch.eye(3)[None])
    quarter = torch.tensor([[[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]])  # output (u, v) reads input (-v, u)
    assert torch.allclose(affine_resample(x, quarter), torch.rot90(ident, 1, (2, 3)), atol=1e-5)
    shift = torch.tensor([[[1.0, 0, -3], [0, 1, 0], [0, 0, 1]]])  # output column j reads input column j - 3
    assert torch.allclose(affine_resample(x, shift)[..., 3:], ident[..., :-3], atol=1e-5)


def test_resampler_half_pixel_shift_interpolates_a_smooth_signal():
    size = 32
    r = torch.arange(size, dtype=torch.float32)
    wave = lambda t: torch.sin(2 * math.pi * 3 * t / size).expand(1, 1, size, size)  # noqa: E731
    shift = torch.tensor([[[1.0, 0, -0.5], [0, 1, 0], [0, 0, 1]]])
    y = affine_resample(wave(r), shift)
    assert (y - wave(r - 0.5))[..., 4:-4].abs().max() < 5e-3  # Lanczos-3 pass band is flat to ~1%


def test_resampler_low_passes_before_minifying():
    """Stripes at 0.8x Nyquist shrunk to 0.6x size would alias into strong low-frequency stripes without the
    2x supersampling and its low-pass; with it they fade to grey."""
    size = 32
    stripes = torch.cos(0.8 * math.pi * torch.arange(size, dtype=torch.float32)).expand(1, 1, size, size)
    shrink = torch.diag(torch.tensor([1 / 0.6, 1 / 0.6, 1.0]))[None]
    y = affine_resample(stripes, shrink)
    naive = F.grid_sample(stripes, (torch.stack(torch.meshgrid(*[torch.linspace(-1, 1, size)] * 2, indexing="xy"),
                                                -1) / 0.6)[None], mode="bilinear", padding_mode="reflection",
                          align_corners=True)
    assert y[..., 8:-8, 8:-8].std() < 0.1 and naive[..., 8:-8, 8:-8].std() > 0.25


def test_geometric_draws_follow_the_paper_distributions():
    n, size = 4000, 64
    torch.manual_seed(0)
    g, sel = AugmentPipe(scale=1).geometric_matrices(n, 1.0, size, torch.device("cpu"))
    assert sel.all() and torch.allclose(g[:, 0, 0], g[:, 1, 1])
    assert abs(torch.log2(1 / g[:, 0, 0]).std().item() - 0.2) < 0.02  # lognormal(0, (0.2 ln 2)^2)
    g, _ = AugmentPipe(aniso=1).geometric_matrices(n, 1.0, size, torch.device("cpu"))
    assert torch.allclose(g[:, 0, 0] * g[:, 1, 1], torch.ones(n)) and abs(torch.log2(g[:, 1, 1]).std() - 0.2) < 0.02
    g, _ = AugmentPipe(xfrac=1).geometric_matrices(n, 1.0, size, torch.device("cpu"))
    assert abs(g[:, :2, 2].std().item() / size - 0.125) < 0.01
    g, sel = AugmentPipe(rotate=1).geometric_matrices(n, 0.5, size, torch.device("cpu"))
    angle = torch.atan2(g[:, 1, 0], g[:, 0, 0])
    assert abs(sel.float().mean().item() - 0.5) < 0.03  # two rotations at 1 - sqrt(1 - p) each: any with p
    assert torch.equal(sel, angle != 0)
    assert abs(angle[sel].abs().mean().item() - math.pi / 2) < 0.1  # a sum of 1 or 2 uniform(-pi, pi), wrapped


def test_fractional_translation_moves_the_centre_of_mass_by_the_drawn_shift():
    pipe = AugmentPipe(xfrac=1, xfrac_std=0.05)
    x = blob(16)
    y = apply(pipe, x, seed=5)
    torch.manual_seed(5)
    g, _ = pipe.geometric_matrices(16, 1.0, 32, torch.device("cpu"))
    moved = centroid(y) - centroid(x)
    assert torch.allclose(moved, -g[:, :2, 2], atol=0.05)
    assert moved.abs().max() > 1


def test_isotropic_scale_resizes_the_spot():
    pipe = AugmentPipe(scale=1)
    x = blob(16, sigma=2.0)
    y = apply(pipe, x, seed=2)
    torch.manual_seed(2)
    g, _ = pipe.geometric_matrices(16, 1.0, 32, torch.device("cpu"))

    def radius(img):
        w = img[:, 0] + 1
        r = torch.arange(32, dtype=torch.float32) - 15.5
        return ((w * (r[None, :, None] ** 2 + r[None, None, :] ** 2)).sum((1, 2)) / w.sum((1, 2))).sqrt()

    ratio = radius(y) / radius(x)
    assert torch.allclose(ratio, 1 / g[:, 0, 0], rtol=0.02)
    assert ratio.min() < 0.9 and ratio.max() > 1.1


def test_rotation_turns_an_elongated_spot():
    r = torch.arange(32, dtype=torch.float32) - 15.5
    spot = torch.exp(-(r[None, :] ** 2 / 30 + r[:, None] ** 2 / 4))  # long along x
    x = (spot * 2 - 1).expand(16, 1, 32, 32)
    y = apply(AugmentPipe(rotate=1), x) + 1
    # Orientation of the principal axis from second moments.
    mxx = (y[:, 0] * r[None, None, :] ** 2).sum((1, 2))
    myy = (y[:, 0] * r[None, :, None] ** 2).sum((1, 2))
    mxy = (y[:, 0] * r[None, None, :] * r[None, :, None]).sum((1, 2))
    axis = 0.5 * torch.atan2(2 * mxy, mxx - myy)
    assert axis.abs().max() > math.radians(30)


def test_anisotropic_scale_changes_the_aspect_ratio():
    x = blob(16, sigma=2.5)
    y = apply(AugmentPipe(aniso=1), x) + 1
    r = torch.arange(32, dtype=torch.float32) - 15.5
    sx = (y[:, 0] * r[None, None, :] ** 2).sum((1, 2))
    sy = (y[:, 0] * r[None, :, None] ** 2).sum((1, 2))
    aspect = (sx / sy).sqrt()
    assert aspect.min() < 0.9 and aspect.max() > 1.1


# ---------------------------------------------------------------------------------------------------------
# Colour


def test_brightness_adds_one_offset_per_sample_with_std_0_2():
    x = smooth_images(2000, size=4)
    d = apply(AugmentPipe(brightness=1), x) - x
    offset = d.mean((1, 2, 3))
    assert torch.allclose(d, offset[:, None, None, None].expand_as(d), atol=1e-5)
    assert abs(offset.std().item() - 0.2) < 0.02


def test_contrast_scales_each_sample_by_a_lognormal_factor():
    x = smooth_images(2000, size=4)
    y = apply(AugmentPipe(contrast=1), x)
    factor = y.std((1, 2, 3)) / x.std((1, 2, 3))
    assert torch.allclose(y, x * factor[:, None, None, None], atol=1e-5)
    assert abs(torch.log2(factor).std().item() - 0.5) < 0.05


def test_luma_flip_inverts_luminance_and_keeps_chroma():
    x = smooth_images(64)
    y = apply(AugmentPipe(lumaflip=1), x)
    (lx, cx), (ly, cy) = luma_chroma(x), luma_chroma(y)
    assert torch.allclose(cy, cx, atol=1e-5)
    flipped = torch.isclose(ly, -lx, atol=1e-5).flatten(1).all(1)
    kept = torch.isclose(ly, lx, atol=1e-5).flatten(1).all(1)
    assert (flipped | kept).all() and flipped.any() and kept.any()


def test_hue_rotation_keeps_luma_and_chroma_strength_and_turns_chroma():
    x = smooth_images(16)
    y = apply(AugmentPipe(hue=1), x)
    (lx, cx), (ly, cy) = luma_chroma(x), luma_chroma(y)
    assert torch.allclose(ly, lx, atol=1e-5)
    assert torch.allclose(cy.norm(dim=1), cx.norm(dim=1), atol=1e-5)
    cos = (cx * cy).sum(1) / (cx.norm(dim=1) * cy.norm(dim=1)).clamp_min(1e-6)
    assert cos.mean((1, 2)).min() < 0  # some samples turned by more than 90 degrees


def test_saturation_scales_chroma_only():
    x = smooth_images(2000, size=4)
    y = apply(AugmentPipe(saturation=1), x)
    (lx, cx), (ly, cy) = luma_chroma(x), luma_chroma(y)
    assert torch.allclose(ly, lx, atol=1e-5)
    factor = (cy.square().sum((1, 2, 3)) / cx.square().sum((1, 2, 3))).sqrt()
    assert torch.allclose(cy, cx * factor[:, None, None, None], atol=1e-4)
    assert abs(torch.log2(factor).std().item() - 1.0) < 0.1


def test_grey_images_get_the_luma_subset_identically_in_one_and_three_channels():
    pipe = AugmentPipe(brightness=1, contrast=1, lumaflip=1)
    grey = smooth_images(32, 1)
    y1 = apply(pipe, grey, seed=7)
    y3 = apply(pipe, grey.expand(-1, 3, -1, -1), seed=7)
    assert torch.allclose(y3, y1.expand(-1, 3, -1, -1), atol=1e-5)
    # Per sample an affine map of the grey level, sometimes with the sign flipped.
    gain = (y1 - y1.mean((1, 2, 3), keepdim=True)).std((1, 2, 3)) / grey.std((1, 2, 3))
    signs = torch.sign(((y1 - y1.mean((1, 2, 3), keepdim=True)) * grey).sum((1, 2, 3)))
    assert torch.allclose(y1 - y1.mean((1, 2, 3), keepdim=True), (gain * signs)[:, None, None, None] * grey,
                          atol=1e-4)
    assert (signs < 0).any() and (signs > 0).any()


def test_full_colour_preset_on_grey_is_affine_per_sample():
    grey = smooth_images(16, 1)
    y = apply(AugmentPipe.from_preset("color"), grey)
    for i in range(len(grey)):
        a = torch.stack([grey[i].flatten(), torch.ones(grey[i].numel())], 1)
        coef = torch.linalg.lstsq(a, y[i].flatten()[:, None]).solution
        assert torch.allclose(a @ coef, y[i].flatten()[:, None], atol=1e-4)


# ---------------------------------------------------------------------------------------------------------
# Image-space filtering, noise, cutout


def test_filter_bands_split_the_spectrum_into_octaves_that_sum_to_identity():
    bands = torch.tensor(octave_bands(halfband_filter(3)))
    impulse = torch.zeros(bands.shape[1], dtype=torch.float64)
    impulse[bands.shape[1] // 2] = 1
    assert torch.allclose(bands.sum(0), impulse, atol=1e-12)
    k = torch.arange(bands.shape[1], dtype=torch.float64) - bands.shape[1] // 2
    freqs = torch.linspace(0, math.pi, 257, dtype=torch.float64)
    response = (bands[:, None, :] * torch.cos(freqs[None, :, None] * k)).sum(-1)
    edges = [0, math.pi / 8, math.pi / 4, math.pi / 2, math.pi]
    for b in range(4):
        peak = freqs[response[b].argmax()].item()
        assert edges[b] <= peak <= edges[b + 1]


def test_filter_gains_keep_the_expected_variance_for_one_band():
    pipe = AugmentPipe(imgfilter=1, imgfilter_bands=(0, 1, 0, 0))
    torch.manual_seed(0)
    gains, sel = pipe.filter_gains(1000, 1.0, torch.device("cpu"))
    power = torch.tensor([10, 1, 1, 1]) / 13
    assert sel.all()
    assert torch.allclose((power * gains.square()).sum(1), torch.ones(1000), atol=1e-5)
    assert torch.allclose(gains[:, 0], gains[:, 2]) and torch.allclose(gains[:, 0], gains[:, 3])


def test_filter_scales_a_flat_image_by_the_low_band_gain_only():
    pipe = AugmentPipe(imgfilter=1)
    x = torch.full((64, 3, 16, 16), 0.5)
    y = apply(pipe, x, seed=1)
    torch.manual_seed(1)
    gains, _ = pipe.filter_gains(64, 1.0, torch.device("cpu"))
    assert torch.allclose(y, 0.5 * gains[:, 0, None, None, None].square().expand_as(y), atol=1e-5)


def test_filter_changes_the_balance_of_high_and_low_frequencies():
    x = torch.randn(16, 1, 32, 32)
    y = apply(AugmentPipe(imgfilter=1), x)

    def high_over_low(img):
        spectrum = torch.fft.rfft2(img[:, 0]).abs().square()
        f = torch.maximum(torch.fft.fftfreq(32).abs()[:, None], torch.fft.rfftfreq(32)[None, :])  # cycles/pixel
        return (spectrum * (f > 0.25)).sum((1, 2)) / (spectrum * (f < 1 / 16)).sum((1, 2))  # [pi/2, pi] vs [0, pi/8]

    change = high_over_low(y) / high_over_low(x)
    assert change.min() < 0.5 and change.max() > 2


def test_noise_adds_high_frequency_energy_with_half_normal_strength():
    x = smooth_images(2000, size=8)
    y = apply(AugmentPipe(noise=1), x)
    sigma = (y - x).std((1, 2, 3))
    assert abs(sigma.mean().item() - 0.1 * math.sqrt(2 / math.pi)) < 0.008
    lap = lambda img: (4 * img[..., 1:-1, 1:-1] - img[..., :-2, 1:-1] - img[..., 2:, 1:-1]  # noqa: E731
                       - img[..., 1:-1, :-2] - img[..., 1:-1, 2:]).square().mean()
    # White noise of variance s^2 adds (16 + 4) s^2 to the Laplacian's energy, and E[s^2] = 0.1^2.
    assert (lap(y) - lap(x)).item() == pytest.approx(20 * 0.1**2, rel=0.15)


def test_cutout_zeroes_one_clipped_half_size_rectangle():
    size = 16
    x = torch.full((64, 3, size, size), 0.5)
    y = apply(AugmentPipe(cutout=1), x)
    hole = y[:, 0] == 0
    assert torch.equal(hole[:, None].expand_as(y), y == 0)
    rows, cols = hole.any(2), hole.any(1)
    assert torch.equal(hole, rows[:, :, None] & cols[:, None, :])  # one axis-aligned rectangle
    for extent in (rows.sum(1), cols.sum(1)):
        assert (extent >= size // 4).all() and (extent <= size // 2).all()
    assert (y[~hole[:, None].expand_as(y)] == 0.5).all()


# ---------------------------------------------------------------------------------------------------------
# ADA controller


def test_controller_raises_p_when_d_is_overconfident_on_reals_every_interval():
    ada = AdaController(batch_size=32, target=0.6, interval=4, ada_kimg=500)
    step = 32 * 4 / (500 * 1000)
    p = 0.1
    for i in range(8):
        ada.accumulate(torch.full((32, 1), 3.0))
        new = ada.update(p)
        assert new == (pytest.approx(p + step) if i % 4 == 3 else p)
        p = new
    assert ada.rt == 1.0


def test_controller_lowers_p_when_d_is_unsure_and_stops_at_zero():
    ada = AdaController(batch_size=16, target=0.6, interval=2, ada_kimg=0.01)  # one adjustment = 3.2
    logits = torch.cat([torch.full((11,), 2.0), torch.full((5,), -2.0)])  # r_t = (11 - 5) / 16 < 0.6
    ada.accumulate(logits)
    assert ada.update(0.5) == 0.5
    ada.accumulate(logits)
    assert ada.update(0.5) == 0.0
    assert ada.rt == pytest.approx(6 / 16)


def test_controller_keeps_p_at_most_one_and_sums_over_ranks():
    ada = AdaController(batch_size=8, interval=1, ada_kimg=0.001)
    p = 0.0
    for _ in range(3):
        ada.accumulate(torch.randn(8).abs() + 0.1)
        p = ada.update(p, reduce=lambda t: t * 2)  # two identical ranks
        assert 0.0 <= p <= 1.0
    assert p == 1.0 and ada.rt == 1.0


def test_ada_adjust_is_symmetric_and_clamped():
    assert ada_adjust(0.5, 0.7, 0.6, 1000, 500) == pytest.approx(0.502)
    assert ada_adjust(0.5, 0.5, 0.6, 1000, 500) == pytest.approx(0.498)
    assert ada_adjust(0.5, 0.6, 0.6, 1000, 500) == 0.5
    assert ada_adjust(0.001, -1.0, 0.6, 1000, 500) == 0.0
    assert ada_adjust(0.999, 1.0, 0.6, 1000, 500) == 1.0


@pytest.mark.parametrize("kwargs", [dict(batch_size=0), dict(batch_size=4, interval=0), dict(batch_size=4, ada_kimg=0),
                                    dict(batch_size=4, target=1.5)])
def test_controller_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError, match="AdaController"):
        AdaController(**kwargs)
