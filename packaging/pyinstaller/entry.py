"""The bundle's entry point: the same `sensetwin` command line as the installed script."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
