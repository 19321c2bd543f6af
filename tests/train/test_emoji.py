"""The emoji-faces recipe. Rendering tests need Debian's fonts-noto-color-emoji and unicode-data."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import features

from train.cli import dataset_command
from train.dataset import DatasetError, ImageZipDataset
from train.emoji import EMOJI_TEST_PATH, FILL, FONT_PATH, EmojiSource, face_emoji, read_emoji_test

installed = pytest.mark.skipif(
    not (FONT_PATH.is_file() and EMOJI_TEST_PATH.is_file() and features.check("raqm")),
    reason="needs apt-get install fonts-noto-color-emoji unicode-data (and Pillow with raqm)")

SAMPLE = """\
# group: Smileys & Emotion
# subgroup: face-smiling
1F600 ; fully-qualified # \U0001F600 E1.0 grinning face
# subgroup: face-costume
1F4A9 ; fully-qualified # \U0001F4A9 E0.6 pile of poo
# subgroup: heart
2764 FE0F ; fully-qualified # \u2764\uFE0F E0.6 red heart
2764 ; unqualified # \u2764 E0.6 red heart
# group: People & Body
# subgroup: person-role
1F9D1 200D 1F680 ; fully-qualified # \U0001F9D1\u200D\U0001F680 E12.1 astronaut
1F9D1 1F3FF 200D 1F680 ; fully-qualified # \U0001F9D1\U0001F3FF\u200D\U0001F680 E12.1 astronaut: dark skin tone
# subgroup: person-fantasy
1F9B8 1F3FB ; fully-qualified # \U0001F9B8\U0001F3FB E11.0 superhero: light skin tone
1F9DB ; fully-qualified # \U0001F9DB E5.0 vampire
# subgroup: person-sport
1F3C7 ; fully-qualified # \U0001F3C7 E1.0 horse racing
"""


def test_selection_by_subgroup_and_name(tmp_path):
    path = tmp_path / "emoji-test.txt"
    path.write_text(SAMPLE, encoding="utf-8")
    assert len(read_emoji_test(path)) == 8  # the unqualified heart is not an emoji of its own
    chosen = face_emoji(path)
    assert [e.name for e in chosen] == ["grinning face", "astronaut", "astronaut: dark skin tone", "vampire"]
    assert chosen[1].text == "\U0001F9D1\u200D\U0001F680"


def test_missing_files_name_the_package(tmp_path):
    with pytest.raises(DatasetError, match="apt-get install fonts-noto-color-emoji"):
        EmojiSource(64, font_path=tmp_path / "none.ttf", emoji_test_path=tmp_path)
    font = tmp_path / "font.ttf"
    font.write_bytes(b"")
    with pytest.raises(DatasetError, match="apt-get install unicode-data"):
        EmojiSource(64, font_path=font, emoji_test_path=tmp_path / "none.txt")


def test_missing_files_are_a_one_line_cli_error(tmp_path, monkeypatch):
    monkeypatch.setattr("train.emoji.FONT_PATH", tmp_path / "none.ttf")
    result = CliRunner().invoke(dataset_command, ["emoji", str(tmp_path / "out.zip"), "--resolution", "32"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "fonts-noto-color-emoji" in result.output


@installed
def test_real_selection_has_faces_and_skin_tones_but_no_excluded():
    names = {e.name for e in face_emoji()}
    assert {"grinning face", "grinning cat", "see-no-evil monkey", "woman astronaut: dark skin tone",
            "mage: medium skin tone", "person: blond hair"} <= names
    assert not names & {"pile of poo", "alien monster", "red heart", "superhero", "mermaid: light skin tone",
                        "thumbs up", "horse racing"}


@installed
def test_emoji_dataset_subset(tmp_path):
    dest = tmp_path / "emoji.zip"
    result = CliRunner().invoke(dataset_command, ["emoji", str(dest), "--resolution", "32", "--max-images", "12"])
    assert result.exit_code == 0, result.output
    ds = ImageZipDataset(dest)
    assert (len(ds), ds.resolution, ds.channels, ds.label_dim) == (12, 32, 3, 0)
    side = round(32 * FILL)
    for i in range(len(ds)):
        image = ds[i][0].transpose(1, 2, 0).astype(int)
        assert (image[0] == 255).all() and (image[-1] == 255).all()  # white border rows
        ink = np.argwhere((255 - image).max(axis=2) > 8)
        extent = ink.max(axis=0) - ink.min(axis=0) + 1
        assert abs(extent.max() - side) <= 1  # longest side scaled to 58/64 of the image
    assert len({ds[i][0].tobytes() for i in range(len(ds))}) == len(ds)  # every face differs


@installed
def test_zwj_people_render_as_one_glyph_on_the_background(tmp_path):
    source = EmojiSource(16)
    image = source.open("woman astronaut: dark skin tone")
    assert image.size == (16, 16) and image.mode == "RGBA"
    alpha = np.asarray(image.getchannel("A"))
    assert alpha.max() == 255 and alpha[0, 0] == 0
    dest = tmp_path / "black.zip"
    result = CliRunner().invoke(dataset_command, ["emoji", str(dest), "--resolution", "16", "--max-images", "2",
                                                  "--background", "black"])
    assert result.exit_code == 0, result.output
    assert (ImageZipDataset(dest)[0][0][:, 0, 0] == 0).all()
