"""`python -m publisher.cli`: the command line, as the `publisher` script runs it."""

from publisher.cli import main

main()
