"""One module per CLI verb; each function takes the parsed arguments and returns an exit code."""
