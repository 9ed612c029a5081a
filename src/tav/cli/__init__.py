"""The ``tav`` command line (Typer)."""
