"""``python -m chantal_cli``."""

import sys

from chantal_cli.main import main

sys.exit(main())
