"""`sgx explore` makes idle OpenMP threads sleep (set before torch loads); other commands keep the default."""

import os
import subprocess
import sys

import pytest

CHECK = "import sys; sys.argv = {argv!r}; import explorer.cli, os; print(os.environ.get('OMP_WAIT_POLICY', 'unset'))"


@pytest.mark.parametrize("argv,expected", [(["sgx", "explore"], "PASSIVE"), (["sgx", "train"], "unset"),
                                           (["sgx", "generate"], "unset")])
def test_explore_sets_a_sleeping_openmp_policy(argv, expected):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", CHECK.format(argv=argv)], capture_output=True, text=True, env=env,
                         check=True)
    assert out.stdout.strip() == expected
