"""``python -m rds_iam_lab``: the ``rds-iam-lab`` command."""

import sys

from rds_iam_lab.cli import main

sys.exit(main())
