"""``python -m tinyvision ...`` is the ``tinyvision`` command."""
import sys

from .cli import main

sys.exit(main())
