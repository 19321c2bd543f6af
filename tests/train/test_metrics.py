"""SWD: pyramid filters, the sliced Wasserstein distance itself, and that it ranks image sets sensibly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.networks import Generator
from train.metrics import (
    generate_uint8,
    laplacian_pyramid,
    level_resolutions,
    pyr_down,
    pyr_up,
    sliced_wasserstein,
    swd,
)


def test_pyramid_filters_keep_a_constant_image_constant():
    x = torch.full([2, 3, 16, 16], 0.7)
    assert torch.allclose(pyr_down(x), torch.full([2, 3, 8, 8], 0.7))
    assert torch.allclose(pyr_up(pyr_down(x)), x)  # the x4 gain makes up-sampling preserve the mean


def test_laplacian_pyramid_levels_and_reconstruction():
    x = torch.rand([2, 3, 64, 64])
    levels = laplacian_pyramid(x, len(level_resolutions(64)))
    assert [lv.shape[-1] for lv in levels] == [64, 32, 16] == level_resolutions(64)
    recon = levels[-1]
    for band in reversed(levels[:-1]):
        recon = pyr_up(recon) + band
    assert torch.allclose(recon, x, atol=1e-5)
    assert level_resolutions(8) == [8]


def test_sliced_wasserstein_of_a_shifted_1d_set_is_the_shift():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn([1000, 1], generator=gen)
    assert sliced_wasserstein(a, a.clone(), gen) == 0.0
    # In one dimension every unit direction is +-1, so the distance is exactly the shift.
    assert sliced_wasserstein(a, a + 0.5, gen) == pytest.approx(0.5, rel=1e-5)


def discs(n: int, seed: int, res: int = 32) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:res, :res]
    out = np.empty([n, 3, res, res], np.uint8)
    for i in range(n):
        out[i] = rng.integers(0, 256, [3, 1, 1])
        r = rng.integers(3, res // 2)
        cy, cx = rng.integers(r, res - r + 1, 2)
        out[i][:, (yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.integers(0, 256, [3, 1])
    return torch.from_numpy(out)


def test_swd_is_small_between_samples_of_one_distribution_and_large_otherwise():
    a, b = discs(64, seed=1), discs(64, seed=2)
    noise = torch.randint(0, 256, a.shape, generator=torch.Generator().manual_seed(3), dtype=torch.uint8)
    same = swd(a, b)
    other = swd(a, noise)
    assert set(same) == {"swd32", "swd16", "swdavg"}
    assert same["swdavg"] == pytest.approx(np.mean([same["swd32"], same["swd16"]]))
    assert other["swd32"] > 2 * same["swd32"] and other["swd16"] > 2 * same["swd16"]
    with pytest.raises(ValueError, match="equal-size"):
        swd(a, b[:10])


def test_generated_images_follow_the_seed_noise_included_and_leave_the_global_generator_alone():
    G = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 1},
                  synthesis_kwargs={"channel_base": 64, "channel_max": 8}).eval()
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(1.0)  # the noise inputs count: an unseeded noise draw would change the images
    labels = np.zeros([1, 0], np.float32)
    state = torch.random.get_rng_state()
    a = generate_uint8(G, 4, labels, torch.device("cpu"), seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a, generate_uint8(G, 4, labels, torch.device("cpu"), seed=5))
    assert not torch.equal(a, generate_uint8(G, 4, labels, torch.device("cpu"), seed=6))
