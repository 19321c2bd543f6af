"""The fast path (model/fast.py): the switch, its fidelity against the exact path, and training gradients.

Nets are the spec §8 conformance nets (16², realistic image range: mapping ×100, ToRGB ×0.1), plus a variant with
fp16 blocks. Fidelity levels: fast fp32 is a C2-style rewrite (float tolerance); bf16/fp16 are judged by PSNR of
the uint8 images, the measure a user sees.
"""

from contextlib import nullcontext

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model import fast
from model.errors import ModelError
from model.layers import conv2d_resample, fir_filter, upfirdn2d
from model.networks import Generator

from .conformance import G_KWARGS, fill_weights, make_d, make_g

G0 = make_g()
G3 = make_g(3)


def g_fp16_blocks() -> Generator:
    kwargs = dict(G_KWARGS, synthesis_kwargs=dict(G_KWARGS["synthesis_kwargs"], num_fp16_res=2))
    g = Generator(c_dim=0, **kwargs).eval()
    fill_weights(g, 2024)
    return g


def seeds_ws(g: Generator, seeds, psi: float = 1.0) -> torch.Tensor:
    z = torch.from_numpy(np.stack([np.random.RandomState(s).randn(g.z_dim) for s in seeds])).float()
    c = torch.eye(g.c_dim)[[s % g.c_dim for s in seeds]] if g.c_dim else None
    with torch.no_grad():
        return g.mapping(z, c, truncation_psi=psi)


def render(g: Generator, ws: torch.Tensor, precision: str, per_sample: bool = False) -> torch.Tensor:
    """Batched, or one sample at a time (batch-1 layers take the folded-weight path)."""
    if per_sample:
        return torch.cat([fast.render(g, w[None], "const", precision) for w in ws])
    return fast.render(g, ws, "const", precision)


def to_u8(img: torch.Tensor) -> np.ndarray:
    return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()


def psnr(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Per-image PSNR (dB) of the uint8 conversions; identical images give inf."""
    mse = ((to_u8(a).astype(np.float64) - to_u8(b).astype(np.float64)) ** 2).mean(axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        return 10 * np.log10(255.0 ** 2 / mse)


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    return float(a @ b / (a.norm() * b.norm()))


# ---------------------------------------------------------------------------------------------------------
# The switch


def test_fast_dtype_applies_to_its_call_only():
    ws = seeds_ws(G0, [0, 1])
    before = G0.synthesis(ws, noise_mode="const", force_fp32=True)
    fast_bf16 = G0.synthesis(ws, noise_mode="const", fast_dtype=torch.bfloat16)
    after = G0.synthesis(ws, noise_mode="const", force_fp32=True)
    assert torch.equal(before, after)
    assert not torch.equal(before, fast_bf16)
    assert torch.equal(fast.render(G0, ws, "const", "exact"), before)
    assert torch.equal(fast.render(G0, ws, "const", "bf16"), fast_bf16)


def test_fast_path_uses_its_dtype_and_channels_last():
    g = g_fp16_blocks()  # b16 is an fp16 block, b4 and b8 are fp32 blocks
    seen = {}
    for name in ("b4", "b16"):
        layer = getattr(g.synthesis, name).conv1
        layer.register_forward_pre_hook(lambda m, a, name=name: seen.__setitem__(name, a[0]))
    ws = seeds_ws(g, [0, 1])
    expected = {"exact": (torch.float32, torch.float32), "fp32": (torch.float32, torch.float32),
                "bf16": (torch.bfloat16, torch.bfloat16), "fp16": (torch.float32, torch.float16)}
    for precision, dtypes in expected.items():
        for per_sample in (True, False):
            out = render(g, ws, precision, per_sample)
            assert out.dtype == torch.float32 and out.shape == (2, 3, 16, 16)
            assert (seen["b4"].dtype, seen["b16"].dtype) == dtypes
            cl = seen["b16"].is_contiguous(memory_format=torch.channels_last) and not seen["b16"].is_contiguous()
            assert cl == (precision != "exact")


# ---------------------------------------------------------------------------------------------------------
# Fidelity


@pytest.mark.parametrize("g", [G0, G3], ids=["uncond", "cond"])
@pytest.mark.parametrize("per_sample", [True, False], ids=["per-sample", "batched"])
def test_fast_fp32_matches_exact_to_float_tolerance(g, per_sample):
    ws = seeds_ws(g, range(4), psi=0.7)
    exact = fast.render(g, ws, "const", "exact")
    out = render(g, ws, "fp32", per_sample)
    assert (out - exact).abs().max() <= 1e-5 * max(1.0, exact.abs().max().item())


@pytest.mark.parametrize("precision,g", [("bf16", G0), ("bf16", G3), ("fp16", g_fp16_blocks())],
                         ids=["bf16-uncond", "bf16-cond", "fp16"])
def test_reduced_precision_psnr(precision, g):
    ws = seeds_ws(g, range(32))
    exact = fast.render(g, ws, "const", "exact")
    assert to_u8(exact).std() > 30  # the images span the range: the PSNR measures something
    for per_sample in (True, False):
        out = render(g, ws, precision, per_sample)
        p = psnr(out, exact)
        assert np.median(p) >= 35 and p.min() >= 30, (per_sample, np.median(p), p.min())


def test_changed_weights_are_seen_by_the_fast_path():
    g = make_g()
    ws = seeds_ws(g, [0, 1])
    for n in (1, 2):
        render(g, ws[:n], "fp32")  # fills the per-weight cache
        with torch.no_grad():
            g.synthesis.b16.conv1.weight.mul_(-1.5)
        exact = render(g, ws[:n], "exact")
        assert torch.allclose(render(g, ws[:n], "fp32"), exact, atol=1e-5)


def test_random_noise_mode_runs_on_the_fast_path():
    ws = seeds_ws(G0, [0, 0])
    with torch.random.fork_rng():
        out = fast.render(G0, ws, "random", "bf16")
    assert torch.isfinite(out).all()
    assert not torch.equal(out[0], out[1])  # same w, different noise


FIR_CASES = [  # (up, down, padding, gain, input size): every use in spec §4.1
    (2, 1, (2, 1, 2, 1), 4, 8), (1, 2, (1, 1, 1, 1), 1, 8), (1, 1, (1, 1, 1, 1), 4, 17), (1, 1, (2, 2, 2, 2), 1, 8),
]


@pytest.mark.parametrize("training", [False, True])  # inference has its own forms (the 2x up: bilinear, cropped)
@pytest.mark.parametrize("up,down,padding,gain,size", FIR_CASES)
def test_fast_fir_matches_exact(up, down, padding, gain, size, training):
    x = torch.randn([2, 5, size, size], generator=torch.Generator().manual_seed(0)).requires_grad_(training)
    ref = upfirdn2d(x, fir_filter(), up, down, padding, gain)
    out = fast.upfirdn2d(x.to(memory_format=torch.channels_last), fir_filter(), up, down, padding, gain)
    assert out.shape == ref.shape
    assert torch.allclose(out, ref, atol=1e-6)


@pytest.mark.parametrize("k,up,down", [(3, 1, 1), (1, 1, 1), (3, 2, 1), (1, 2, 1), (3, 1, 2), (1, 1, 2)])
def test_fast_conv2d_resample_matches_exact(k, up, down):
    gen = torch.Generator().manual_seed(1)
    x, w = torch.randn([2, 6, 8, 8], generator=gen), torch.randn([4, 6, k, k], generator=gen) / k
    bias = torch.randn([4], generator=gen)
    ref = conv2d_resample(x, w, fir_filter(), up=up, down=down) + bias.reshape(1, -1, 1, 1)
    out = fast.conv2d_resample(x, w, fir_filter(), up=up, down=down, bias=bias)
    assert out.shape == ref.shape
    assert torch.allclose(out, ref, atol=1e-5)


@pytest.mark.parametrize("k,up", [(3, 1), (1, 1), (3, 2)])
def test_packed_shared_weights_match_and_follow_weight_changes(k, up):
    """At inference a shared weight is packed for oneDNN once per input shape; in-place updates repack it."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn([1, 6, 8, 8], generator=gen).to(memory_format=torch.channels_last)
    owner = torch.nn.Parameter(torch.randn([4, 6, k, k], generator=gen) / k, requires_grad=False)
    for step in range(2):
        ref = conv2d_resample(x.contiguous(), owner.data, fir_filter(), up=up)
        with torch.inference_mode():
            w = owner.data.contiguous(memory_format=torch.channels_last)
            out = fast.conv2d_resample(x, w, fir_filter(), up=up, owner=owner)
        assert torch.allclose(out, ref, atol=1e-5), step
        with torch.no_grad():
            owner.mul_(-2)  # the next round must not reuse the packed copy of the old values
    x2 = torch.cat([x, x]).contiguous(memory_format=torch.channels_last)  # another shape replaces, not adds, a copy
    with torch.inference_mode():
        out = fast.conv2d_resample(x2, owner.data.contiguous(memory_format=torch.channels_last), fir_filter(), up=up,
                                   owner=owner)
    assert torch.allclose(out, conv2d_resample(x2.contiguous(), owner.data, fir_filter(), up=up), atol=1e-5)
    packed = [key for key in fast._DERIVED[owner] if key.startswith("packed")]
    assert len(packed) == (4 if up == 2 else 1)  # one per phase kernel, whatever shapes came before


# ---------------------------------------------------------------------------------------------------------
# Training: gradients through the fast ops (plain, with double backward as R1 and path length need)


def g_grads(g: Generator, ws: torch.Tensor, target: torch.Tensor, variant) -> list[torch.Tensor]:
    g.zero_grad(set_to_none=True)
    fast_dtype, context = variant
    with context():
        img = g.synthesis(ws, noise_mode="const", fast_dtype=fast_dtype)
    (img.float() * target).sum().backward()
    return [p.grad.clone() for p in g.synthesis.parameters()]


EXACT = (None, nullcontext)
VARIANTS = {  # (fast_dtype, context); autocast+fp32 is what a bf16-autocast trainer would do: fp32 blocks, autocast
    "fp32": (torch.float32, nullcontext),  # choosing the op dtypes
    "bf16": (torch.bfloat16, nullcontext),
    "autocast+fp32": (torch.float32, lambda: torch.autocast("cpu", dtype=torch.bfloat16)),
}


def check_close(exact: list[torch.Tensor], got: list[torch.Tensor], name: str) -> None:
    """fp32 fast ops: every gradient tensor agrees to 1e-4 in cosine. bf16: the whole gradient to 1e-3; single
    tensors of the 4x4/8x8 layers only to ~0.996, bf16's own rounding (plain autocast on the exact path: ~0.99)."""
    pairs = [(a, b) for a, b in zip(exact, got, strict=True) if a.abs().sum() > 0]
    low = min(cosine(a, b) for a, b in pairs)
    whole = cosine(torch.cat([a.flatten() for a, _ in pairs]), torch.cat([b.flatten() for _, b in pairs]))
    if name == "fp32":
        assert low > 0.9999, low
    else:
        assert whole > 0.999 and low > 0.99, (whole, low)


@pytest.mark.parametrize("name,batch", [("fp32", 1), ("fp32", 4), ("bf16", 4), ("autocast+fp32", 4)])
def test_generator_gradients_match_exact(name, batch):
    g = make_g().train()
    ws = seeds_ws(g, range(batch))
    target = torch.randn([batch, 3, 16, 16], generator=torch.Generator().manual_seed(5))
    check_close(g_grads(g, ws, target, EXACT), g_grads(g, ws, target, VARIANTS[name]), name)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_discriminator_r1_gradients_match_exact(name):
    d = make_d().train()
    x = torch.randn([4, 3, 16, 16], generator=torch.Generator().manual_seed(6))

    def grads(variant):
        d.zero_grad(set_to_none=True)
        img = x.clone().requires_grad_(True)
        fast_dtype, context = variant
        with context():
            logits = d(img, None, fast_dtype=fast_dtype)
        (r1,) = torch.autograd.grad(logits.float().sum(), img, create_graph=True)
        (logits.float().sum() + r1.square().sum()).backward()
        return [r1.detach()] + [p.grad.clone() for p in d.parameters()]

    check_close(grads(EXACT), grads(VARIANTS[name]), name)


def test_path_length_double_backward_matches_exact():
    g = make_g().train()
    ws = seeds_ws(g, range(2))
    noise = torch.randn([2, 3, 16, 16], generator=torch.Generator().manual_seed(7)) / 16

    def grads(fast_dtype):
        g.zero_grad(set_to_none=True)
        w = ws.clone().requires_grad_(True)
        img = g.synthesis(w, noise_mode="const", fast_dtype=fast_dtype)
        (pl,) = torch.autograd.grad((img.float() * noise).sum(), w, create_graph=True)
        pl.square().sum().backward()
        return [pl.detach()] + [p.grad.clone() for p in g.synthesis.parameters() if p.grad is not None]

    check_close(grads(None), grads(torch.float32), "fp32")


# ---------------------------------------------------------------------------------------------------------
# Precision choice and the allocator


def test_choose_precision():
    assert fast.choose_precision("cpu", "exact") == "exact"
    assert fast.choose_precision("cpu", "bf16") == "bf16"
    assert fast.choose_precision("cpu", "auto") in ("fp32", "bf16")
    assert fast.choose_precision("cuda", "auto") == "fp16"
    assert fast.choose_precision("mps", "auto") == "exact"
    with pytest.raises(ModelError, match="unknown precision 'half'"):
        fast.choose_precision("cpu", "half")


@pytest.mark.parametrize("probe", [True, False])
def test_bf16_is_chosen_by_the_cpu_features_and_probed_where_they_do_not_tell(monkeypatch, probe):
    probes = []
    monkeypatch.setattr(fast, "_probe_bf16", lambda: probes.append(1) or probe)
    cases = [("x86_64", True, False, "GenuineIntel", True), ("AMD64", False, True, "AuthenticAMD", True),
             ("x86_64", False, False, "AuthenticAMD", False), ("x86_64", False, True, "GenuineIntel", probe),
             ("arm64", False, False, "", probe)]
    for machine, amx, avx512_bf16, vendor, expected in cases:
        fast._bf16_pays.cache_clear()
        monkeypatch.setattr(fast.platform, "machine", lambda m=machine: m)
        monkeypatch.setattr(fast, "_amd_cpu", lambda v=vendor: v == "AuthenticAMD")
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v, raising=False)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=avx512_bf16: v, raising=False)
        assert fast.choose_precision("cpu", "auto") == ("bf16" if expected else "fp32"), (machine, vendor)
    assert len(probes) == 2  # Intel's AVX512-BF16 without AMX, and arm64, where torch cannot tell
    fast._bf16_pays.cache_clear()


def test_the_probe_runs_on_one_thread_and_puts_the_thread_count_back(monkeypatch):
    seen = []
    layer = fast.modulated_layer
    monkeypatch.setattr(fast, "modulated_layer", lambda *a, **k: seen.append(torch.get_num_threads()) or layer(*a, **k))
    threads = torch.get_num_threads()
    assert fast._probe_bf16(reps=1) in (True, False)
    assert seen == [1] * 4 and torch.get_num_threads() == threads


def test_tune_allocator_reports_glibc():
    import ctypes.util
    import platform

    result = fast.tune_allocator()
    assert result is (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc" and
                      ctypes.util.find_library("c") is not None)


@pytest.mark.parametrize("precision", ["exact", "bf16"])
def test_large_cpu_batches_render_in_chunks_with_the_same_images(precision, monkeypatch):
    g = make_g(0)
    ws = seeds_ws(g, range(5))
    whole = fast.render(g, ws, "const", precision)
    monkeypatch.setattr(fast, "CPU_BATCH_PIXELS", 2 * g.img_resolution ** 2)
    calls = []
    synthesis = g.synthesis.forward
    monkeypatch.setattr(g.synthesis, "forward", lambda w, **kw: calls.append(len(w)) or synthesis(w, **kw))
    chunked = fast.render(g, ws, "const", precision)
    assert calls == [2, 2, 1] and chunked.shape == whole.shape
    torch.testing.assert_close(chunked, whole, rtol=0, atol=2e-2 if precision == "bf16" else 1e-5)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("scale", [2.5, 100.0], ids=["in-range", "clamped"])
def test_clamp_is_skipped_only_where_it_is_the_identity(scale, layout):
    x0 = (torch.rand([2, 4, 8, 8], generator=torch.Generator().manual_seed(0)) * 2 - 1) * scale
    x0 = x0.contiguous(memory_format=layout)
    x0[0, 0, 0, 0] = 3.0  # exactly at the clamp: kept, with its gradient, either way
    grads = []
    for check in (True, False):
        x = x0.clone().requires_grad_(True)
        clamp = 3.0
        y = fast.act_clamp(x * 1, "lrelu", clamp) if check else F.leaky_relu(x * 1, 0.2).clamp(-clamp, clamp)
        y.backward(torch.arange(1, y.numel() + 1, dtype=torch.float32).reshape(y.shape))
        grads.append((y.detach(), x.grad))
    assert torch.equal(grads[0][0], grads[1][0]) and torch.equal(grads[0][1], grads[1][1])
    assert (grads[0][0].abs().max() <= 3.0) and ((grads[0][1] == 0).any() == (scale > 3))


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_out_of_range_sees_every_element_in_either_layout(layout):
    x = torch.zeros([2, 3, 4, 5]).contiguous(memory_format=layout)
    assert not fast._out_of_range(x, 1.0)
    for index in [(0, 0, 0, 0), (1, 2, 3, 4), (0, 2, 0, 4), (1, 0, 3, 0)]:
        for value in (1.5, -1.5):
            y = x.clone(memory_format=torch.preserve_format)
            y[index] = value
            assert fast._out_of_range(y, 1.0), (index, value)
    assert not fast._out_of_range(x[:, :2], 1.0) and fast._out_of_range(torch.full([3], 2.0)[::2], 1.0)
