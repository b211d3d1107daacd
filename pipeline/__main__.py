"""`python -m pipeline …`: the same as the `digest` console script."""

from pipeline.cli import main

main(prog_name="digest")
