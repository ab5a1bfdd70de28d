import sys

from warren_cli.main import main

sys.exit(main())
