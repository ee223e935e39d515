"""``python -m chantal_cli``."""

from chantal_cli.main import run

run()
