"""`python -m explorer [NETWORK]`: the same as `sgx explore`."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see explorer/cli.py

from explorer.cli import explore  # noqa: E402

explore(prog_name="python -m explorer")
