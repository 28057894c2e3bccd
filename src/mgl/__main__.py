"""``python -m mgl``: the same as the ``mgl`` command."""

from mgl.cli import main

main()
