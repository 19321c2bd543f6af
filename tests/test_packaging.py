"""The package as a user gets it: the sdist and the wheel built from it carry every module, the demo model, its
card and licence and the theme (all from the top-level assets/ folder), and never the training record.

Built the way `python -m build` does it (sdist first, the wheel from the unpacked sdist) but without an isolated
build environment, from a copy of the checkout in a temp folder, so nothing is written into the checkout. `.ci/run`
also builds the wheel the isolated way, checks it with `wheel_problems` and runs it from a throwaway venv:
    python -m tests.test_packaging WHEEL
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
DEMO = "assets/models/emoji64.safetensors"
RECORD = "emoji64-training"  # the demo's training record: logs, plots, sample grids, run folders
BUNDLED = {  # where the wheel puts the files of assets/ (pyproject.toml maps the folder onto explorer.bundled)
    "explorer/bundled/models/emoji64.safetensors", "explorer/bundled/models/README.md",
    "explorer/bundled/models/LICENSE-Apache-2.0.txt", "explorer/bundled/theme.json"}
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "explorer", "model", "train", "assets")


def wheel_problems(wheel: Path) -> list[str]:
    """What is wrong with a built wheel: a module of the checkout or a bundled file missing, the training record
    in it, or more than 2 MB besides the demo model (the wheel is the model plus a little code)."""
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for pkg in ("explorer", "model", "train")
               for p in (ROOT / pkg).rglob("*.py") if "__pycache__" not in p.parts}
    problems = [f"lacks {name}" for name in sorted((modules | BUNDLED) - names)]
    problems += [f"holds the training record ({name})" for name in sorted(names) if RECORD in name][:1]
    limit = (ROOT / DEMO).stat().st_size + 2 * 2**20
    if wheel.stat().st_size > limit:
        problems.append(f"is {wheel.stat().st_size:,} bytes, more than the demo model + 2 MB ({limit:,})")
    return problems


def build(kind: str, source: Path, dest: Path) -> Path:
    """setuptools' own PEP 517 hook, run in `source` as a build frontend would."""
    code = f"from setuptools import build_meta; print(build_meta.build_{kind}({str(dest)!r}))"
    done = subprocess.run([sys.executable, "-c", code], cwd=source, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return dest / done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[list[str], Path]:
    """(the sdist's file names, the wheel built from that sdist)."""
    try:
        too_old = int(version("setuptools").split(".")[0]) < 77
    except PackageNotFoundError:
        too_old = True
    if too_old:
        pytest.skip("building needs setuptools>=77 (pyproject.toml's build requirement); .ci/run builds it isolated")
    tmp = tmp_path_factory.mktemp("packaging")
    checkout = tmp / "checkout"
    checkout.mkdir()
    for name in SOURCES:  # the record's state files are big and not its point: its logs and plots are here
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, checkout / name, ignore=lambda folder, names: [
                n for n in names if n == "__pycache__" or (RECORD in folder and n.endswith(".safetensors"))])
        else:
            shutil.copy2(src, checkout / name)
    assert any((checkout / "assets/models" / RECORD).rglob("*.png")), "the copy should hold the record to leave out"
    sdist = build("sdist", checkout, tmp / "dist")
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
        tar.extractall(tmp / "unpacked", filter="data")
    return names, build("wheel", tmp / "unpacked" / names[0].split("/")[0], tmp / "dist")


def test_the_sdist_carries_the_demo_model_theme_and_licences_but_not_the_training_record(built):
    names, _ = built
    top = names[0].split("/")[0]
    for need in (DEMO, "assets/theme.json", "assets/models/LICENSE-Apache-2.0.txt", "LICENSE", "model/io/__init__.py"):
        assert f"{top}/{need}" in names
    assert not [n for n in names if RECORD in n]


def test_the_wheel_carries_every_module_and_the_bundled_files_and_nothing_else_big(built):
    _, wheel = built
    assert wheel_problems(wheel) == []
    licences = [n for n in zipfile.ZipFile(wheel).namelist() if ".dist-info/licenses/" in n]
    assert {Path(n).name for n in licences} == {"LICENSE", "LICENSE-Apache-2.0.txt"}


def test_wheel_problems_names_what_is_missing_and_what_is_too_much(tmp_path):
    wheel = tmp_path / "bad.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("explorer/bundled/theme.json", "{}")
        z.writestr(f"explorer/bundled/models/{RECORD}/README.md", "")
        z.writestr("padding.bin", b"\0" * ((ROOT / DEMO).stat().st_size + 3 * 2**20))
    problems = wheel_problems(wheel)
    assert "lacks explorer/bundled/models/emoji64.safetensors" in problems
    assert "lacks explorer/cli.py" in problems and "lacks explorer/bundled/theme.json" not in problems
    assert any("training record" in p for p in problems) and any("demo model + 2 MB" in p for p in problems)


def test_sgx_version_prints_the_installed_package_version():
    from explorer.cli import main

    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"sgx, version {version('stylegan-explorer')}"


if __name__ == "__main__":
    found = wheel_problems(Path(sys.argv[1]))
    sys.exit("\n".join(f"{sys.argv[1]}: {p}" for p in found) or None)
