"""docs/training_plot.py, the model card's SWD / ADA p chart: round axis labels, and a picture from a run's logs."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "training_plot.py"
spec = importlib.util.spec_from_file_location("training_plot", SCRIPT)
training_plot = importlib.util.module_from_spec(spec)
spec.loader.exec_module(training_plot)


@pytest.mark.parametrize("hi", [0.13, 0.0652, 1.0, 57.0, 221.0, 1234.5])
def test_ticks_are_round_steps_from_zero_that_cover_the_top(hi):
    values = training_plot.ticks(hi, 4)
    step = values[1]
    mantissa = step / 10 ** int(f"{step:e}".split("e")[1])
    assert round(mantissa, 9) in (1, 2, 5)
    assert values[0] == 0 and values[-2] < hi <= values[-1] + 1e-12
    assert 2 <= len(values) - 1 <= 4  # a step is at least hi / 4 and less than 2.5 times that


def test_plot_draws_a_chart_from_the_run_logs(tmp_path):
    swd = [{"kimg": k, "results": {"swd16": 90 - k, "swd32": 80 - k, "swd64": 70 - k, "swdavg": 80 - k}}
           for k in (0, 12, 24)]
    stats = [{"Progress/kimg": {"mean": k}, "Progress/augment": {"mean": k / 200}} for k in range(0, 25, 4)]
    (tmp_path / "metric-swd.jsonl").write_text("".join(json.dumps(m) + "\n" for m in swd))
    (tmp_path / "stats.jsonl").write_text("".join(json.dumps(s) + "\n" for s in stats))
    training_plot.plot(tmp_path, tmp_path / "plot.png")
    image = Image.open(tmp_path / "plot.png").convert("RGB")
    colours = {tuple(c) for c in np.asarray(image).reshape(-1, 3)}
    assert training_plot.COLOURS["swdavg"] in colours and training_plot.COLOURS["p"] in colours
