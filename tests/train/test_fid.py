"""FID: the Inception port loads pytorch-fid-style state dicts strictly and refuses everything else without
running it, the Fréchet distance matches closed forms, and the trainer writes metric-fid.jsonl.

The real weights cannot be downloaded here, so the networks have random weights, scaled so activations stay
near unit size through the 94 layers. Most tests run the network on 75x75 inputs (the smallest it takes) to stay
fast; one test runs the real 299x299 path.
"""

from __future__ import annotations

import json
import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from click.testing import CliRunner
from torch import nn

from train import fid
from train.calc_metrics import Scorer, network_files
from train.cli import metrics_command, train_command
from train.config import TrainConfig, TrainOptions
from train.dataset import ImageZipDataset
from train.fid import (
    WEIGHTS_NAME,
    FIDInception,
    FIDMetric,
    FIDWeightsError,
    feature_statistics,
    frechet_distance,
    inception_features,
    load_inception,
    to_inception_input,
)
from train.files import read_jsonl
from train.loop import prepare, train

from .trainer_data import make_zip, tiny_options

SMALL = 75  # the smallest input the stride-2 layers leave a 3x3 map for at Mixed_7a


def random_inception(seed: int = 0) -> FIDInception:
    """He-initialised convolutions and random batch-norm statistics, so every tensor of the file matters."""
    torch.manual_seed(seed)
    net = FIDInception()
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.normal_(m.bias, std=0.1)
            m.running_mean.normal_(std=0.1)
            m.running_var.uniform_(0.5, 2.0)
    return net.eval().requires_grad_(False)


@pytest.fixture(scope="module")
def net() -> FIDInception:
    return random_inception()


@pytest.fixture(scope="module")
def weights(net, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fid") / "random-inception.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture
def small_input(monkeypatch):
    monkeypatch.setattr(fid, "INPUT_SIZE", SMALL)


def images(n: int, seed: int, channels: int = 3, res: int = 16) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, [n, channels, res, res], np.uint8))


# ---------------------------------------------------------------------------------------------------------
# The network and its weights


def test_the_network_has_torchvision_inception3_parameters():
    # torchvision documents 27,161,264 parameters for Inception3 with AuxLogits and 1000 classes; without the
    # aux head (3,326,696) and with 1008 classes (+8 x 2049) that is the FID network.
    assert sum(p.numel() for p in FIDInception().parameters()) == 27_161_264 - 3_326_696 + 8 * 2049
    bns = [m for m in FIDInception().modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 94 and all(bn.eps == 0.001 for bn in bns)


def test_state_dict_loads_strictly_from_pth_and_safetensors(net, weights, tmp_path):
    st = tmp_path / "random-inception.safetensors"
    safetensors.torch.save_file(net.state_dict(), st)
    # pytorch-fid's file has no num_batches_tracked; a torchvision-style dump may carry AuxLogits: both load.
    trimmed = tmp_path / "trimmed.pth"
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(dict(state, **{"AuxLogits.fc.weight": torch.zeros(1008, 768)}), trimmed)
    x = torch.rand([2, 3, SMALL, SMALL]) * 2 - 1
    reference = net.state_dict()
    with torch.inference_mode():
        expected = net(x)
        outs = []
        for path in (weights, st, trimmed):
            loaded = load_inception(path)
            state = loaded.state_dict()
            assert state.keys() == reference.keys() and all(torch.equal(state[k], v) for k, v in reference.items())
            if path != trimmed:  # equal tensors, equal features
                outs.append(loaded(x.contiguous(memory_format=torch.channels_last)))
    assert outs[0].shape == (2, 2048) and outs[0].dtype == torch.float32 and torch.equal(outs[0], outs[1])
    assert torch.allclose(outs[0], expected, rtol=1e-4, atol=1e-5)  # channels_last: rounding only
    assert expected.std() > 0.1  # the random network neither vanishes nor saturates


def test_features_at_299_from_uint8_images(weights):
    loaded = load_inception(weights)
    feats = inception_features(loaded, images(2, seed=0), batch=2)
    assert feats.shape == (2, 2048) and feats.dtype == np.float64 and np.isfinite(feats).all()
    assert not np.allclose(feats[0], feats[1])


def test_input_scaling_and_grayscale(weights, small_input):
    x = to_inception_input(torch.tensor([0, 255], dtype=torch.uint8).reshape(1, 1, 1, 2))
    assert x.shape == (1, 3, SMALL, SMALL)  # as pytorch-fid: 2 * x / 255 - 1, then bilinear
    assert abs(float(x.min()) + 1) < 1e-6 and abs(float(x.max()) - 1) < 1e-6
    gen = torch.rand([1, 3, 8, 8]) * 2 - 1  # generator output is already in [-1, 1]
    assert torch.allclose(to_inception_input(gen), torch.nn.functional.interpolate(gen, size=(SMALL, SMALL),
                                                                                   mode="bilinear"))
    loaded = load_inception(weights)
    gray = images(2, seed=1, channels=1)
    np.testing.assert_allclose(inception_features(loaded, gray), inception_features(loaded, gray.repeat(1, 3, 1, 1)),
                               rtol=1e-5, atol=1e-6)


class Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def write_bad(kind: str, path: Path, net: FIDInception, marker: Path) -> Path:
    if kind == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "torch.save exploit":
        torch.save({"fc.weight": Exploit(marker)}, path)
    elif kind == "pickle exploit":
        path.write_bytes(pickle.dumps({"fc.weight": Exploit(marker)}, protocol=2))
    elif kind == "torchscript":
        torch.jit.script(nn.Linear(2, 2)).save(str(path))
    elif kind == "missing key":
        torch.save({k: v for k, v in net.state_dict().items() if k != "Mixed_6c.branch_pool.bn.running_var"}, path)
    elif kind == "wrong shape":
        torch.save(dict(net.state_dict(), **{"fc.weight": torch.zeros(1000, 2048)}), path)
    elif kind == "not a dict":
        torch.save([torch.zeros(3)], path)
    elif kind == "bad safetensors":
        path = path.with_suffix(".safetensors")
        path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    return path


@pytest.mark.parametrize("kind, found", [
    ("random bytes", "neither a PyTorch file nor a safetensors file"),
    ("torch.save exploit", "a pickle that would import posix.system"),
    ("pickle exploit", "a pickle that would import posix.system"),
    ("torchscript", "a TorchScript archive"),
    ("missing key", "1 missing and 0 unexpected tensor(s), e.g. missing Mixed_6c.branch_pool.bn.running_var"),
    ("wrong shape", "fc.weight is [1000, 2048], the FID Inception has [1008, 2048]"),
    ("not a dict", "holds a list, not a state dict"),
    ("bad safetensors", "not a readable safetensors file"),
])
def test_wrong_files_are_refused_in_one_line_without_running_them(kind, found, net, tmp_path):
    marker = tmp_path / "pwned"
    path = write_bad(kind, tmp_path / "weights.pth", net, marker)
    with pytest.raises(FIDWeightsError) as e:
        load_inception(path)
    message = str(e.value)
    assert found in message and WEIGHTS_NAME in message and "\n" not in message, message
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------------------
# The Fréchet distance


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    rng = np.random.default_rng(0)
    m1, m2 = rng.normal(size=16), rng.normal(size=16)
    v1, v2 = rng.uniform(0.1, 3, 16), rng.uniform(0.1, 3, 16)
    expected = np.square(m1 - m2).sum() + np.square(np.sqrt(v1) - np.sqrt(v2)).sum()
    assert frechet_distance(m1, np.diag(v1), m2, np.diag(v2)) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_of_non_commuting_2x2_covariances():
    # Tr sqrt(S1 S2) = sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2)) for 2x2 matrices with real non-negative eigenvalues.
    s1 = np.array([[2.0, 0.8], [0.8, 1.0]])
    s2 = np.array([[0.5, -0.3], [-0.3, 1.5]])
    tr_sqrt = math.sqrt(np.trace(s1 @ s2) + 2 * math.sqrt(np.linalg.det(s1) * np.linalg.det(s2)))
    expected = 1.0 + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert frechet_distance([0, 0], s1, [1, 0], s2) == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_is_zero_for_equal_statistics_and_symmetric():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=[200, 32]), rng.normal(size=[300, 32]) @ rng.normal(size=[32, 32]) + 1
    sa, sb = feature_statistics(a), feature_statistics(b)
    assert abs(frechet_distance(*sa, *sa)) < 1e-10
    assert frechet_distance(*sa, *sb) == pytest.approx(frechet_distance(*sb, *sa), rel=1e-10)
    assert frechet_distance(*sa, *sb) > 10


def test_frechet_distance_is_finite_for_fewer_samples_than_dimensions():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=[6, 64]), rng.normal(size=[9, 64]) * 2
    sa, sb = feature_statistics(a), feature_statistics(b)
    assert np.linalg.matrix_rank(sa[1]) == 5
    d = frechet_distance(*sa, *sb)
    assert np.isfinite(d) and d > 0
    assert frechet_distance(*sb, *sa) == pytest.approx(d, rel=1e-8)
    features_factor = torch.from_numpy((a - sa[0]).T / np.sqrt(len(a) - 1))  # what FIDMetric passes
    assert frechet_distance(*sa, *sb, factor1=features_factor) == pytest.approx(d, rel=1e-8)
    assert abs(frechet_distance(*sa, *sa)) < 1e-10 * np.trace(sa[1])
    with pytest.raises(ValueError, match="at least 2 images"):
        feature_statistics(a[:1])


# ---------------------------------------------------------------------------------------------------------
# The metric and the trainer


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_zip(tmp_path_factory.mktemp("data") / "discs.zip", count=8)


def test_fid_metric_is_near_zero_for_the_reals_and_large_for_noise(data, weights, small_input):
    dataset = ImageZipDataset(data)
    metric = FIDMetric(dataset, weights, num=100)
    assert metric.num == 8
    reals = torch.from_numpy(np.stack([dataset[i][0] for i in range(8)]))
    same = metric.distance(reals, torch.device("cpu"))
    noise = metric.distance(images(8, seed=3), torch.device("cpu"))
    assert abs(same) < 1e-3 and noise > 1000 * max(abs(same), 1e-6), (same, noise)


def test_a_run_with_fid_weights_writes_metric_fid_jsonl(data, weights, tmp_path, small_input):
    run = train(tiny_options(data, tmp_path, fid_weights=str(weights), swd_images=8, kimg=0.004))
    resumed = prepare(TrainOptions(data=None, outdir=str(tmp_path), resume="auto"), log=lambda message: None)
    assert resumed.cfg.metrics == ["fid"] and resumed.cfg.fid_weights == str(weights.resolve())
    records = read_jsonl(run / "metric-fid.jsonl")
    assert [r["kimg"] for r in records] == [0.004]  # one minibatch, one tick, one snapshot
    assert all(r["metric"] == "fid" and r["num_images"] == 8 and np.isfinite(r["results"]["fid"]) for r in records)
    assert "fid at kimg 0.004: fid " in (run / "log.txt").read_text()
    assert not (run / "metric-swd.jsonl").exists()


@pytest.mark.parametrize("bad", ["missing", "random"])
def test_a_bad_fid_weights_file_is_a_one_line_error_before_training(data, tmp_path, bad):
    path = tmp_path / "weights" / f"{bad}.pth"
    if bad == "random":
        path.parent.mkdir()
        path.write_bytes(b"not weights at all")
    outdir = tmp_path / "runs"
    result = CliRunner().invoke(train_command, ["--data", str(data), "--outdir", str(outdir),
                                                "--fid-weights", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert result.output.startswith("Error: --fid-weights ") and result.output.count("\n") == 1, result.output
    assert not outdir.exists()  # nothing was created


def test_a_run_recorded_before_fid_weights_resumes_without_fid():
    cfg = TrainConfig.from_json(json.dumps(dict(cfg="auto", num_gpus=1, total_kimg=1, batch_size=4, batch_gpu=4,
                                                random_seed=0, G_kwargs={}, D_kwargs={}, G_opt_kwargs={},
                                                D_opt_kwargs={}, loss_kwargs={})))
    assert cfg.fid_weights is None and cfg.metrics == ["swd"]  # the old training_options.json as it was


def test_sgx_metrics_measures_fid_over_fresh_draws_with_swd_ranking_first(data, weights, tmp_path, small_input):
    run = train(tiny_options(data, tmp_path, kimg=0.004, swd_images=8))
    path = network_files([run])[0]
    scorer = Scorer(data, ["fid"], num=8, fid_weights=str(weights))
    fids = scorer(path, draws=2, device=torch.device("cpu")).values["fid"]
    assert len(set(fids)) == 2 and all(np.isfinite(fids))  # fresh fakes per draw, the same real statistics
    assert scorer(path, draws=1, device=torch.device("cpu")).values["fid"] == fids[:1]  # draw 0 repeats
    result = CliRunner().invoke(metrics_command, [str(run), "--metrics", "swd,fid", "--fid-weights", str(weights),
                                                  "--draws", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].split() == ["network", "kimg", "swdavg", "fid", "swd16"]
