"""The explorer's UI state without a window: paging, controls, pins, undo, specs as JSON."""

import numpy as np
import pytest

from explorer.captions import spec_caption
from explorer.model_info import Band, DirectionSet, ModelInfo
from explorer.state import Explorer, Pin
from model.spec import MAX_SEED, Edit, LatentSpec, Mix, W

INFO = ModelInfo("tiny", "ab" * 32, 16, 3, 6, 0, "cpu", (Band("coarse", 0, 2, "4²–8²"), Band("fine", 3, 5, "16²")),
                 ("4²", "8²", "8²", "16²", "16²", "16²"))


def make(**kw) -> Explorer:
    s = Explorer(INFO, **kw)
    s.set_grid(4, 3)
    return s


def test_defaults_follow_the_model():
    s = make()
    assert s.controls.class_idx is None and s.controls.mix_first == 0 and s.controls.mix_last == 2
    cond = Explorer(ModelInfo(**{**INFO.__dict__, "c_dim": 5}))
    assert cond.controls.class_idx == 0 and cond.spec().class_idx == 0


def test_arrows_move_the_selection_and_the_page_follows_by_rows():
    s = make()
    assert s.page_seeds() == list(range(12))
    s.move(11)
    assert s.seed == 11 and s.page_start == 0
    s.move(1)  # off the last row: the page scrolls one row
    assert s.seed == 12 and s.page_start == 4
    s.move(-12)
    assert s.seed == 0 and s.page_start == 0
    s.move(-1)
    assert s.seed == 0 and s.page_start == 0


def test_pages_wheel_and_the_last_seed():
    s = make()
    s.page(1)
    assert (s.page_start, s.seed) == (12, 12)
    s.page(-5)
    assert (s.page_start, s.seed) == (0, 0)
    s.scroll(2)
    assert s.page_start == 8 and s.seed == 8  # the selection stays on the page
    s.go_to(MAX_SEED + 10)
    assert s.seed == MAX_SEED and s.page_seeds()[-1] == MAX_SEED and len(s.page_seeds()) == 12
    s.page(1)
    assert s.seed == MAX_SEED


def test_go_to_keeps_a_visible_seed_in_place_and_jumps_otherwise():
    s = make()
    s.go_to(7)
    assert s.page_start == 0 and s.seed == 7
    s.go_to(1000)
    assert s.page_start == 1000
    seed = s.random_seed()
    assert s.seed == seed and s.page_start <= seed < s.page_start + s.page_size


def test_controls_clamp_and_slider_drags_are_one_undo_step():
    s = make()
    for v in (0.9, 0.8, 0.7123):
        s.set_controls("psi", psi=v)
    assert s.controls.psi == 0.71
    s.end_drag()
    s.set_controls("psi", psi=5)
    assert s.controls.psi == 2.0
    s.set_controls("cutoff", cutoff=6)  # past the last index = no cutoff
    assert s.controls.cutoff is None
    s.set_controls(None, mix_first=5, mix_last=1)
    assert (s.controls.mix_first, s.controls.mix_last) == (1, 5)
    assert not s.set_controls(None, mix_first=1)  # no change, no undo step
    assert s.undo() and (s.controls.mix_first, s.controls.mix_last) == (0, 2)
    assert s.undo() and s.controls.psi == 0.71
    assert s.undo() and s.controls.psi == 1.0
    assert not s.undo()


def test_pins_add_rename_move_recall_unpin_and_undo():
    s = make()
    s.set_controls("psi", psi=0.5)
    a = s.pin()
    assert s.pin() is a and len(s.pins) == 1  # the same image twice is one pin
    s.go_to(3)
    s.set_controls(None, mix_seed=9, mix_first=3, mix_last=5)
    b = s.pin()
    assert b.spec == LatentSpec(3, 0.5, None, None, "const", Mix(9, 3, 5))
    s.go_to(4)
    s.pin()
    s.rename_pin(0, "  my   favourite ")
    assert s.pins[0].name == "my favourite"
    s.move_pin(0, 2)
    assert [p.spec.seed for p in s.pins] == [3, 4, 0]
    s.set_controls("psi", psi=1.5)
    s.recall(0)
    assert s.seed == 3 and s.controls.psi == 0.5 and s.controls.mix_seed == 9 and s.current_pin_index() == 0
    s.unpin(0)
    assert [p.spec.seed for p in s.pins] == [4, 0]
    assert s.undo() and [p.spec.seed for p in s.pins] == [3, 4, 0]
    assert s.undo() and s.seed == 4 and s.controls.psi == 1.5  # the recall
    assert s.undo() and s.controls.psi == 0.5
    assert s.undo() and [p.spec.seed for p in s.pins] == [0, 3, 4] and s.pins[0].name == "my favourite"


def test_recipe_json_round_trip_and_validation():
    r = LatentSpec(7, -0.25, 3, 2, "random", Mix(11, 0, 4))
    assert LatentSpec.from_json(r.to_json()) == r
    assert LatentSpec.from_json({"seed": 5}) == LatentSpec(5)
    for bad in ({"seed": -1}, {"seed": "5"}, {"seed": 1, "psi": "x"}, {"seed": 1, "noise_mode": "loud"},
                {"seed": 1, "mix": {"seed": 2, "first": 3, "last": 1}}, {"seed": True}, [], {"seed": MAX_SEED + 1},
                {"seed": 1, "psi": 10**400}, {"seed": 1, "psi": float("nan")}):
        with pytest.raises(ValueError):
            LatentSpec.from_json(bad)


def test_caption_names_seed_psi_class_and_mix_by_resolution():
    caption = spec_caption(LatentSpec(7, 0.7, None, 2, "const", Mix(11, 0, 2)), INFO.index_labels)
    assert caption == "seed 7  ·  ψ 0.70  ·  class 2  ·  mix seed 11 @ w 0–2 (4²–8²)"


def test_undo_restores_the_pin_picked_as_mix_source():
    s = make()
    s.go_to(6)
    pin = s.pin()
    s.go_to(1)
    s.set_controls(None, mix_seed=6, mix_pin=pin)
    s.set_controls(None, mix_seed=None)  # mixing off: the source pin is forgotten
    assert s.controls.mix_pin is None
    assert s.undo() and s.controls.mix_seed == 6 and s.controls.mix_pin == pin
    s.set_controls(None, mix_seed=6, mix_pin=None)  # the same seed typed in: a seed source, one undo step
    assert s.controls.mix_pin is None and s.undo() and s.controls.mix_pin == pin
    s.rename_pin(0, "six")
    assert s.controls.mix_pin == s.pins[0] and s.controls.mix_pin.name == "six"
    assert s.undo() and s.controls.mix_pin == pin and s.pins[0] == pin


def test_small_models_scale_crisply_and_n_toggles_it():
    assert make().nearest  # 16²
    big = Explorer(ModelInfo(**{**INFO.__dict__, "resolution": 256}))
    assert not big.nearest
    assert big.toggle_nearest() and big.nearest
    assert not big.toggle_nearest() and not big.nearest


def test_up_down_and_the_wheel_move_by_rows_in_the_grid_and_by_seeds_in_the_large_view():
    s = make()
    s.move_rows(1)
    s.wheel(1)
    assert s.seed == 4 and s.page_start == 4  # a row down, then the page a row down with the selection on it
    s.mode = "large"
    s.move_rows(1)
    s.wheel(-1)
    s.wheel(3)
    assert s.seed == 7


def test_mix_range_ends_stay_in_order_and_a_band_picks_a_source_only_when_mixing_is_off():
    s = make()
    s.set_mix_first(4)
    assert (s.controls.mix_first, s.controls.mix_last) == (4, 4)
    s.set_mix_last(1)
    assert (s.controls.mix_first, s.controls.mix_last) == (1, 1)
    s.go_to(7)
    assert s.mix_band("fine") == 8  # the next seed
    assert s.controls.mix_seed == 8 and (s.controls.mix_first, s.controls.mix_last) == (3, 5)
    assert s.mix_band("coarse") is None and s.controls.mix_seed == 8 and s.controls.mix_last == 2
    s.go_to(MAX_SEED)
    s.set_controls(None, mix_seed=None)
    assert s.mix_band("coarse") == 0  # past the last seed: the first


def test_a_pin_as_mix_source_and_a_stale_pin_index_ignored():
    s = make()
    s.go_to(6)
    pin = s.pin()
    s.go_to(1)
    s.mix_with_pin(0)
    assert s.controls.mix_seed == 6 and s.controls.mix_pin == pin
    s.mix_with_pin(1)
    assert s.controls.mix_pin == pin and len(s.undo_stack) == 2  # the pin, the source: nothing for index 1


def test_a_w_pin_is_a_mix_source_by_its_whole_spec():
    """A projected image has no seed: as the source it lends its own latent, and recalling a pin made that way
    names the source again."""
    s = make()
    w = W.of(np.arange(6 * 4, dtype=np.float32).reshape(6, 4))
    s.pins.append(Pin("photo", LatentSpec(w=w, psi=0.8)))
    s.go_to(3)
    s.mix_with_pin(0)
    assert s.spec().mix == Mix(s.pins[0].spec, 0, 2) and s.controls.mix_seed is None
    mixed = s.pin()
    s.set_controls(None, mix_seed=None, mix_pin=None)  # mixing off
    assert s.spec().mix is None
    s.recall(len(s.pins) - 1)
    assert s.spec() == mixed.spec and s.controls.mix_pin == s.pins[0]


SEFA = DirectionSet("sefa-0123456789ab", "SeFa", 20, "w")
GANSPACE = DirectionSet("ganspace-0123456789ab", "GANSpace", 5, "σ")


def test_edit_sliders_make_edits_in_the_spec_and_zero_is_no_edit():
    s = make()
    s.add_direction_sets([SEFA, GANSPACE, SEFA])  # a set already there is not repeated
    assert s.direction_sets == [SEFA, GANSPACE] and s.shown_directions() == SEFA
    assert s.controls.edit_first == 0 and s.controls.edit_last == 5  # every w index by default
    s.set_edit_strength(3, 1.26)
    s.set_edit_strength(3, 2.5)  # the same drag: one undo step
    s.end_drag()
    s.show_set(1)
    s.set_edit_strength(0, -9)  # clamped to the slider's range
    assert s.spec() == LatentSpec(0, edits=(Edit("sefa-0123456789ab:3", 2.5, 0, 5),
                                            Edit("ganspace-0123456789ab:0", -5.0, 0, 5)))
    assert s.edit_strength(0) == -5.0 and s.edit_strength(3) == 0.0  # the shown set's component 3 is untouched
    s.edit_band("fine")
    assert {(e.first, e.last) for e in s.spec().edits} == {(3, 5)}
    s.set_edit_strength(0, 0.04)  # rounds to 0: the edit goes, and the spec is the plain seed's again
    s.show_set(0)
    s.set_edit_strength(3, 0)
    assert s.spec() == LatentSpec(0) and not s.reset_edits()
    for _ in range(3):  # the two zeroings and the range preset
        assert s.undo()
    assert s.spec().edits == (Edit("sefa-0123456789ab:3", 2.5, 0, 5), Edit("ganspace-0123456789ab:0", -5.0, 0, 5))
    assert s.undo() and s.undo() and s.spec() == LatentSpec(0)


def test_directions_pages_stay_within_the_shown_set():
    s = make()
    s.add_direction_sets([SEFA])
    s.page_directions(1)
    s.set_edit_strength(9, 1.0)
    s.page_directions(5)
    assert s.edit_page == 2  # 20 components: pages 0..2
    s.add_direction_sets([GANSPACE], show=True)
    assert s.shown_set == 1 and s.edit_page == 0
    s.set_edit_strength(7, 1.0)  # GANSpace has 5 components: ignored
    assert [e.direction for e in s.spec().edits] == ["sefa-0123456789ab:9"]


def test_recalling_a_pin_restores_its_edits_and_range():
    s = make()
    s.add_direction_sets([SEFA])
    s.edit_band("coarse")
    s.set_edit_strength(1, 1.5)
    s.pin()
    s.reset_edits()
    s.edit_band("all")
    s.recall(0)
    assert s.spec() == s.pins[0].spec and s.controls.edit_first == 0 and s.controls.edit_last == 2
    assert s.current_pin_index() == 0
