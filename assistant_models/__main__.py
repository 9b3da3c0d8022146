"""``python -m assistant_models``: the ``assistant-models`` command."""

import sys

from assistant_models.cli import main

sys.exit(main())
