"""The emoji-faces demo dataset: face-like Noto Color Emoji glyphs, rebuilt from two Debian packages.

Why: a small, free, reproducible dataset that trains in hours on a CPU. The font (fonts-noto-color-emoji,
OFL-1.1 / Apache-2.0) gives the pictures; emoji-test.txt (unicode-data) gives each emoji's group and
subgroup, which is how faces are chosen:
- Smileys & Emotion: every ``face-*`` subgroup plus ``cat-face`` and ``monkey-face``, minus the non-faces;
- People & Body: ``person``, ``person-role`` and ``person-fantasy`` with all skin tones, minus the full-body
  figures (the face is tiny in them).
Every glyph is cropped to its opaque box and scaled so its longest side is 58/64 of the resolution, centred
on a transparent square; the dataset tool composites it on the background (white by default). The glyphs
are bitmaps about 120 px across, so resolutions above 128 are upscaled and soft.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, features

from .dataset import DatasetError

FONT_PATH = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
EMOJI_TEST_PATH = Path("/usr/share/unicode/emoji/emoji-test.txt")
FONT_SIZE = 109  # the one size this bitmap (CBDT) font loads at; glyphs come out 136 x 128
FILL = 58 / 64  # longest glyph side / image side

FACE_SUBGROUPS = ("cat-face", "monkey-face")
PERSON_SUBGROUPS = ("person", "person-role", "person-fantasy")
EXCLUDED = frozenset({
    # Smileys that are not faces, or barely visible ones.
    "pile of poo", "skull and crossbones", "alien monster", "face in clouds", "dotted line face",
    # Full-body figures.
    "pregnant woman", "pregnant man", "pregnant person",
    "superhero", "man superhero", "woman superhero", "supervillain", "man supervillain", "woman supervillain",
    "fairy", "man fairy", "woman fairy", "merperson", "merman", "mermaid",
    "genie", "man genie", "woman genie", "troll",
})


@dataclass(frozen=True)
class Emoji:
    text: str
    name: str
    subgroup: str


def is_face(subgroup: str, name: str) -> bool:
    """`name` without its skin-tone qualifier (``man superhero: dark skin tone``) decides exclusion."""
    chosen = subgroup.startswith("face-") or subgroup in FACE_SUBGROUPS or subgroup in PERSON_SUBGROUPS
    return chosen and name.split(":")[0] not in EXCLUDED


def read_emoji_test(path: Path = EMOJI_TEST_PATH) -> list[Emoji]:
    """Every fully-qualified emoji of emoji-test.txt, in file order, with its subgroup."""
    emoji, subgroup = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif "; fully-qualified" in line:
            codes, comment = line.split(";")[0].split(), line.split("#", 1)[1].split()
            name = " ".join(comment[2:])  # comment = emoji, version (E1.0), name
            emoji.append(Emoji("".join(chr(int(c, 16)) for c in codes), name, subgroup))
    return emoji


def face_emoji(path: Path = EMOJI_TEST_PATH) -> list[Emoji]:
    return [e for e in read_emoji_test(path) if is_face(e.subgroup, e.name)]


def check_installed(font_path: Path, emoji_test_path: Path) -> None:
    """One-line errors naming what to install; nothing is installed from here."""
    if not font_path.is_file():
        raise DatasetError(f"emoji font not found: {font_path} (install it: apt-get install fonts-noto-color-emoji)")
    if not emoji_test_path.is_file():
        raise DatasetError(f"emoji list not found: {emoji_test_path} (install it: apt-get install unicode-data)")
    if not features.check("raqm"):
        raise DatasetError("Pillow lacks raqm text layout, needed to join emoji sequences "
                           "(install it: apt-get install libraqm0)")


class EmojiSource:
    """The face emoji as a dataset source: open(name) renders one glyph, RGBA, resolution x resolution."""

    labels = None

    def __init__(self, resolution: int, font_path: Path | None = None, emoji_test_path: Path | None = None):
        font_path, emoji_test_path = font_path or FONT_PATH, emoji_test_path or EMOJI_TEST_PATH
        check_installed(font_path, emoji_test_path)
        self.resolution = resolution
        self.font = ImageFont.truetype(str(font_path), FONT_SIZE, layout_engine=ImageFont.Layout.RAQM)
        self.glyph_width = self.font.getlength("\U0001F600")
        self.emoji = {e.name: e for e in face_emoji(emoji_test_path)}
        self.names = list(self.emoji)

    def open(self, name: str) -> Image.Image:
        text = self.emoji[name].text
        if self.font.getlength(text) > 1.5 * self.glyph_width:
            raise ValueError(f"{name} does not render as one glyph in this font")
        left, top, right, bottom = self.font.getbbox(text)
        glyph = Image.new("RGBA", (right - left, bottom - top))
        ImageDraw.Draw(glyph).text((-left, -top), text, font=self.font, embedded_color=True)
        box = glyph.getchannel("A").getbbox()
        if box is None:
            raise ValueError(f"{name} renders empty in this font")
        glyph = glyph.crop(box)
        scale = max(1, round(self.resolution * FILL)) / max(glyph.size)
        glyph = glyph.resize((max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale))),
                             Image.Resampling.LANCZOS)
        image = Image.new("RGBA", (self.resolution, self.resolution))
        image.paste(glyph, ((self.resolution - glyph.width) // 2, (self.resolution - glyph.height) // 2))
        return image
