"""Typed actions without a window: the dispatch table covers every action, keys map to actions, and actions that
need a model wait for one."""

import os

os.environ.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")

from types import SimpleNamespace  # noqa: E402

import pygame  # noqa: E402
import pytest  # noqa: E402

from explorer import actions  # noqa: E402
from explorer.actions import Action, Back, Help, Move, MoveRows, PinImage, PromptRename, ShowLarge, Undo, Unpin  # noqa: E402
from explorer.handlers import HANDLERS, dispatch, handles  # noqa: E402
from explorer.input import KEYS, key_action  # noqa: E402


def action_types() -> set[type[Action]]:
    found, todo = set(), [Action]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub)
            todo.append(sub)
    return found


def test_every_action_type_has_exactly_one_handler():
    defined = {v for v in vars(actions).values() if isinstance(v, type) and issubclass(v, Action) and v is not Action}
    assert len(defined) > 30 and action_types() == defined == set(HANDLERS)
    with pytest.raises(TypeError, match="second handler for Help"):
        handles(Help)(lambda app, a: None)
    assert HANDLERS[Help].__name__ == "show_help"  # the failed registration left the first one in place


def test_keys_become_typed_actions():
    assert key_action(pygame.K_RIGHT, 0) == Move(1) and key_action(pygame.K_UP, 0) == MoveRows(-1)
    assert key_action(pygame.K_p, 0) == PinImage() and key_action(pygame.K_ESCAPE, 0) == Back()
    assert key_action(pygame.K_RETURN, 0) == key_action(pygame.K_KP_ENTER, 0) == ShowLarge()
    assert key_action(pygame.K_BACKSPACE, 0) == key_action(pygame.K_DELETE, 0) == Unpin()
    assert key_action(pygame.K_F2, 0) == PromptRename(None)  # the current image's pin
    assert key_action(pygame.K_z, pygame.KMOD_LCTRL) == key_action(pygame.K_z, pygame.KMOD_LMETA) == Undo()
    assert key_action(pygame.K_z, 0) is None and key_action(pygame.K_a, 0) is None
    assert all(isinstance(a, Action) for a in KEYS.values())


def test_without_a_model_only_app_actions_run():
    app = SimpleNamespace(state=None, dialogs=SimpleNamespace(help_open=False))
    dispatch(app, PinImage())  # would fail on the missing state if it ran
    dispatch(app, None)
    assert not app.dialogs.help_open
    dispatch(app, Help())
    assert app.dialogs.help_open
