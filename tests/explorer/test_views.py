"""Views without the app: large-view scaling, name elision, and the key tables of README, docs and the help."""

import os

os.environ.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

from explorer.views.draw import elide_middle, font, wrap  # noqa: E402
from explorer.views.help import KEYS, draw_help  # noqa: E402
from explorer.views.large import LargeView  # noqa: E402
from explorer.views.layout import MIN_SIZE  # noqa: E402
from model.spec import LatentSpec  # noqa: E402

ROOT = Path(__file__).parents[2]


@pytest.fixture(autouse=True)
def fonts():
    pygame.font.init()
    font.cache_clear()
    yield
    font.cache_clear()


def test_the_large_view_upscales_crisply_or_smoothly():
    checker = np.zeros((4, 4, 3), np.uint8)
    checker[::2, ::2] = checker[1::2, 1::2] = 255
    view = LargeView()
    view.set_image(checker, LatentSpec(0), 1)
    area = pygame.Rect(0, 0, 400, 400)
    colours = {}
    for nearest in (True, False, True):
        surface = pygame.Surface(area.size)
        view.draw(surface, area, "seed 0", False, nearest)
        pixels = pygame.surfarray.array3d(surface.subsurface(view.image_rect(area)))
        colours[nearest] = {tuple(c) for c in pixels.reshape(-1, 3)}
    assert colours[True] == {(0, 0, 0), (255, 255, 255)}  # only the image's own pixels, after a switch back too
    assert len(colours[False]) > 2  # smooth: blended edges


def test_elide_middle_keeps_both_ends_within_the_width():
    f = font(14)
    name = "network-snapshot-000200-" + "x" * 80 + "-final"
    shown = elide_middle(name, 170, f)
    assert f.size(shown)[0] <= 170 and shown.startswith("network-") and shown.endswith("-final") and "…" in shown
    assert elide_middle("tiny", 170, f) == "tiny"


def key_table(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index("| key | action |") + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        key, action = (cell.strip() for cell in line.strip("|").split("|"))
        rows.append((key, action))
    return rows


def test_readme_docs_and_help_describe_the_same_wheel_and_n_key():
    readme, docs = key_table(ROOT / "README.md"), key_table(ROOT / "docs" / "explorer.md")
    assert readme == docs
    for table in (readme, KEYS):
        wheel = [action for key, action in table if "wheel" in key]
        assert len(wheel) == 1 and "row" in wheel[0] and "page" not in wheel[0]  # what the wheel does: a row
        assert any(key == "N" and "nearest" in action for key, action in table)


def test_the_help_shows_every_description_whole_in_the_smallest_window():
    surface = pygame.Surface(MIN_SIZE)
    box = draw_help(surface)
    assert surface.get_rect().contains(box)
    width = box.width - 230 - 56  # the description column
    for _, action in KEYS:
        lines = wrap(action, width, font(15))
        assert " ".join(lines) == action and all(font(15).size(line)[0] <= width for line in lines)
    assert max(len(wrap(action, width, font(15))) for _, action in KEYS) > 1  # this window does wrap some
