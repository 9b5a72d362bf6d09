"""Make the example app importable as ``support_triage`` (``examples/`` on ``sys.path``).

In a real project the app would be an installed package; here it sits next to its tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLES = str(Path(__file__).parent)
if EXAMPLES not in sys.path:
    sys.path.insert(0, EXAMPLES)
