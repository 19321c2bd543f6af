"""Training options: what the user asked for (`TrainOptions`) resolved into NVlabs' numbers (`TrainConfig`).

The `--cfg` presets are the published StyleGAN2-ADA configurations (ref_gpus, kimg, minibatch, mbstd group, feature
maps, learning rate, R1 gamma, EMA half-life, EMA ramp-up, mapping depth). `auto` derives them from the resolution
and the batch. The resolved config is what `training_options.json` records and what `--resume auto` reuses, so a
resumed run trains with exactly the settings it started with.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from model.spec import PRECISIONS

CFG_SPECS = {
    "auto": dict(ref_gpus=-1, kimg=25000, mb=-1, mbstd=-1, fmaps=-1, lrate=-1, gamma=-1, ema=-1, ramp=0.05, map=2),
    "stylegan2": dict(ref_gpus=8, kimg=25000, mb=32, mbstd=4, fmaps=1, lrate=0.002, gamma=10, ema=10, ramp=None,
                      map=8),
    "paper256": dict(ref_gpus=8, kimg=25000, mb=64, mbstd=8, fmaps=0.5, lrate=0.0025, gamma=1, ema=20, ramp=None,
                     map=8),
    "paper512": dict(ref_gpus=8, kimg=25000, mb=64, mbstd=8, fmaps=1, lrate=0.0025, gamma=0.5, ema=20, ramp=None,
                     map=8),
    "paper1024": dict(ref_gpus=8, kimg=25000, mb=32, mbstd=4, fmaps=1, lrate=0.002, gamma=2, ema=10, ramp=None,
                      map=8),
    "cifar": dict(ref_gpus=2, kimg=100000, mb=64, mbstd=32, fmaps=1, lrate=0.0025, gamma=0.01, ema=500, ramp=0.05,
                  map=2),
}
AUGPIPES = ("blit", "geom", "color", "filter", "noise", "cutout", "bg", "bgc", "bgcf", "bgcfn", "bgcfnc")
AUG_MODES = ("ada", "noaug", "fixed")
METRICS = ("swd", "none")


class ConfigError(ValueError):
    """A bad combination of training options; the CLI prints it as a one-line usage error."""


@dataclass
class TrainOptions:
    """The user's request, as given on the command line (None = take it from the preset)."""

    data: str | None
    outdir: str
    cfg: str = "auto"
    gpus: int = 1
    kimg: int | None = None
    batch: int | None = None
    batch_gpu: int | None = None
    gamma: float | None = None
    mirror: bool = False
    cond: bool = False
    aug: str = "ada"
    p: float | None = None
    target: float = 0.6
    ada_kimg: float | None = None  # None: 500, or 100 when starting from a network (NVlabs)
    augpipe: str = "bgc"
    snap: int | None = None  # None: 50 for a new run, the recorded one when resuming
    tick: float | None = None  # None: 4 kimg for a new run, the recorded one when resuming
    seed: int = 0
    device: str = "auto"
    precision: str | None = None  # None: auto for a new run, the recorded one when resuming
    workers: int = 2
    metrics: str = "swd"
    swd_images: int = 2048
    fid_weights: str | None = None
    resume: str | None = None
    cbase: int | None = None
    cmax: int | None = None
    map: int | None = None
    glr: float | None = None
    dlr: float | None = None


@dataclass
class TrainConfig:
    """Resolved settings with NVlabs' names; everything training needs besides the data and the device."""

    cfg: str
    num_gpus: int
    total_kimg: float
    batch_size: int
    batch_gpu: int
    random_seed: int
    G_kwargs: dict
    D_kwargs: dict
    G_opt_kwargs: dict
    D_opt_kwargs: dict
    loss_kwargs: dict
    G_reg_interval: int = 4
    D_reg_interval: int = 16
    ema_kimg: float = 10.0
    ema_rampup: float | None = 0.05
    augment: str = "ada"
    augpipe: str = "bgc"
    augment_p: float = 0.0
    ada_target: float | None = 0.6
    ada_interval: int = 4
    ada_kimg: float = 500.0
    kimg_per_tick: float = 4.0
    snapshot_ticks: int = 50
    metrics: list = field(default_factory=lambda: ["swd"])
    swd_images: int = 2048
    fid_weights: str | None = None
    dataset: dict = field(default_factory=dict)
    resume_pkl: str | None = None
    precision: str = "auto"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def resolve(opts: TrainOptions, resolution: int, channels: int, label_dim: int, dataset_name: str,
            dataset_size: int, base_kwargs: tuple[dict, dict] | None = None) -> TrainConfig:
    """NVlabs' train.py arithmetic: preset numbers, then the user's overrides, then consistency checks.

    `base_kwargs` are the (G, D) constructor keywords of a --resume network: its architecture wins over the preset
    unless the user overrides cbase/cmax/map explicitly.
    """
    _check(opts.cfg in CFG_SPECS, f"--cfg {opts.cfg!r}: choose from {', '.join(CFG_SPECS)}")
    _check(opts.gpus >= 1, "--gpus must be at least 1")
    _check(opts.aug in AUG_MODES, f"--aug {opts.aug!r}: choose from {', '.join(AUG_MODES)}")
    _check(opts.augpipe in AUGPIPES, f"--augpipe {opts.augpipe!r}: choose from {', '.join(AUGPIPES)}")
    _check(opts.precision in (None, *PRECISIONS),
           f"--precision {opts.precision!r}: choose from {', '.join(PRECISIONS)}")
    _check(opts.metrics in METRICS, f"--metrics {opts.metrics!r}: choose from {', '.join(METRICS)}")
    _check(opts.cond is False or label_dim > 0, "--cond requires a dataset with labels (dataset.json)")
    _check(opts.snap is None or opts.snap >= 1, "--snap must be at least 1")
    _check(opts.tick is None or opts.tick > 0, "--tick must be positive")
    gpus = opts.gpus
    spec = dict(CFG_SPECS[opts.cfg])
    if opts.cfg == "auto":
        spec["ref_gpus"] = gpus
        spec["mb"] = max(min(gpus * min(4096 // resolution, 32), 64), gpus)
    batch = opts.batch if opts.batch is not None else spec["mb"]
    _check(batch >= 1, "--batch must be at least 1")
    if opts.cfg == "auto":  # from the preset batch, as NVlabs' train.py: --batch overrides only the batch
        spec["mbstd"] = min(spec["mb"] // gpus, 4)
        spec["fmaps"] = 1 if resolution >= 512 else 0.5
        spec["lrate"] = 0.002 if resolution >= 1024 else 0.0025
        spec["gamma"] = 0.0002 * resolution ** 2 / spec["mb"]
        spec["ema"] = spec["mb"] * 10 / 32
    if opts.batch is not None:
        batch_gpu = batch // gpus
    else:
        batch_gpu = spec["mb"] // spec["ref_gpus"]
    if opts.batch_gpu is not None:
        batch_gpu = opts.batch_gpu
    _check(batch_gpu >= 1 and batch % (batch_gpu * gpus) == 0,
           f"--batch {batch} must be a multiple of --batch-gpu {batch_gpu} times --gpus {gpus}")
    mbstd = min(spec["mbstd"], batch_gpu)
    _check(batch_gpu % mbstd == 0, f"the per-GPU batch {batch_gpu} must be a multiple of the minibatch-std group "
           f"size {mbstd} (choose --batch accordingly)")

    G_kwargs = dict(z_dim=512, w_dim=512, mapping_kwargs=dict(num_layers=spec["map"]),
                    synthesis_kwargs=dict(channel_base=int(spec["fmaps"] * 32768), channel_max=512,
                                          num_fp16_res=4, conv_clamp=256))
    D_kwargs = dict(architecture="resnet", channel_base=int(spec["fmaps"] * 32768), channel_max=512,
                    num_fp16_res=4, conv_clamp=256, epilogue_kwargs=dict(mbstd_group_size=mbstd))
    if base_kwargs is not None:
        G_kwargs, D_kwargs = _inherit(base_kwargs, mbstd)
    if opts.cbase is not None:
        _check(opts.cbase >= 1, "--cbase must be positive")
        G_kwargs["synthesis_kwargs"]["channel_base"] = D_kwargs["channel_base"] = opts.cbase
    if opts.cmax is not None:
        _check(opts.cmax >= 1, "--cmax must be positive")
        G_kwargs["synthesis_kwargs"]["channel_max"] = D_kwargs["channel_max"] = opts.cmax
    if opts.map is not None:
        _check(opts.map >= 1, "--map must be at least 1")
        G_kwargs["mapping_kwargs"]["num_layers"] = opts.map
    G_kwargs.update(c_dim=label_dim if opts.cond else 0, img_resolution=resolution, img_channels=channels)
    D_kwargs.update(c_dim=label_dim if opts.cond else 0, img_resolution=resolution, img_channels=channels)

    gamma = opts.gamma if opts.gamma is not None else spec["gamma"]
    _check(gamma >= 0, "--gamma must be non-negative")
    loss_kwargs = dict(r1_gamma=gamma, style_mixing_prob=0.9, pl_weight=2.0, pl_batch_shrink=2, pl_decay=0.01)
    if opts.cfg == "cifar":
        loss_kwargs.update(pl_weight=0.0, style_mixing_prob=0.0)
        D_kwargs["architecture"] = "orig"
    _check(batch_gpu // loss_kwargs["pl_batch_shrink"] >= 1 or loss_kwargs["pl_weight"] == 0,
           "the per-GPU batch must be at least 2 for path-length regularisation")
    glr = opts.glr if opts.glr is not None else spec["lrate"]
    dlr = opts.dlr if opts.dlr is not None else spec["lrate"]
    _check(glr > 0 and dlr > 0, "learning rates must be positive")

    if opts.aug == "fixed":
        _check(opts.p is not None, "--aug fixed requires --p")
    else:
        _check(opts.p is None, "--p can only be given with --aug fixed")
    if opts.p is not None:
        _check(0 <= opts.p <= 1, "--p must be in [0, 1]")
    _check(0 <= opts.target <= 1, "--target must be in [0, 1]")
    _check(opts.ada_kimg is None or opts.ada_kimg > 0, "--ada-kimg must be positive")
    resume_file = opts.resume not in (None, "auto") and Path(opts.resume).is_file()
    kimg = opts.kimg if opts.kimg is not None else spec["kimg"]
    _check(kimg > 0, "--kimg must be positive")
    return TrainConfig(
        cfg=opts.cfg, num_gpus=gpus, total_kimg=kimg, batch_size=batch, batch_gpu=batch_gpu,
        random_seed=opts.seed, G_kwargs=G_kwargs, D_kwargs=D_kwargs,
        G_opt_kwargs=dict(lr=glr, betas=[0.0, 0.99], eps=1e-8), D_opt_kwargs=dict(lr=dlr, betas=[0.0, 0.99], eps=1e-8),
        loss_kwargs=loss_kwargs, ema_kimg=spec["ema"],
        ema_rampup=None if resume_file else spec["ramp"],  # NVlabs: no EMA ramp-up when starting from a network
        augment=opts.aug, augpipe=opts.augpipe, augment_p=opts.p or 0.0,
        ada_target=opts.target if opts.aug == "ada" else None,
        ada_kimg=opts.ada_kimg or (100 if resume_file else 500),  # NVlabs: faster from a trained network
        kimg_per_tick=opts.tick or 4.0, snapshot_ticks=opts.snap or 50,
        metrics=([] if opts.metrics == "none" else [opts.metrics]) + (["fid"] if opts.fid_weights else []),
        swd_images=opts.swd_images, fid_weights=str(Path(opts.fid_weights).resolve()) if opts.fid_weights else None,
        dataset=dict(path=str(opts.data), name=dataset_name, resolution=resolution, channels=channels,
                     label_dim=label_dim, use_labels=opts.cond, xflip=opts.mirror, size=dataset_size),
        resume_pkl=str(opts.resume) if resume_file else None, precision=opts.precision or "auto")


def _inherit(base: tuple[dict, dict], mbstd: int) -> tuple[dict, dict]:
    """Architecture keywords of the network we start from (dataset-dependent keys are set by the caller)."""
    g, d = (json.loads(json.dumps(k)) for k in base)
    G_kwargs = dict(z_dim=g["z_dim"], w_dim=g["w_dim"], mapping_kwargs=g.get("mapping_kwargs", {}),
                    synthesis_kwargs=g.get("synthesis_kwargs", {}))
    D_kwargs = {k: v for k, v in d.items() if k not in ("c_dim", "img_resolution", "img_channels")}
    D_kwargs.setdefault("epilogue_kwargs", {})["mbstd_group_size"] = mbstd
    return G_kwargs, D_kwargs


def run_description(opts: TrainOptions, dataset_name: str) -> str:
    """NVlabs-style run name: dataset, preset, then only the options that differ from the preset."""
    desc = f"{dataset_name}-{opts.cfg}" + (str(opts.gpus) if opts.cfg == "auto" else "")
    desc += "-cond" if opts.cond else ""
    desc += "-mirror" if opts.mirror else ""
    for name in ("kimg", "batch", "gamma", "cbase", "cmax", "map"):
        value = getattr(opts, name)
        if value is not None:
            desc += f"-{name}{value:g}" if isinstance(value, float) else f"-{name}{value}"
    if opts.aug != "ada":
        desc += f"-{opts.aug}" + (f"{opts.p:g}" if opts.aug == "fixed" else "")
    if opts.augpipe != "bgc" and opts.aug != "noaug":
        desc += f"-{opts.augpipe}"
    if opts.resume not in (None, "auto"):
        desc += "-resume" + re.sub(r"[^A-Za-z0-9_.]+", "", Path(opts.resume).stem)[:32]
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", desc)


def next_run_dir(outdir: Path, desc: str) -> Path:
    """outdir/NNNNN-desc with the next free number, as NVlabs names its runs."""
    ids = [int(m.group()) for p in outdir.glob("*") if p.is_dir() and (m := re.match(r"^\d+", p.name))]
    return outdir / f"{max(ids, default=-1) + 1:05d}-{desc}"


def newest_run_dir(outdir: Path) -> Path | None:
    """The highest-numbered run directory that holds a training_options.json."""
    runs = [(int(m.group()), p) for p in outdir.glob("*")
            if p.is_dir() and (m := re.match(r"^\d+", p.name)) and (p / "training_options.json").is_file()]
    return max(runs)[1] if runs else None
