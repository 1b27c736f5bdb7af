import sys

from semrouter.cli import main

sys.exit(main())
