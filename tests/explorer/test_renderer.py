"""The render worker on its own: results as pygame events, latest wins, stale thumbnails dropped, errors reported.

The worker is held at a gate (a threading.Event inside its synthesis call) wherever a test needs requests to
pile up, so nothing depends on timing.
"""

import os
import threading
import time

os.environ.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from explorer.pins import ENV_VAR  # noqa: E402
from explorer.renderer import RENDER_EVENT, Renderer, model_info  # noqa: E402
from model.fast import choose_precision  # noqa: E402
from model.io import load, save_networks  # noqa: E402
from model.latents import mix_styles  # noqa: E402
from model.render import render_seed, shrink, spec_ws, synthesize  # noqa: E402
from model.spec import LatentSpec, Mix  # noqa: E402
from tests.model.conformance import make_g  # noqa: E402


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    path = tmp_path_factory.mktemp("net") / "tiny.safetensors"
    save_networks(path, {"G_ema": make_g(0)})
    return path


@pytest.fixture
def renderer(net, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "data"))  # where directions are cached
    pygame.init()
    pygame.event.clear()
    r = Renderer("cpu", "exact")
    yield r
    r.close()
    pygame.quit()


def results(until, timeout=30.0):
    """Collect RENDER_EVENT results until until(list) is true."""
    got, end = [], time.perf_counter() + timeout
    while not until(got):
        assert time.perf_counter() < end, f"timed out with {[(r.kind, r.stamp) for r in got]}"
        event = pygame.event.wait(100)
        if event.type == RENDER_EVENT:
            got.append(event.result)
    return got


def gate(renderer):
    """Make the worker block in its next synthesis call until the returned event is set."""
    entered, release = threading.Event(), threading.Event()
    inner = renderer._render_specs

    def gated(*args):
        entered.set()
        assert release.wait(30)
        return inner(*args)

    renderer._render_specs = gated
    return entered, release


def open_model(renderer, net):
    """Open and wait for the model and its directions (SeFa, computed on open)."""
    stamp = renderer.open(net)
    result, directions = results(lambda got: len(got) == 2)
    assert result.kind == "model" and result.stamp == stamp
    assert directions.kind == "directions" and directions.sets[0].name == "SeFa"
    return result.info


def test_open_describes_the_model(renderer, net):
    info = open_model(renderer, net)
    G = load(net).G
    assert info == model_info(G, "tiny", load(net).model_id, "cpu exact", str(net))
    assert (info.resolution, info.num_ws, info.c_dim) == (16, 6, 0)
    assert [b.name for b in info.bands] == ["coarse", "fine"] and info.index_labels[0] == "4²"


def test_image_is_exact_and_mixing_takes_the_source_rows(renderer, net):
    open_model(renderer, net)
    G = load(net).G
    renderer.render(LatentSpec(5, 0.6, 4, None, "const"))
    renderer_result = results(lambda got: got)[0]
    assert renderer_result.kind == "image"
    assert np.array_equal(renderer_result.images[0], render_seed(G, 5, 0.6, 4, None, "const"))
    renderer.render(LatentSpec(5, 0.6, None, None, "const", Mix(8, 2, 4)))
    mixed = results(lambda got: got)[0].images[0]
    ws = mix_styles(spec_ws(G, LatentSpec(5, 0.6)), spec_ws(G, LatentSpec(8, 0.6)), range(2, 5))
    assert np.array_equal(mixed, synthesize(G, ws, "const")[0])


def test_auto_precision_is_chosen_on_the_worker_and_used_for_every_image(net):
    pygame.init()
    pygame.event.clear()
    renderer = Renderer("cpu")
    try:
        info = open_model(renderer, net)
        chosen = choose_precision("cpu", "auto")
        assert renderer.precision == chosen and info.device == f"cpu {chosen}"
        renderer.render(LatentSpec(5, 0.6))
        [image] = results(lambda got: got)[0].images
        assert np.array_equal(image, render_seed(load(net).G, 5, 0.6, precision=chosen))
    finally:
        renderer.close()
        pygame.quit()


def test_a_missing_device_is_reported_and_the_worker_renders_on_the_cpu(net, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    pygame.init()
    pygame.event.clear()
    renderer = Renderer("cuda", "exact")
    try:
        [error] = results(lambda got: got)
        assert error.kind == "error" and "not available" in error.message and "CPU" in error.message
        assert open_model(renderer, net).device == "cpu exact"
    finally:
        renderer.close()
        pygame.quit()


def test_latest_wins_while_the_worker_is_busy(renderer, net):
    open_model(renderer, net)
    entered, release = gate(renderer)
    first = renderer.render(LatentSpec(1))
    assert entered.wait(30)
    before = renderer.images_rendered
    stamps = [renderer.render(LatentSpec(1, psi=0.01 * i)) for i in range(50)]
    release.set()
    got = results(lambda got: any(r.stamp == stamps[-1] for r in got))
    assert [r.stamp for r in got] == [first, stamps[-1]]  # the one in flight, then only the newest
    assert renderer.images_rendered - before == 2
    assert got[-1].specs[0].psi == 0.49


def test_thumbnails_come_in_batches_and_a_superseded_request_is_dropped(renderer, net):
    open_model(renderer, net)
    entered, release = gate(renderer)
    old = renderer.thumbs("grid", [LatentSpec(s) for s in range(6)], 8)
    assert entered.wait(30)
    new = renderer.thumbs("grid", [LatentSpec(s) for s in range(10, 15)], 8)
    release.set()
    got = results(lambda got: sum(len(r.specs) for r in got) >= 5)
    assert all(r.stamp == new and r.kind == "thumbs" for r in got) and old not in {r.stamp for r in got}
    assert [r.specs[0].seed for r in got] == [10, 12, 14]  # batches of thumb_batch (2 on the CPU)
    assert all(im.shape == (8, 8, 3) and im.dtype == np.uint8 for r in got for im in r.images)
    full = render_seed(load(net).G, 10)
    assert np.array_equal(got[0].images[0], shrink(full[None], 8)[0])


def test_shrink_box_filters_by_powers_of_two():
    image = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(1, 4, 4, 3)
    assert shrink(image, 4) is image and shrink(image, 3) is image
    small = shrink(image, 2)
    assert small.shape == (1, 2, 2, 3)
    assert small[0, 0, 0, 0] == round(image[0, :2, :2, 0].mean())


def test_errors_are_reported_and_the_worker_lives_on(renderer, net, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a network at all")
    renderer.open(bad)
    [error] = results(lambda got: got)
    assert error.kind == "error" and error.channel == "open" and "\n" not in error.message
    info = open_model(renderer, net)
    assert info.resolution == 16
    renderer.render(LatentSpec(1, mix=Mix(3, 0, 99)))  # a spec this network cannot take (it has 6 w indices)
    [error] = results(lambda got: got)
    assert error.kind == "error" and "bad w index" in error.message
    renderer.render(LatentSpec(2))
    assert results(lambda got: got)[0].kind == "image"


def test_a_newer_model_drops_results_of_the_old_one(renderer, net):
    open_model(renderer, net)
    entered, release = gate(renderer)
    stale = renderer.render(LatentSpec(3))
    assert entered.wait(30)
    reopened = renderer.open(net)
    release.set()
    got = results(lambda got: any(r.kind == "model" for r in got))
    assert [r.stamp for r in got] == [reopened]
    assert stale < reopened


def test_a_network_with_non_finite_weights_opens_with_a_warning(renderer, tmp_path):
    g = make_g(0)
    with torch.no_grad():
        g.synthesis.b8.conv0.bias[0] = float("nan")
    path = tmp_path / "nan.safetensors"
    save_networks(path, {"G_ema": g})
    renderer.open(path)
    [result] = results(lambda got: got)
    assert result.kind == "model" and "non-finite values" in result.message


def count_threads(renderer):
    """torch's thread count at each synthesis call, as the worker set it."""
    seen, inner = [], renderer._render_specs

    def counted(*args):
        seen.append(torch.get_num_threads())
        return inner(*args)

    renderer._render_specs = counted
    return seen


@pytest.fixture
def two_threads(net, tmp_path, monkeypatch):
    """A worker with the two-thread thumbnail policy, which OMP_WAIT_POLICY=PASSIVE turns on by default."""
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "data"))
    pygame.init()
    pygame.event.clear()
    r = Renderer("cpu", "exact", thumb_threads=2)
    yield r
    r.close()
    pygame.quit()


def test_an_image_waits_at_most_one_batch_of_two_thread_thumbnails(two_threads, net):
    open_model(two_threads, net)
    threads = count_threads(two_threads)
    entered, release = gate(two_threads)
    grid = two_threads.thumbs("grid", [LatentSpec(s) for s in range(10)], 8)
    assert entered.wait(30)
    image = two_threads.render(LatentSpec(99))
    release.set()
    got = results(lambda got: sum(len(r.specs) for r in got) >= 11)
    assert [(r.kind, r.stamp, len(r.specs)) for r in got] == [
        ("thumbs", grid, 4), ("image", image, 1), ("thumbs", grid, 4), ("thumbs", grid, 2)]
    assert threads == [2, 1, 2, 2]  # the slider's render keeps to one thread
    assert [s.seed for r in got if r.kind == "thumbs" for s in r.specs] == list(range(10))  # in display order


def test_thumbnails_the_user_is_changing_go_back_to_one_thread_in_twos(two_threads, net, monkeypatch):
    monkeypatch.setattr("explorer.renderer.CHANGING_S", 3600.0)  # however slow this machine is today
    open_model(two_threads, net)
    threads = count_threads(two_threads)
    entered, release = gate(two_threads)
    two_threads.thumbs("grid", [LatentSpec(s) for s in range(6)], 8)
    assert entered.wait(30)
    new = two_threads.thumbs("grid", [LatentSpec(s) for s in range(10, 16)], 8)  # e.g. the psi slider moved
    release.set()
    got = results(lambda got: sum(len(r.specs) for r in got) >= 6)
    assert [(r.stamp, len(r.specs)) for r in got] == [(new, 2)] * 3
    assert threads == [2, 1, 1, 1]  # the superseded request's batch had begun before the change
