"""Spec §8 vectors at level C1: bit-exact fp32 output on the CPU (hashes of the uint8 images)."""

import hashlib

import numpy as np
import pytest
import torch

from .conformance import make_d, make_g

# c_dim, seed, psi, cutoff, noise, mean, mean abs, img[0,:,0,0], sum(u8), sha256(u8)   -- spec §8 table
VECTORS = [
    (0, 0, 1, None, "const", 0.2790733, 0.8280779, (-0.387407, 0.380150, 0.037810), 118555,
     "65d9c280545802cb563e43e445e67b23138aa7b73e13bd15f8f9aa59ed231da4"),
    (0, 1, 1, None, "const", 0.8593215, 1.3729141, (-0.293498, 1.402763, -0.034670), 126301,
     "2d0aba86594956134122bc30177a630a56ac0e45a4d14b60586023b10e6fbe8e"),
    (0, 0, 0.7, None, "const", 0.1935135, 0.8256586, (-0.441267, 0.387210, -0.002561), 111460,
     "0cf3050bb74cba573f5e6790e716bf410026cb5c8fd2e62a731aa56a93799216"),
    (0, 1, 0.7, None, "const", 0.5380095, 1.2131579, (-0.290692, 0.984589, 0.032129), 114729,
     "2164484566bbea3b0e6f0268de2399bedd82278f563975c66499f253d7a2900c"),
    (0, 0, 0.5, 2, "const", 0.2893673, 0.7564206, (-0.331766, 0.328156, 0.063367), 120021,
     "6b2b1b3393f215a934949fec35696a666d5930b1fa81adc3745348374e98517a"),
    (0, 1, 0.5, 2, "const", 0.8172932, 1.2883748, (-0.254943, 1.374202, 0.071028), 129463,
     "78042534120cce9d3f3c71f2bec207d6e550800629703949ea3bf0b3edecb1eb"),
    (0, 0, 1, None, "none", 0.2716835, 0.8086182, (-0.395729, 0.370218, 0.056355), 117973,
     "9db5d9fcd627a25f4345ac64b0dc35fbd3c4d942cf46dc5b24d3a578ae7a7903"),
    (0, 1, 1, None, "none", 0.8522393, 1.3482419, (-0.309806, 1.429297, -0.021361), 126351,
     "1fa85c5af7d68e03cf5454957cc3728db4af9aba362db4cdca6cb34e1814a939"),
    (3, 0, 1, None, "const", -0.1422294, 0.5398338, (-0.189739, 0.153744, 0.158954), 89042,
     "c67bb6483eeaa23fbafb9adf1baadb19e795596787fe4afe6ed61da99c1ed632"),
    (3, 1, 1, None, "const", -0.0221663, 0.4125445, (-0.358868, 0.320941, -0.038556), 95738,
     "c1dc7fb8afde418d262a2c0f8749b0fa3ae93a823fc35a7f4ccbafd57c1f4fd8"),
    (3, 0, 0.7, None, "const", -0.0458906, 0.5749062, (-0.384838, 0.215757, 0.109947), 95837,
     "72b8f613bf9525a4224bd7d53709dd8212af2039dc0a609ba6529e35ce12fd69"),
    (3, 1, 0.7, None, "const", -0.0838460, 0.5962959, (-0.471593, 0.370960, -0.039737), 91315,
     "2761918ed2a595b6afb6f7221343a421ab34a2999ae7c0c94323b4c254ce5b13"),
    (3, 0, 0.5, 2, "const", -0.0987562, 0.4605821, (-0.169164, 0.165707, 0.134551), 89330,
     "d7a0b3b8387217afcadee4bcb07cc3c33cb77507028b9204bea4e8babf1694be"),
    (3, 1, 0.5, 2, "const", 0.0053903, 0.3673805, (-0.330039, 0.305971, -0.058677), 98446,
     "30c5930750de07e79c56a76f0c1859655fa5f1cb8ee32d8d20be1df7f5541925"),
    (3, 0, 1, None, "none", -0.1445907, 0.5282279, (-0.193545, 0.155117, 0.157101), 88437,
     "394bac6884d5aefaaa4e65e8860433c9282b31188290aba507bf50a344cbc51e"),
    (3, 1, 1, None, "none", -0.0198244, 0.4118062, (-0.372975, 0.337379, -0.039318), 95973,
     "2e6348b1408687185cd940e71845989bf66512fb8ba8e961815b89b5abd32eed"),
]

NETS = {c_dim: make_g(c_dim) for c_dim in (0, 3)}


def to_u8(img: torch.Tensor) -> np.ndarray:
    """Spec §5.4: multiply, add, clamp, truncate."""
    return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"c{v[0]}-s{v[1]}-psi{v[2]}-cut{v[3]}-{v[4]}")
def test_generator_c1(vector):
    c_dim, seed, psi, cutoff, noise, mean, mean_abs, first, total, digest = vector
    g = NETS[c_dim]
    z = torch.from_numpy(np.random.RandomState(seed).randn(1, 32))
    c = torch.nn.functional.one_hot(torch.tensor([1]), 3).float() if c_dim else None
    with torch.no_grad():
        img = g(z, c, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode=noise, force_fp32=True)
    values = img.double().numpy()
    assert values.mean() == pytest.approx(mean, abs=1e-6)
    assert np.abs(values).mean() == pytest.approx(mean_abs, abs=1e-6)
    assert values[0, :, 0, 0] == pytest.approx(first, abs=1e-6)
    u8 = to_u8(img)
    assert int(u8.sum(dtype=np.int64)) == total
    assert hashlib.sha256(u8.tobytes()).hexdigest() == digest


def test_discriminator_logits():
    x = torch.from_numpy(np.random.RandomState(99).randn(4, 3, 16, 16).astype(np.float32))
    with torch.no_grad():
        logits = make_d(0)(x, None).flatten().tolist()
        c = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 0]), 3).float()
        logits_c = make_d(3)(x, c).flatten().tolist()
    assert logits == pytest.approx([2.324207, 2.200952, 2.221791, 2.187955], abs=1e-6)
    assert logits_c == pytest.approx([-2.334548, -1.522494, -1.884596, -2.326108], abs=1e-6)


def test_tensor_counts():
    """Spec §8: 56 / 58 G tensors and 28 / 46 D tensors."""
    assert len(make_g(0).state_dict()) == 56
    assert len(make_g(3).state_dict()) == 58
    assert len(make_d(0).state_dict()) == 28
    assert len(make_d(3).state_dict()) == 46
