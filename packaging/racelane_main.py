"""Entry point of the racelane bundle: the same ``racelane`` command the wheel installs."""

import sys

from tracer.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
