"""`python -m explorer [NETWORK]`: the same as `sgx explore`."""

from explorer.cli import explore

explore(prog_name="python -m explorer")
