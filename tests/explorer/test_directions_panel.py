"""The directions panel, headless: sliders render edited images, GANSpace runs between renders and can be cancelled,
files load, and a pinned edit renders the same pixels after a restart."""

import json

import numpy as np
import pygame

from explorer.actions import LoadDirections, Recall, ShowDirections
from explorer.handlers import dispatch
from explorer.pins import pins_path
from model.directions import edit_vectors, ganspace, save_directions, sefa
from model.io import load
from model.render import render_seed, render_spec
from model.spec import Edit, LatentSpec

from . import test_app
from .test_app import click, has_message, press, shows, slide

nets, folder, make_app = test_app.nets, test_app.folder, test_app.make_app  # the fixtures


def opened(make_app, net):
    """The app with `net` open and its SeFa directions in the panel."""
    app = make_app(net)
    assert app.pump_until(lambda: app.state.direction_sets)
    return app


def large_view(app):
    press(pygame.K_RETURN)
    assert app.pump_until(shows(app, app.state.spec()))


def test_a_slider_renders_the_edited_image_and_zero_is_the_unedited_one(nets, make_app):
    app = opened(make_app, nets[0])
    G = load(nets[0]).G
    found = sefa(G)
    large_view(app)
    plain = app.large.image.copy()
    assert app.state.direction_sets[0].prefix == found.id(0).rsplit(":", 1)[0]  # SeFa, found on open
    slide(app.directions.sliders[1], 2.0)
    edited = LatentSpec(0, edits=(Edit(found.id(1), 2.0, 0, 5),))
    assert app.pump_until(shows(app, edited))
    expected = render_spec(G, edited, app.renderer.precision, edit_vectors(found))
    assert np.array_equal(app.large.image, expected) and not np.array_equal(expected, plain)
    assert app.directions.values["strength1"] == "+2.0"
    slide(app.directions.sliders[1], 0.0)
    assert app.pump_until(shows(app, LatentSpec(0)))
    assert np.array_equal(app.large.image, plain)
    zero = LatentSpec(0, edits=(Edit(found.id(1), 0.0, 0, 5),))  # an explicit zero edit: the same pixels too
    assert np.array_equal(render_spec(G, zero, "exact", edit_vectors(found)), render_seed(G, 0))


def test_range_presets_and_pages_reach_the_spec(nets, make_app):
    app = opened(make_app, nets[0])
    click(app.directions.next.rect.center)
    assert app.pump_until(lambda: app.directions.values["name0"] == "c8")
    assert app.state.edit_page == 1
    slide(app.directions.sliders[0], -1.5)
    fine = next(button for button, action in app.directions.bands.items() if action.band == "fine")
    click(fine.rect.center)
    assert app.pump_until(lambda: app.state.controls.edit_first > 0)
    [edit] = app.state.spec().edits
    band = next(b for b in app.state.model.bands if b.name == "fine")
    assert (edit.direction.endswith(":8"), edit.strength, edit.first, edit.last) == (True, -1.5, band.first, band.last)
    click(app.directions.reset.rect.center)
    assert app.pump_until(lambda: app.state.spec().edits == ())


def test_ganspace_runs_between_renders_and_cancel_leaves_nothing(nets, make_app, folder):
    app = opened(make_app, nets[0])
    app.renderer.ganspace_samples, app.renderer.ganspace_batch = 10**9, 10  # would never finish
    large_view(app)
    click(app.directions.ganspace.rect.center)
    assert app.pump_until(lambda: (app.sync.ganspace_progress or 0) > 0)
    slide(app.panel.psi, 0.5)  # served between GANSpace's batches
    assert app.pump_until(shows(app, LatentSpec(0, psi=0.5)))
    assert app.directions.values["ganspace"] == "Cancel"
    click(app.directions.ganspace.rect.center)
    assert app.pump_until(lambda: app.sync.ganspace_progress is None)
    assert [d.name for d in app.state.direction_sets] == ["SeFa"]
    assert not list((folder / "data").glob("directions/*"))


def test_pinned_ganspace_edit_renders_the_same_pixels_after_a_restart(nets, make_app, folder):
    app = opened(make_app, nets[0])
    app.renderer.ganspace_samples, app.renderer.ganspace_batch = 300, 100
    click(app.directions.ganspace.rect.center)
    assert app.pump_until(lambda: len(app.state.direction_sets) == 2)
    assert app.state.shown_directions().name == "GANSpace" and app.directions.values["ganspace"] == "GANSpace"
    slide(app.directions.sliders[0], 1.5)
    app.step()
    dispatch(app, ShowDirections(0))  # and a SeFa edit on top
    app.step()
    slide(app.directions.sliders[2], -2.0)
    app.step()
    large_view(app)
    press(pygame.K_p)
    app.step()
    pinned, image = app.state.spec(), app.large.image.copy()
    doc = json.loads(pins_path(app.state.model.model_id).read_text())
    assert [e["direction"].split("-")[0] for e in doc["pins"][0]["edits"]] == ["ganspace", "sefa"]
    app.renderer.close()

    again = opened(make_app, nets[0])  # a restart: SeFa recomputed, GANSpace from the cache
    assert again.pump_until(lambda: len(again.state.direction_sets) == 2)
    assert again.state.pins[0].spec == pinned
    dispatch(again, Recall(0))
    assert again.pump_until(shows(again, pinned))
    assert np.array_equal(again.large.image, image)


def test_a_directions_file_loads_and_one_for_another_model_is_refused(nets, make_app, folder):
    app = opened(make_app, nets[0])
    G = load(nets[0]).G
    found = ganspace(G, 200, num=4)
    save_directions(folder / "mine.npz", found)
    dispatch(app, LoadDirections(str(folder / "mine.npz")))
    assert app.pump_until(lambda: len(app.state.direction_sets) == 2)
    assert app.state.shown_directions().name == "mine.npz" and app.directions.values["page"] == "0–3 of 4"
    assert (folder / "data" / "directions" / f"{found.model_id}-ganspace-{found.digest}.npz").exists()
    save_directions(folder / "other.npz", sefa(load(nets[1]).G))
    dispatch(app, LoadDirections(str(folder / "other.npz")))
    assert app.pump_until(lambda: has_message(app))
    assert len(app.state.direction_sets) == 2
