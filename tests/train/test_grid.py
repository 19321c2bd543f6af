"""The trainer's sample grid renders the grid seeds' latent specs, as `sgx generate` would."""

import numpy as np
import torch

from model.render import render_spec, synthesize
from model.spec import LatentSpec
from tests.model.conformance import make_g
from train.loop import Grid


def close(a: np.ndarray, b: np.ndarray) -> bool:
    return int(np.abs(a.astype(int) - b).max()) <= 1


class Labelled:
    """What Grid reads of a dataset: its resolution, length and label rows."""

    def __init__(self, labels: np.ndarray, resolution: int = 16):
        self.labels, self.resolution = labels, resolution

    def __len__(self) -> int:
        return len(self.labels)


def test_unconditional_grid_is_the_seeds_specs_rendered():
    g = make_g()
    grid = Grid(Labelled(np.zeros([5, 0], np.float32)), use_labels=False, seed=0)
    fakes = grid.fakes(g, torch.device("cpu"))
    assert fakes.shape == (grid.w * grid.h, 16, 16, 3) and grid.seeds[:3] == [0, 1, 2]
    for i in (0, 7):  # `sgx generate --precision exact` pixels, up to the fast path's rounding
        assert close(fakes[i], render_spec(g, LatentSpec(seed=grid.seeds[i]), "exact"))
    assert not close(fakes[0], fakes[7])


def test_float_vector_labels_condition_each_row():
    g = make_g(c_dim=3)
    labels = np.array([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0]], np.float32)
    grid = Grid(Labelled(labels), use_labels=True, seed=0)
    fakes = grid.fakes(g, torch.device("cpu"))
    for i in (0, grid.w):  # the first cell of the first two rows: one label per row
        z = torch.from_numpy(np.random.RandomState(grid.seeds[i]).randn(1, g.z_dim)).float()
        with torch.no_grad():
            ws = g.mapping(z, torch.from_numpy(grid.labels[i:i + 1]))
        assert close(fakes[i], synthesize(g, ws, "const", "exact")[0])
    assert not np.array_equal(grid.labels[0], grid.labels[grid.w])
