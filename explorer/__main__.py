"""``python -m explorer`` and the ``bert-explorer`` console script."""

import sys

from explorer.app import main

if __name__ == "__main__":
    sys.exit(main())
