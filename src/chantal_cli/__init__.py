"""The ``chantal`` command-line interface (argparse), a thin layer over the core's use cases."""
