"""The `lanner` command line: the only package that prints."""
