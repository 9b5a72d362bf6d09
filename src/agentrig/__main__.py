"""``python -m agentrig``: the same command line as the ``agentrig`` console script."""

from __future__ import annotations

from agentrig.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
