"""The fast generator path: the same networks and weights, computed with speed-first operations.

The exact path (model/layers.py, the default) follows NVlabs' operation order so CPU fp32 images are bit-identical
to theirs. Forwards given `fast_dtype=<dtype>` (G.synthesis, D, their blocks and layers take it as an explicit
keyword) use these mathematically equal rewrites instead, which round differently:

- blocks compute in `dtype` and channels_last (bf16: every block, its range is fp32's; fp16: only the blocks the
  net runs in fp16, as NVlabs does; fp32). Styles, demodulation coefficients, noise and the image stay fp32.
- Batch 1, where the weight is smaller than the activations: styles, demodulation, activation gain and bias fold
  into one conv weight and bias (a plain conv). Otherwise the non-fused form (scale the activations, one shared
  weight, demodulate the output), which keeps channels_last and runs 4-5x faster than a grouped conv on the CPU.
  Demodulation coefficients come from an [N, I] x [I, O] product instead of an [N, O, I, k, k] tensor.
- FIR resampling without zero insertion or padding copies: a depthwise conv with padding and stride; the 2x
  image upsampling is bilinear 2x of the zero-padded image at inference (the same values), a depthwise transposed
  conv in training. In training, fixed filters are a linear autograd Function (cheap double backward) and strided
  ones filter every pixel, then slice (a strided depthwise backward is slow).
- At inference the 2x-up 3x3 conv runs as four plain convs, one per output phase (a transposed conv is 2-3x
  slower on the CPU), and shared weights are packed for oneDNN once, remade when the input shape changes
  (`conv2d`).
- Bias, gain and clamp are folded so a layer makes 2-4 elementwise passes instead of 5-6, in place when no
  gradient needs the inputs. Weight layouts, casts and sums of squares are cached per weight for inference.
  Everything stays differentiable and works under torch.autocast (for the trainer).

Callers (explorer renderer, `sgx generate/mix/video`):

    tune_allocator()                                 # once at start-up, before big tensors exist
    precision = choose_precision(device, "auto")     # 'exact' | 'fp32' | 'bf16' | 'fp16'
    img = render(G, ws, "const", precision)          # float32 [N, C, H, W], like G.synthesis

Compute `ws` once per latent and reuse it across frames; render grids and video frames in batches. On a shared
machine set OMP_WAIT_POLICY=PASSIVE before torch is imported: spinning OpenMP threads made 2-thread renders 2-5x
slower under load (benchmarks/generator.py). Training code calls G.synthesis / D with `fast_dtype=torch.bfloat16`
(blocks in bf16; mapping, styles and images stay fp32), or `torch.float32` for its fp32 regularisers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
import platform
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.utils.weak import WeakIdKeyDictionary

from .spec import check_precision

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}



def block_dtype(dtype: torch.dtype, use_fp16: bool) -> torch.dtype:
    """Compute dtype of a block on the fast path; fp16 only where the net was trained in fp16 (narrow range)."""
    return torch.float32 if dtype == torch.float16 and not use_fp16 else dtype


# ---------------------------------------------------------------------------------------------------------
# Operations (the exact versions and the spec sections they implement are in model/layers.py)


def _inplace(x: torch.Tensor) -> bool:
    return not (torch.is_grad_enabled() and x.requires_grad)


_DERIVED: WeakIdKeyDictionary = WeakIdKeyDictionary()


def derived(weight: torch.Tensor, key: str, make: Callable[[torch.Tensor], object], also: tuple = ()) -> object:
    """make(weight), reused while the weight is unchanged and no gradient flows to it (inference); `also` is part of
    the stamp (a change remakes the one entry of `key`).

    Layout conversions, casts and sums of squares of a weight cost as much as a batch-1 layer at low resolution.
    """
    if (torch.is_grad_enabled() and weight.requires_grad) or weight.is_inference():  # no version counter
        return make(weight)
    entries = _DERIVED.setdefault(weight, {})
    stamp = (weight._version, weight.data_ptr(), weight.device, *also)
    if key not in entries or entries[key][0] != stamp:
        entries[key] = (stamp, make(weight))
    return entries[key][1]


def _memory_format(x: torch.Tensor) -> torch.memory_format:
    cl = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
    return torch.channels_last if cl else torch.contiguous_format


class _DepthwiseFir(torch.autograd.Function):
    """A fixed depthwise filter (stride 1, padding p on every side) plus a channel bias, with the adjoint filter as
    its backward, itself differentiable the same way: torch's generic conv double backward (R1, path length)
    runs a depthwise conv as one conv per channel and per batch (~15 % of a profiled regularised 64² step)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None, padding: int) -> torch.Tensor:
        ctx.save_for_backward(w)
        ctx.padding, ctx.has_bias = padding, bias is not None
        return F.conv2d(x, w, bias, padding=padding, groups=x.shape[1])

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (w,) = ctx.saved_tensors
        k = w.shape[-1]  # the adjoint of a correlation padded by p is the flipped filter padded by k - 1 - p
        grad_x = _DepthwiseFir.apply(grad, w.flip([2, 3]).to(grad.dtype), None, k - 1 - ctx.padding)  # autocast
        grad_bias = grad.sum([0, 2, 3]) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, None, grad_bias, None


def upfirdn2d(x: torch.Tensor, f: torch.Tensor, up: int = 1, down: int = 1,
              padding: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1.0,
              bias: torch.Tensor | None = None) -> torch.Tensor:
    """The FIR cases StyleGAN2 uses, as one depthwise (transposed) conv each, plus an optional channel bias."""
    c = x.shape[1]
    b = None if bias is None else bias.to(x.dtype)
    if up == 1 and len(set(padding)) == 1 and padding[0] >= 0:
        w = derived(f, f"fir {gain} {x.dtype} {c}", lambda f: (f * gain).to(x.dtype).flip([0, 1]).expand(
            c, 1, *f.shape).contiguous())
        if not _inplace(x):
            # Training. The backward of a strided depthwise conv runs 4-14x slower than filtering every pixel and
            # keeping every `down`-th (bf16, channels_last, benchmarks/train.py's demo64 shapes).
            return _DepthwiseFir.apply(x, w, b, padding[0])[:, :, ::down, ::down]
        return F.conv2d(x, w, b, stride=down, padding=padding[0], groups=c)
    if up == 2 and down == 1 and tuple(padding) == (2, 1, 2, 1) and f.shape[-1] == 4:
        if gain == 4 and _inplace(x) and derived(f, "binomial", _binomial):
            # Per axis, the [1, 3, 3, 1] filter after zero insertion gives out[2m] = x[m-1] / 4 + 3 x[m] / 4 and
            # out[2m+1] = 3 x[m] / 4 + x[m+1] / 4: bilinear 2x (align_corners=False) of x zero-padded by one,
            # cropped. 2x faster at 256², 8x at 1024² (a 3-channel depthwise transposed conv is slow on the CPU).
            y = F.interpolate(F.pad(x, (1, 1, 1, 1)), scale_factor=2, mode="bilinear", align_corners=False)
            y = y[:, :, 2:-2, 2:-2]
            return y if b is None else y.add_(b.reshape(1, -1, 1, 1))
        # Zero insertion + pad (2, 1) + 4-tap conv == a stride-2 transposed conv cropped by 1 on each side.
        w = derived(f, f"fir up {gain} {x.dtype} {c}", lambda f: (f * gain).to(x.dtype).expand(
            c, 1, *f.shape).contiguous())
        return F.conv_transpose2d(x, w, b, stride=2, padding=1, groups=c)
    raise ValueError(f"fast upfirdn2d: unsupported up {up}, down {down}, padding {padding}")


def _binomial(f: torch.Tensor) -> bool:
    """Whether f is StyleGAN2's 4x4 filter (model/layers.py fir_filter; the loaders check every net's)."""
    from .layers import fir_filter  # layers imports this module

    return f.shape == (4, 4) and torch.equal(f.cpu(), fir_filter())


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return upfirdn2d(x, f, up=2, padding=(2, 1, 2, 1), gain=4)


def downsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return upfirdn2d(x, f, down=2, padding=(1, 1, 1, 1))


@functools.cache
def _onednn() -> bool:
    """Whether this torch has oneDNN's prepacked-weight convolution (x86 and ARM CPU builds do)."""
    try:
        return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._convolution_pointwise is not None
    except (AttributeError, RuntimeError):
        return False


def _packable(x: torch.Tensor, owner: torch.Tensor | None) -> bool:
    return (owner is not None and x.device.type == "cpu" and x.dtype in (torch.float32, torch.bfloat16)
            and not (torch.is_grad_enabled() and (x.requires_grad or owner.requires_grad)) and _onednn())


def conv2d(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None, padding: tuple[int, int],
           owner: torch.Tensor | None = None, tag: str = "") -> torch.Tensor:
    """F.conv2d(x, w, bias, padding=padding); `w` derived from the parameter `owner` (named by `tag`) may be packed.

    oneDNN reorders a weight into its blocked layout on every call; for a shared weight on the CPU at inference
    that layout is made once and kept until the input's shape changes (one copy per weight, so memory stays at one
    bf16 copy of the net): below 32² the reorder cost more than the conv itself.
    """
    if not _packable(x, owner):
        return F.conv2d(x, w, bias, padding=padding)
    packed = derived(owner, f"packed {tag} {w.dtype} {padding}", lambda _: torch.ops.mkldnn._reorder_convolution_weight(
        w, list(padding), [1, 1], [1, 1], 1, list(x.shape)), also=tuple(x.shape))
    return torch.ops.mkldnn._convolution_pointwise(x, packed, bias, list(padding), [1, 1], [1, 1], 1, "none", [], "")


def conv2d_resample(x: torch.Tensor, w: torch.Tensor, f: torch.Tensor | None = None, up: int = 1, down: int = 1,
                    bias: torch.Tensor | None = None, owner: torch.Tensor | None = None) -> torch.Tensor:
    """conv(x, w) + bias with StyleGAN2's 2x up/down FIR resampling; w in x's dtype (`owner`: see conv2d)."""
    k = w.shape[-1]
    b = None if bias is None else bias.to(x.dtype)
    if up == 1 and down == 1:
        return conv2d(x, w, b, (k // 2, k // 2), owner)
    if down == 2 and k == 1:
        return F.conv2d(upfirdn2d(x, f, down=2, padding=(1, 1, 1, 1)), w, b)
    if down == 2 and k == 3:
        return F.conv2d(upfirdn2d(x, f, padding=(2, 2, 2, 2)), w, b, stride=2)
    if up == 2 and k == 1:
        return upfirdn2d(F.conv2d(x, w), f, up=2, padding=(2, 1, 2, 1), gain=4, bias=b)
    if up == 2 and k == 3 and not _inplace(x):  # training: torch's transposed-conv backward beats the phases' by 5 %
        x = F.conv_transpose2d(x, w.transpose(0, 1), stride=2)  # no spatial flip (spec §4.11)
        return upfirdn2d(x, f, padding=(1, 1, 1, 1), gain=4, bias=b)
    if up == 2 and k == 3:
        return upfirdn2d(_transposed_conv_padded(x, w, owner), f, gain=4, bias=b)
    raise ValueError(f"fast conv2d_resample: unsupported kernel {k}, up {up}, down {down}")


def _transposed_conv_padded(x: torch.Tensor, w: torch.Tensor, owner: torch.Tensor | None) -> torch.Tensor:
    """The stride-2 transposed 3x3 conv (weight [O, I, 3, 3] used without a spatial flip, spec §4.11), framed by
    the one-pixel zero border its FIR needs: [N, O, 2H + 3, 2W + 3].

    A transposed conv runs 2-3x slower than a plain conv on the CPU (bf16 worst), so it is split by output phase:
    out[2m] = w[0] x[m] + w[2] x[m-1] and out[2m+1] = w[1] x[m] along each axis, i.e. four plain convs with 2x2,
    2x1, 1x2 and 1x1 kernels (the same 9 taps) whose outputs interleave into the frame.
    """
    layout = _memory_format(x)
    n, (o, _, _, _), (h, wd) = x.shape[0], w.shape, x.shape[2:]
    out = torch.empty([n, o, 2 * h + 3, 2 * wd + 3], dtype=x.dtype, device=x.device, memory_format=layout)
    for edge in (out[:, :, 0], out[:, :, -1], out[:, :, :, 0], out[:, :, :, -1]):
        edge.zero_()
    kernels = _phase_kernels(w, layout) if owner is None else derived(
        owner, f"phases {w.dtype} {layout}", lambda _: _phase_kernels(w, layout))
    for (a, b), kernel in kernels.items():
        phase = conv2d(x, kernel, None, (1 - a, 1 - b), owner, f"phase {a}{b}")
        out[:, :, 1 + a::2, 1 + b::2][:, :, :phase.shape[2], :phase.shape[3]].copy_(phase)
    return out


def _phase_kernels(w: torch.Tensor, layout: torch.memory_format) -> dict[tuple[int, int], torch.Tensor]:
    """The kernels of the four output phases (row parity, column parity) of _transposed_conv_padded."""
    w = w.flip([2, 3])
    taps = (slice(0, 3, 2), slice(1, 2))  # flipped kernel rows feeding even outputs (from x[m-1], x[m]) and odd ones
    return {(a, b): w[:, :, taps[a], taps[b]].contiguous(memory_format=layout) for a in (0, 1) for b in (0, 1)}


def act_clamp(x: torch.Tensor, act: str, clamp: float | None) -> torch.Tensor:
    """lrelu then clamp; the activation gain was already folded into the preceding linear op (gain > 0).

    On the CPU the clamp is skipped when no value is out of range, where it is the identity in value and gradient:
    one reading pass instead of its writing pass and, in training, the four passes of its backward (12 % of a
    64² training step). On GPUs that check would cost a sync, so they always clamp.
    """
    inplace = _inplace(x)
    if act == "lrelu":
        x = F.leaky_relu(x, 0.2, inplace=inplace)
    if clamp is not None and (x.device.type != "cpu" or _out_of_range(x, clamp)):
        x = x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)
    return x


def _out_of_range(x: torch.Tensor, clamp: float) -> bool:
    """Read in storage order: on a channels_last tensor aminmax first makes an NCHW copy (7x slower)."""
    x = x.detach()
    if x.ndim == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        x = x.permute(0, 2, 3, 1)
    lo, hi = torch.aminmax(x)
    return bool(lo < -clamp) or bool(hi > clamp)


def modulated_layer(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, noise: torch.Tensor | None,
                    bias: torch.Tensor, up: int = 1, f: torch.Tensor | None = None, demodulate: bool = True,
                    act: str = "linear", gain: float = 1.0, clamp: float | None = None) -> torch.Tensor:
    """SynthesisLayer / ToRGBLayer after the affine: clamp(act(modconv(x) + noise + bias) * gain)."""
    n, dtype = x.shape[0], x.dtype
    styles = styles.float()
    if demodulate and dtype == torch.float16:
        # Keep fp16 conv outputs in range, like NVlabs' pre-normalisation, but through the styles only (the weight
        # stays as cached); demodulation cancels the scale.
        gain_w = derived(weight, "fp16 guard", lambda w: 1 / math.sqrt(w[0].numel()) / w.abs().amax())
        styles = styles * (gain_w / styles.abs().amax(dim=1, keepdim=True))
    # Per-(sample, output channel) scale: demodulation times the gain; sum_i,kh,kw (W s)^2 as one small product.
    scale = torch.full([n, weight.shape[0]], float(gain), device=x.device)
    if demodulate:
        wsq = derived(weight, "sum_sq", lambda w: w.square().sum(dim=[2, 3]).t())
        scale = scale * (styles.square() @ wsq + 1e-8).rsqrt()
    bias = bias * gain
    layout = _memory_format(x)
    if n == 1 and weight.numel() <= x.numel():  # fold into the weight when it is the smaller tensor
        w = derived(weight, f"{torch.float32} {layout}", lambda w: w.contiguous(memory_format=layout))
        w = w * (scale.t() * styles).reshape(*w.shape[:2], 1, 1)
        x = conv2d_resample(x, w.to(dtype), f, up=up, bias=bias)
    else:
        w = derived(weight, f"{dtype} {layout}", lambda w: w.to(dtype).contiguous(memory_format=layout))
        x = conv2d_resample(x * styles.to(dtype).reshape(n, -1, 1, 1), w, f, up=up, owner=weight)
        args = bias.to(dtype).reshape(1, -1, 1, 1), x, scale.to(dtype).reshape(n, -1, 1, 1)
        x = torch.addcmul(*args, out=x) if _inplace(x) else torch.addcmul(*args)
    if noise is not None:  # a separate pass: a [1, C, H, W] addend in addcmul is 3x slower on channels_last
        noise = (noise * gain).to(dtype)
        x = x.add_(noise) if _inplace(x) else x + noise
    return act_clamp(x, act, clamp)


def conv_layer(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, f: torch.Tensor,
               up: int = 1, down: int = 1, act: str = "linear", gain: float = 1.0,
               clamp: float | None = None) -> torch.Tensor:
    """Conv2dLayer: clamp(act(conv(x, weight) + bias) * gain), weight already carrying its equalised-lr gain."""
    bias = None if bias is None else bias * gain
    x = conv2d_resample(x, (weight * gain).to(x.dtype), f, up=up, down=down, bias=bias)
    return act_clamp(x, act, clamp)


# ---------------------------------------------------------------------------------------------------------
# Choosing and using a precision


def _cpu_bf16() -> str | None:
    """The CPU's bf16 dot products: 'amx' (AMX-BF16), 'avx512' (AVX512-BF16 only), '' (none); None where torch
    cannot tell (non-x86)."""
    if platform.machine().lower() not in ("x86_64", "amd64", "x86", "i686"):
        return None
    amx, avx512 = (getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))
    if amx is None or avx512 is None:
        return None
    return "amx" if amx() else "avx512" if avx512() else ""


def _amd_cpu() -> bool:
    """An AMD CPU (Windows names the vendor in platform.processor(), Linux in /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            cpuinfo = f.read(4096)
    except OSError:
        cpuinfo = ""
    return "AuthenticAMD" in platform.processor() + cpuinfo


def _probe_bf16(reps: int = 7) -> bool:
    """A quick probe: does a bf16 modulated up+conv pair (64², 128 ch, batch 1) beat fp32 by 10 %?

    On one thread: a busy machine then slows both precisions alike, where two threads that wait for each other
    whenever one is descheduled made the timings noisy enough to flip the answer."""
    gen = torch.Generator().manual_seed(0)
    f = torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1])) / 64
    w0, w1 = torch.randn([128, 128, 3, 3], generator=gen), torch.randn([128, 128, 3, 3], generator=gen)
    s, b = torch.ones([1, 128]), torch.zeros([128])
    times = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            for dtype in (torch.float32, torch.bfloat16) * reps:
                x = torch.randn([1, 128, 32, 32], generator=gen).to(dtype, memory_format=torch.channels_last)
                t = time.perf_counter()
                x = modulated_layer(x, w0, s, None, b, up=2, f=f, act="lrelu")
                modulated_layer(x, w1, s, None, b, act="lrelu")
                times.setdefault(dtype, []).append(time.perf_counter() - t)
    finally:
        torch.set_num_threads(threads)
    return min(times[torch.bfloat16]) < 0.9 * min(times[torch.float32])


@functools.cache
def _bf16_pays() -> bool:
    """Whether bf16 is faster than fp32 on this CPU. Measured: AMX 3-7x; AVX512-BF16 on AMD Zen 4 1.7x on the
    probe's pair and 1.5x on the 64² training step; AVX512-BF16 without AMX on an Intel Xeon VM (Emerald Rapids
    with AMX hidden) 0.6x on a conv and 0.87x on the training step. So AMX and AMD decide by the features (a
    probe once chose fp32 on a busy Zen 4), the rest of the bf16 CPUs and those torch cannot tell by the probe;
    an x86 CPU without bf16 instructions is fp32."""
    kind = _cpu_bf16()
    if kind == "amx" or (kind == "avx512" and _amd_cpu()):
        return True
    return kind != "" and _probe_bf16()


def choose_precision(device: torch.device | str, requested: str = "auto") -> str:
    """'auto' -> fp16 on CUDA; on the CPU bf16 where it pays (`_bf16_pays`), else the fast ops in fp32; other
    devices (MPS, ...) the exact fp32 path, the one known to run there. Explicit choices are returned as given."""
    if check_precision(requested) != "auto":
        return requested
    device = torch.device(device)
    if device.type == "cuda":
        return "fp16"
    if device.type == "cpu":
        return "bf16" if _bf16_pays() else "fp32"
    return "exact"


CPU_BATCH_PIXELS = 8 * 256 * 256  # beyond this a CPU batch got slower per image: 1024² ran 2.7x faster at batch 1


def render(G: torch.nn.Module, ws: torch.Tensor, noise_mode: str = "const", precision: str = "exact",
           transform: torch.Tensor | None = None) -> torch.Tensor:
    """ws [N, num_ws, w_dim] -> float32 images [N, C, H, W]; 'exact' is G.synthesis with force_fp32 (spec C1).
    `transform` [N, 3, 3]: StyleGAN3's input transform per image (model.render.spec_transforms).

    Render whole batches (grids, video chunks): on the CPU a batch of 8 beats 8 single renders at 64² (2.5x) and
    ties at 256², but at 1024² its activations outgrow the caches, so CPU batches are split to CPU_BATCH_PIXELS
    (benchmarks/generator.py).
    """
    device = next(G.parameters()).device
    precision = choose_precision(device, precision)
    ws = ws.to(device)
    step = len(ws) if device.type != "cpu" else max(1, CPU_BATCH_PIXELS // G.img_resolution ** 2)
    exact = precision == "exact"
    fast_dtype = None if exact else DTYPES[precision]
    transform = None if transform is None else transform.to(device)

    def chunk(i: int) -> torch.Tensor:
        moved = {} if transform is None else {"transform": transform[i:i + step]}  # StyleGAN3 only
        return G.synthesis(ws[i:i + step], noise_mode=noise_mode, force_fp32=exact, fast_dtype=fast_dtype,
                           **moved).float()

    with torch.inference_mode():
        return torch.cat([chunk(i) for i in range(0, len(ws), step)])


def tune_allocator(trim_threshold: int = 1 << 30) -> bool:
    """Stop glibc malloc from unmapping big freed tensors and faulting them in again on every forward.

    Same as MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=<big>: large blocks come from the heap and freed memory up
    to `trim_threshold` bytes stays with the process. Returns False where there is no glibc (macOS, Windows).
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, trim_threshold))
