"""``python -m peertrial ...``: the same command line as ``peertrial ...``."""

import sys

from peertrial.cli import main

if __name__ == "__main__":  # importing this module (e.g. pytest --doctest-modules) runs nothing
    sys.exit(main())
