"""The one error type the model package raises for bad files and bad arguments.

Messages are one line with a stable prefix (``unsafe pickle:``, ``unsupported network:``,
``corrupt pickle:``, ``incompatible weights:``, ...), so the CLI can print them as they are.
"""


class ModelError(ValueError):
    """A user-facing, one-line error about a model file or a model argument."""
