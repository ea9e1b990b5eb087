"""`python -m assistant ...` runs the same command line as `assistant ...`."""

from assistant.cli import main

main()
