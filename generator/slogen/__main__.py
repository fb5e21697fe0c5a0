"""`python -m slogen` runs the command line."""

from slogen.cli import main

main()
