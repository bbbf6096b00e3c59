import sys

from kmc_tui.cli import main

sys.exit(main())
