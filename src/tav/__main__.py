"""``python -m tav`` is the ``tav`` command."""

from tav.cli.app import main

main()
