"""`python -m checkpoint_signer`: the same as `anfang-checkpoint`."""

import sys

from .cli import main

sys.exit(main())
