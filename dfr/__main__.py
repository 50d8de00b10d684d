"""`python -m dfr` runs the CLI."""

from dfr.cli import main

main()
