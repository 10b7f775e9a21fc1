"""``python -m gui TRACE...``: open the racelane viewer."""

from __future__ import annotations

import sys

from .app import main

sys.exit(main())
