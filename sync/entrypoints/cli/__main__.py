"""`python -m sync.entrypoints.cli`: the same as the `ikdoemee-sync` console script."""

from sync.entrypoints.cli import main

main()
