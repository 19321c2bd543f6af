"""The training loop: run directory, ticks, logs, image grids, snapshots, metrics, resume, Ctrl+C.

A run lives in `outdir/NNNNN-desc/`: training_options.json (the resolved config), log.txt, stats.jsonl (one
record per tick, NVlabs' stat names, {num, mean, std}), reals.png, fakes_init.png, fakesNNNNNN.png (G_ema on
fixed seeds, recorded in the PNG), network-snapshot-NNNNNN.safetensors (G, D, G_ema; opens in `sgx generate`
and the explorer), metric-swd.jsonl, metric-fid.jsonl (given Inception weights), and training-state-*.safetensors
for an exact resume. A tick is `kimg_per_tick` thousand images (the first tick is one minibatch, as NVlabs);
snapshots come every `snap` ticks, at the end, and on Ctrl+C. NNNNNN is the kimg, as NVlabs names them; a snapshot
whose name is taken in the run (several within one kimg) is named by its image count too (`snapshot_tag`).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from model import fast
from model.io import load, save_networks
from model.io.atomic import remove_stale_temps
from model.render import pick_device, spec_ws, synthesize
from model.spec import LatentSpec

from .clock import RunClock
from .config import ConfigError, TrainConfig, TrainOptions, newest_run_dir, next_run_dir, resolve, run_description
from .dataset import ImageZipDataset
from .distributed import (
    Dist,
    from_torchrun,
    init_from_env,
    launch,
    shutdown,
    threads_per_rank,
)
from .fid import FIDMetric, load_inception
from .files import append_line, read_jsonl, rewrite_jsonl, save_grid_png, write_text
from .loader import CACHE_BYTES, RealLoader
from .metrics import SWDMetric
from .state import StateError, read_state, save_state, state_files, state_name
from .trainer import Trainer, resolve_precision

KEEP_STATES = 2  # older training-state files are deleted once a newer one is on disk


@dataclass
class Plan:
    """What every rank needs to start: the config, where to write, and what to continue from."""

    cfg: TrainConfig
    run_dir: Path
    device: str
    workers: int
    started: float  # time.time() when the command started: older temp files of ours are leftovers
    resume_state: Path | None = None


# ---------------------------------------------------------------------------------------------------------
# Preparing a run (rank 0 or the launching process)


def open_dataset(path: str | os.PathLike) -> ImageZipDataset:
    """Decode the whole dataset into memory when it is small enough, else read images on demand."""
    probe = ImageZipDataset(path, cache=False)
    return ImageZipDataset(path) if len(probe) * int(np.prod(probe.shape)) <= CACHE_BYTES else probe


def find_resume_state(run_dir: Path) -> tuple[Path, dict] | None:
    """The newest readable training state of a run (a torn or corrupt newer file is passed over)."""
    for path in state_files(run_dir):
        try:
            _, scalars = read_state(path)
        except StateError:
            continue
        return path, scalars
    return None


def prepare(opts: TrainOptions, log=print) -> Plan:
    """Resolve the options into a Plan; create the run directory and training_options.json for a new run."""
    started = time.time()
    outdir = Path(opts.outdir)
    device = str(pick_device(opts.device))
    resolve_precision(opts.precision or "auto", torch.device(device))
    if opts.resume == "auto" or (opts.resume is not None and Path(opts.resume).is_dir()):
        run_dir = newest_run_dir(outdir) if opts.resume == "auto" else Path(opts.resume)
        found = find_resume_state(run_dir) if run_dir is not None else None
        if found is not None:
            cfg = TrainConfig.from_json((run_dir / "training_options.json").read_text())
            if opts.kimg is not None:
                cfg.total_kimg = opts.kimg
            if opts.data is not None:
                cfg.dataset = dict(cfg.dataset, path=str(opts.data))
            cfg.precision = opts.precision or cfg.precision
            if opts.ada_kimg is not None:
                cfg.ada_kimg = opts.ada_kimg
            cfg.snapshot_ticks = opts.snap or cfg.snapshot_ticks
            cfg.kimg_per_tick = opts.tick or cfg.kimg_per_tick
            if opts.gamma is not None:  # R1 weight: the one knob NVlabs tunes per dataset
                cfg.loss_kwargs["r1_gamma"] = opts.gamma
            for lr, opt_kwargs in ((opts.glr, cfg.G_opt_kwargs), (opts.dlr, cfg.D_opt_kwargs)):
                if lr is not None:  # e.g. a lower rate for a run's late phase
                    opt_kwargs["lr"] = lr
            if opts.fid_weights is not None:
                cfg.fid_weights = str(Path(opts.fid_weights).resolve())
                cfg.metrics += [] if "fid" in cfg.metrics else ["fid"]
            if cfg.num_gpus != opts.gpus:  # the same global batch, split over the processes there are now
                mbstd = cfg.D_kwargs.get("epilogue_kwargs", {}).get("mbstd_group_size", 4)
                batch_gpu = cfg.batch_size // opts.gpus
                if cfg.batch_size % opts.gpus or batch_gpu % min(mbstd, batch_gpu):
                    raise ConfigError(f"--gpus {opts.gpus}: the run's batch {cfg.batch_size} does not split into "
                                      f"per-process batches that fit its minibatch-std group {mbstd}")
                cfg.num_gpus, cfg.batch_gpu = opts.gpus, batch_gpu
            log(f"continuing {run_dir} with its training_options.json (of the options given now, only --kimg, "
                "--ada-kimg, --gamma, --glr, --dlr, --snap, --tick, --data, --fid-weights, --precision, --device and "
                "--workers apply)")
            write_text(run_dir / "training_options.json", cfg.to_json())  # what applies now, for the next resume
            if cfg.fid_weights is not None:
                load_inception(cfg.fid_weights)  # a bad file is an error now, not at the first snapshot
            return Plan(cfg, run_dir, device, opts.workers, started, resume_state=found[0])
        if opts.resume != "auto":
            raise ConfigError(f"--resume {opts.resume}: no training state to continue from in that directory")
        if opts.data is None:
            raise ConfigError(f"--resume auto: no run to resume in {outdir} (give --data to start a new one)")
        log(f"no run to resume in {outdir}; starting a new one")
        opts = replace(opts, resume=None)
    if opts.data is None:
        raise ConfigError("--data is required (a dataset zip made with `sgx dataset`)")
    dataset = ImageZipDataset(opts.data, cache=False)
    base = None
    if opts.resume is not None:
        model = load(opts.resume, which=("G", "D", "G_ema"))
        G = model.networks["G"]
        if G.family != "stylegan2":
            raise ConfigError(f"--resume {Path(opts.resume).name}: training StyleGAN3 (alias-free) networks is not "
                              "supported; resume from a StyleGAN2 network")
        if (G.img_resolution, G.img_channels) != (dataset.resolution, dataset.channels):
            raise ConfigError(f"--resume {Path(opts.resume).name} makes {G.img_resolution}x{G.img_resolution} images "
                              f"with {G.img_channels} channel(s), the dataset has {dataset.resolution}x"
                              f"{dataset.resolution} with {dataset.channels}")
        base = (G.init_kwargs, model.networks["D"].init_kwargs)
    name = Path(opts.data).stem
    cfg = resolve(opts, dataset.resolution, dataset.channels, dataset.label_dim, name, len(dataset), base)
    if cfg.fid_weights is not None:
        load_inception(cfg.fid_weights)  # a bad file is an error now, not at the first snapshot
    outdir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(outdir, older_than=started)
    run_dir = next_run_dir(outdir, run_description(opts, name))
    run_dir.mkdir()
    write_text(run_dir / "training_options.json", cfg.to_json())
    return Plan(cfg, run_dir, device, opts.workers, started)


# ---------------------------------------------------------------------------------------------------------
# Small helpers of the loop


class RunLog:
    """Lines to stdout and log.txt (rank 0 only)."""

    def __init__(self, run_dir: Path, enabled: bool):
        self.path, self.enabled = run_dir / "log.txt", enabled

    def __call__(self, message: str) -> None:
        if self.enabled:
            print(message, flush=True)
            append_line(self.path, message)


class StopRequest:
    """First Ctrl+C (or SIGTERM): finish the minibatch, write a snapshot, exit. Second Ctrl+C: abort now."""

    def __init__(self, announce: bool = True) -> None:
        self.requested = False
        self.announce = announce  # one message, from rank 0, when every rank got the signal
        self._old: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        if self.announce:
            print("\nstopping: writing a final snapshot (Ctrl+C again to abort without it)", file=sys.stderr,
                  flush=True)

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def cpu_mem_gb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (OSError, ValueError):
        return 0.0


def format_time(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s // 60 % 60:02d}m"
    return f"{s // 86400}d {s // 3600 % 24:02d}h"


class Grid:
    """The sample grid: which reals, and which seeds for the fakes (z of seed i as `sgx generate` draws it)."""

    def __init__(self, dataset, use_labels: bool, seed: int):
        res = dataset.resolution
        self.w = int(np.clip(1280 // res, 4, 16))
        self.h = int(np.clip(720 // res, 4, 16))
        n = self.w * self.h
        order = np.random.default_rng(seed).permutation(len(dataset))
        if use_labels:  # one label per row, as NVlabs' grid
            groups: dict[tuple, list[int]] = {}
            for i in order:
                groups.setdefault(tuple(dataset.labels[i].tolist()), []).append(int(i))
            keys = sorted(groups)
            self.indices = [groups[keys[y % len(keys)]][x % len(groups[keys[y % len(keys)]])]
                            for y in range(self.h) for x in range(self.w)]
        else:
            self.indices = [int(order[i % len(order)]) for i in range(n)]
        self.seeds = list(range(n))
        self.labels = np.stack([dataset.labels[i] for i in self.indices]).astype(np.float32)
        self.use_labels = use_labels

    def reals(self, dataset) -> np.ndarray:
        return np.stack([dataset[i][0] for i in self.indices]).transpose(0, 2, 3, 1)

    def fakes(self, G, device: torch.device) -> np.ndarray:
        """G_ema on the grid seeds' specs, noise 'const', in fp32 on the fast ops: `sgx generate`'s ws, its
        pixels up to rounding, several times faster than the exact path's grouped convolutions on the CPU."""
        labels = torch.from_numpy(self.labels) if self.use_labels else torch.zeros([len(self.seeds), 0])
        ws = torch.cat([spec_ws(G, LatentSpec(seed=seed), device, c=c)
                        for seed, c in zip(self.seeds, labels, strict=True)])
        return synthesize(G, ws, "const", "fp32")

    def metadata(self, kind: str, **extra) -> dict:
        meta = dict(kind=kind, grid_w=self.w, grid_h=self.h, **extra)
        if kind == "fakes":
            meta.update(seeds=f"{self.seeds[0]}-{self.seeds[-1]}", noise_mode="const", truncation_psi=1.0)
        if self.use_labels:
            meta["labels"] = self.labels.tolist()
        return meta


# ---------------------------------------------------------------------------------------------------------
# The loop


def run(plan: Plan, d: Dist | None = None) -> None:
    """Train until total_kimg (or Ctrl+C) on this rank; every rank of a job calls this."""
    d = d or Dist()
    cfg, run_dir = plan.cfg, plan.run_dir
    device = torch.device(plan.device)
    if device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
    log = RunLog(run_dir, d.is_main)
    dataset = open_dataset(cfg.dataset["path"])
    expected = (cfg.dataset["resolution"], cfg.dataset["channels"])
    if (dataset.resolution, dataset.channels) != expected:
        raise ConfigError(f"dataset {cfg.dataset['path']} is {dataset.resolution}px with {dataset.channels} "
                          f"channel(s); this run trains {expected[0]}px with {expected[1]}")
    use_labels = bool(cfg.dataset["use_labels"])
    trainer = Trainer(cfg, dataset.labels if use_labels else np.zeros([len(dataset), 0]), device, d)
    cur_tick, tick_start_nimg, prior_sec = 0, 0, 0.0
    if plan.resume_state is not None:
        tensors, scalars = read_state(plan.resume_state)
        trainer.load_state(tensors, scalars)
        cur_tick, tick_start_nimg, prior_sec = scalars["cur_tick"], scalars["tick_start_nimg"], scalars["total_sec"]
        if d.is_main:
            tidy_run_dir(run_dir, trainer.cur_nimg, plan.started)
        log(f"resuming {run_dir.name} at kimg {trainer.cur_nimg / 1000:.3f} from {plan.resume_state.name}; "
            f"precision {trainer.precision}")
    elif cfg.resume_pkl is not None:
        model = load(cfg.resume_pkl, which=("G", "D", "G_ema"))
        copied = trainer.copy_matching(model.networks)
        total = sum(len(n.state_dict()) for n in trainer.networks().values())
        log(f"starting from {Path(cfg.resume_pkl).name}: copied {copied} of {total} tensors")
    trainer.broadcast()

    grid = Grid(dataset, use_labels, cfg.random_seed)
    if d.is_main and plan.resume_state is None:
        log(f"run {run_dir}")
        log(f"dataset {cfg.dataset['path']}: {len(dataset)} images, {dataset.resolution}x{dataset.resolution}, "
            f"{dataset.channels} channel(s), labels {'used' if use_labels else 'not used'}"
            f"{', x-flips' if cfg.dataset['xflip'] else ''}")
        log(f"networks: G {count_params(trainer.G):,} parameters, D {count_params(trainer.D):,}; "
            f"batch {cfg.batch_size} ({trainer.rounds} round(s) of {cfg.batch_gpu} on {d.world_size} process(es)); "
            f"precision {trainer.precision}; device {device}")
        save_grid_png(run_dir / "reals.png", grid.reals(dataset), grid.w, grid.metadata("reals"))
        save_grid_png(run_dir / "fakes_init.png", grid.fakes(trainer.G_ema, device), grid.w,
                      grid.metadata("fakes", kimg=0))
    metrics = [SWDMetric(dataset, cfg.swd_images, seed=cfg.random_seed)] if "swd" in cfg.metrics and d.is_main else []
    if "fid" in cfg.metrics and d.is_main:
        metrics.append(FIDMetric(dataset, cfg.fid_weights, cfg.swd_images, seed=cfg.random_seed))

    if trainer.cur_nimg >= cfg.total_kimg * 1000:
        log(f"nothing to do: the run has reached {cfg.total_kimg} kimg (raise --kimg to train further)")
        return
    loader = RealLoader(dataset, cfg.batch_size, d.rank, d.world_size, cfg.random_seed, cfg.dataset["xflip"],
                        start_batch=trainer.batch_idx, workers=plan.workers)
    maintenance = tick_start_time = 0.0
    bar = ProgressBar(d.is_main and sys.stderr.isatty())
    try:
        with StopRequest(announce=d.is_main) as stop, RunClock() as clock:
            while True:
                real_img, real_c = loader.next()
                trainer.step(real_img, real_c)
                clock.mark()
                done = trainer.cur_nimg >= cfg.total_kimg * 1000
                stopping = d.any(stop.requested)
                tick_nimg = cfg.kimg_per_tick * 1000
                bar.show(trainer.cur_nimg - tick_start_nimg, tick_nimg, cur_tick)
                if not (done or stopping or cur_tick == 0 or trainer.cur_nimg >= tick_start_nimg + tick_nimg):
                    continue
                bar.clear()
                tick_end_time = clock.elapsed()
                total_sec = prior_sec + tick_end_time
                tick_kimg = (trainer.cur_nimg - tick_start_nimg) / 1000
                sec_per_kimg = (tick_end_time - tick_start_time) / max(tick_kimg, 1e-8)
                report_tick(trainer, cur_tick, total_sec, tick_end_time - tick_start_time, sec_per_kimg, maintenance)
                stats = trainer.stats.finish(d.sum if d.active else None)
                log(status_line(trainer, cur_tick, total_sec, sec_per_kimg, stats))
                if d.is_main:
                    append_line(run_dir / "stats.jsonl", json.dumps(dict(stats, timestamp=time.time())))
                snapshot = done or stopping or cur_tick % cfg.snapshot_ticks == 0
                if snapshot and d.active:
                    modules = [*trainer.networks().values()] + [m for m in [trainer.augment_pipe] if m is not None]
                    diff = d.divergence(modules)
                    log(f"ranks in sync: max |difference| {diff:g}" if diff == 0 else
                        f"WARNING: ranks diverged: max |difference| {diff:g} (please report this)")
                if snapshot and d.is_main:
                    name = write_snapshot(trainer, run_dir, grid, device, cur_tick + 1, total_sec)
                    clock.mark()
                    for metric in metrics:
                        run_metric(metric, trainer, run_dir, device, log, name)
                        clock.mark()
                if snapshot:
                    d.barrier()
                cur_tick += 1
                tick_start_nimg = trainer.cur_nimg
                tick_start_time = clock.elapsed()
                maintenance = tick_start_time - tick_end_time
                if done or stopping:
                    break
    finally:
        bar.clear()
        loader.close()
    log("stopped by request; resume with --resume auto" if stopping and not done else "training complete")


def count_params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def report_tick(trainer: Trainer, cur_tick: int, total_sec: float, tick_sec: float, sec_per_kimg: float,
                maintenance: float) -> None:
    """The once-per-tick statistics. Every rank reports them once; summed over ranks, the mean is unchanged."""
    report = trainer.stats.report
    for name, value in [("Progress/tick", cur_tick), ("Progress/kimg", trainer.cur_nimg / 1000),
                        ("Progress/augment", trainer.augment_p), ("Timing/total_sec", total_sec),
                        ("Timing/sec_per_tick", tick_sec), ("Timing/sec_per_kimg", sec_per_kimg),
                        ("Timing/maintenance_sec", maintenance), ("Timing/total_hours", total_sec / 3600),
                        ("Timing/total_days", total_sec / 86400), ("Resources/cpu_mem_gb", cpu_mem_gb()),
                        ("Loss/pl_mean", float(trainer.loss.pl_mean))]:
        report(name, value)
    if trainer.device.type == "cuda":
        report("Resources/peak_gpu_mem_gb", torch.cuda.max_memory_allocated(trainer.device) / 2**30)
        torch.cuda.reset_peak_memory_stats(trainer.device)
    for phase in trainer.phases:  # milliseconds per execution, as NVlabs reports them
        if phase.seconds:
            report(f"Timing/{phase.name}", torch.tensor(phase.seconds) * 1000)
            phase.seconds.clear()


def status_line(trainer: Trainer, cur_tick: int, total_sec: float, sec_per_kimg: float, stats: dict) -> str:
    cfg = trainer.cfg
    kimg = trainer.cur_nimg / 1000
    eta = max(cfg.total_kimg - kimg, 0) * sec_per_kimg

    def mean(name: str) -> str:
        return f"{stats[name]['mean']:.3f}" if name in stats else "-"

    return (f"tick {cur_tick:<5d} kimg {kimg:<9.3f} time {format_time(total_sec):<9s} sec/kimg {sec_per_kimg:<8.2f} "
            f"ETA {format_time(eta):<9s} augment {trainer.augment_p:.3f}  G {mean('Loss/G/loss')}  "
            f"D {mean('Loss/D/loss')}  mem {cpu_mem_gb():.2f} GB")


def snapshot_tag(run_dir: Path, nimg: int) -> str:
    """What follows `network-snapshot-` and `fakes`: NVlabs' 6-digit kimg, then the image count and a counter for
    as long as the name is taken in this run (several snapshots within one kimg, or a resumed run redoing one):
    000000, 000000-0000000012, 000000-0000000012-2. So no snapshot is ever overwritten."""
    kimg = f"{nimg // 1000:06d}"
    tags = itertools.chain([kimg, f"{kimg}-{nimg:010d}"], (f"{kimg}-{nimg:010d}-{i}" for i in itertools.count(2)))
    return next(tag for tag in tags if not (run_dir / f"network-snapshot-{tag}.safetensors").exists())


def write_snapshot(trainer: Trainer, run_dir: Path, grid: Grid, device: torch.device, next_tick: int,
                   total_sec: float) -> str:
    """fakesTAG.png, network-snapshot-TAG.safetensors (a new name) and the training state, each written atomically.

    Returns the network snapshot's file name."""
    cfg = trainer.cfg
    tag = snapshot_tag(run_dir, trainer.cur_nimg)
    save_grid_png(run_dir / f"fakes{tag}.png", grid.fakes(trainer.G_ema, device), grid.w,
                  grid.metadata("fakes", kimg=trainer.cur_nimg / 1000))
    meta = dict(kimg=trainer.cur_nimg / 1000, nimg=trainer.cur_nimg, cfg=cfg.cfg, dataset=cfg.dataset,
                augment_p=trainer.augment_p, run=run_dir.name)
    name = f"network-snapshot-{tag}.safetensors"
    save_networks(run_dir / name, trainer.networks(), meta)
    tensors, scalars = trainer.state_tensors()
    scalars.update(cur_tick=next_tick, tick_start_nimg=trainer.cur_nimg, total_sec=total_sec)
    save_state(run_dir / state_name(trainer.cur_nimg), tensors, scalars)
    for old in state_files(run_dir)[KEEP_STATES:]:
        old.unlink(missing_ok=True)
    return name


def run_metric(metric, trainer: Trainer, run_dir: Path, device: torch.device, log, snapshot: str) -> None:
    start = time.time()
    results = metric(trainer.G_ema, device)
    record = dict(results=results, metric=metric.name, total_time=time.time() - start, num_images=metric.num,
                  kimg=trainer.cur_nimg / 1000, snapshot=snapshot, timestamp=time.time())
    append_line(run_dir / f"metric-{metric.name}.jsonl", json.dumps(record))
    values = "  ".join(f"{k} {v:.3f}" for k, v in results.items())
    log(f"{metric.name} at kimg {trainer.cur_nimg / 1000:.3f}: {values}")


def tidy_run_dir(run_dir: Path, cur_nimg: int, started: float) -> None:
    """Before continuing: drop our temp files of writes that were cut short before `started`, and log records
    from after the state."""
    remove_stale_temps(run_dir, older_than=started)
    kimg = cur_nimg / 1000 + 1e-9
    stats = read_jsonl(run_dir / "stats.jsonl")
    rewrite_jsonl(run_dir / "stats.jsonl", [r for r in stats if r.get("Progress/kimg", {}).get("mean", 0) <= kimg])
    for path in run_dir.glob("metric-*.jsonl"):
        rewrite_jsonl(path, [r for r in read_jsonl(path) if r.get("kimg", 0) <= kimg])


class ProgressBar:
    """A one-line bar on a terminal, redrawn each minibatch; silent in logs and pipes."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def show(self, done: float, total: float, tick: int) -> None:
        if self.enabled:
            frac = min(done / total, 1.0) if total else 1.0
            filled = int(frac * 30)
            bar = "#" * filled + "." * (30 - filled)
            sys.stderr.write(f"\rtick {tick} [{bar}] {done / 1000:.2f}/{total / 1000:g} kimg")
            sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 70 + "\r")
            sys.stderr.flush()


# ---------------------------------------------------------------------------------------------------------
# Entry points: one process, `--gpus N` (spawned ranks) or torchrun


def _spawned(plan: Plan) -> None:
    fast.tune_allocator()  # a spawned interpreter starts with glibc's defaults (sgx's entry tunes the parent)
    world = int(os.environ["WORLD_SIZE"])
    device = torch.device(plan.device)
    if device.type == "cpu":
        torch.set_num_threads(threads_per_rank(int(os.environ.get("LOCAL_WORLD_SIZE", world))))
    d = init_from_env(torch.device("cuda", int(os.environ["LOCAL_RANK"])) if device.type == "cuda" else device)
    try:
        run(plan, d)
    finally:
        shutdown()


def train(opts: TrainOptions, log=print) -> Path:
    """`sgx train`: prepare the run, then train in this process, in --gpus processes, or as a torchrun rank."""
    if from_torchrun():
        import torch.distributed as dist

        if opts.gpus != 1:
            raise ConfigError("--gpus is set by torchrun (--nproc_per_node); leave it out")
        rank = int(os.environ["RANK"])
        world = int(os.environ["WORLD_SIZE"])
        device = pick_device(opts.device)
        d = init_from_env(torch.device("cuda", int(os.environ["LOCAL_RANK"])) if device.type == "cuda" else device)
        if device.type == "cpu":
            torch.set_num_threads(threads_per_rank(int(os.environ.get("LOCAL_WORLD_SIZE", world))))
        try:
            box: list = [None]
            if rank == 0:
                try:
                    box[0] = prepare(replace(opts, gpus=world), log)
                except (ConfigError, ValueError, OSError) as e:
                    box[0] = f"{type(e).__name__}: {e}"
            if world > 1:
                dist.broadcast_object_list(box, src=0)
            if isinstance(box[0], str):
                raise ConfigError(box[0].split(": ", 1)[1])
            run(box[0], d)
            return box[0].run_dir
        finally:
            shutdown()
    plan = prepare(opts, log)
    if opts.gpus > 1:
        launch(_spawned, opts.gpus, (plan,))
    else:
        run(plan)
    return plan.run_dir
