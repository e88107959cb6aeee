"""`python -m munihub …`: the same command line as the `munihub` script."""
import sys

from munihub.cli import main

if __name__ == "__main__":  # (imported, as the layer probes import every module, it runs nothing)
    sys.exit(main())
