"""`python -m lanner` runs the command line."""

from lanner.cli.app import main

main()
