"""`sgx explore` / `python -m explorer`: argument checks before any window opens."""

import os
import subprocess
import sys

import pygame
import pytest
from click.testing import CliRunner

import explorer.app
import explorer.cli_options
import model.io
from explorer.cli import main

from .test_demo_model import needs_demo_model

os.environ.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")


@pytest.fixture
def opened(monkeypatch):
    """Record the App the command would run instead of opening a window."""
    calls = []

    class FakeApp:
        def __init__(self, network, device, precision):
            if network == "no-display":
                raise pygame.error("x11 not available")
            calls.append((str(network), device, precision))

        def run(self):
            calls.append("run")

    monkeypatch.setattr(explorer.app, "App", FakeApp)
    return calls


def test_without_a_network_and_without_the_demo_model_it_says_so(monkeypatch, tmp_path, opened):
    monkeypatch.setattr(explorer.cli_options, "DEMO_MODEL", tmp_path / "missing.safetensors")
    result = CliRunner().invoke(main, ["explore"])
    assert result.exit_code == 2 and "demo model is not there" in result.output and "network file" in result.output
    assert opened == []


@needs_demo_model
def test_without_a_network_it_opens_the_bundled_demo_model(opened):
    result = CliRunner().invoke(main, ["explore"])
    assert result.exit_code == 0, result.output
    assert opened == [(str(explorer.cli_options.DEMO_MODEL), "auto", "auto"), "run"]


def test_without_a_network_it_opens_the_demo_model(monkeypatch, tmp_path, opened):
    demo = tmp_path / "emoji64.safetensors"
    demo.write_bytes(b"x")
    monkeypatch.setattr(explorer.cli_options, "DEMO_MODEL", demo)
    for args in (["explore"], ["explore", "demo"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
    assert opened == [(str(demo), "auto", "auto"), "run"] * 2


def test_no_display_is_a_one_line_error(monkeypatch, opened):
    monkeypatch.setattr(model.io, "check_file", lambda path: None)
    result = CliRunner().invoke(main, ["explore", "no-display", "--precision", "exact"])
    assert result.exit_code == 2 and result.output.strip() == "Error: cannot open a window: x11 not available"


def test_bad_arguments_exit_2_before_a_window(tmp_path, opened):
    for args, message in ((["explore", str(tmp_path / "nope.pkl")], "file not found"),
                          (["explore", str(tmp_path)], "not a regular file"),
                          (["explore", "--device", "quantum", __file__], "unknown device")):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and message in result.output, result.output
    assert opened == []


def test_python_m_explorer_is_the_same_command(tmp_path):
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    result = subprocess.run([sys.executable, "-m", "explorer", str(tmp_path / "nope.pkl")], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 2 and "file not found" in result.stderr
    assert "python -m explorer" in subprocess.run([sys.executable, "-m", "explorer", "--help"], capture_output=True,
                                                  text=True, env=env, timeout=120).stdout


def test_without_a_display_it_exits_with_one_line_instead_of_hiding_a_window(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    net = tmp_path / "net.safetensors"
    net.write_bytes(b"not opened: the display check comes first")
    result = subprocess.run([sys.executable, "-m", "explorer", str(net)], capture_output=True, text=True,
                            env=dict(env, SDL_AUDIODRIVER="dummy"), timeout=120)
    assert result.returncode == 2 and "xvfb-run" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
