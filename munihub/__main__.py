"""`python -m munihub …`: the same command line as the `munihub` script."""
import sys

from munihub.cli import main

sys.exit(main())
