"""``python -m testflow`` is the ``testflow`` command."""

from testflow.cli import main

main()
