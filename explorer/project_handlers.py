"""The handlers of projection's actions (an image file into the latent space, explorer/projection_job.py),
registered in the one dispatch table of explorer/handlers.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .actions import CancelProjection, ProjectImage, PromptProject
from .handlers import handles, toast
from .views.dialogs import IMAGE_SUFFIXES

if TYPE_CHECKING:
    from .app import App


@handles(PromptProject)
def prompt_project(app: App, a: PromptProject) -> None:
    app.dialogs.pick_file("Project an image (it becomes a pin)", str(Path.cwd()) + os.sep, False, ProjectImage,
                          IMAGE_SUFFIXES)


@handles(ProjectImage)
def project_image(app: App, a: ProjectImage) -> None:
    """Start projecting; a projection already running is replaced by this one."""
    if app.state is None:
        app.dialogs.error("Project an image", "Open a network first: the image is projected into its latent space.")
    else:
        app.sync.project(a.path)


@handles(CancelProjection)
def cancel_projection(app: App, a: CancelProjection) -> None:
    if app.sync.cancel_projection():
        toast(app, "projection cancelled: nothing was pinned")
