"""`python -m sync.entrypoints.cli`: the same as the `ikdoemee-sync` console script."""

from sync.entrypoints.cli import main

if __name__ == "__main__":  # not when a worker process is started from it
    main()
