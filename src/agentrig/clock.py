"""The virtual-time event loop (placeholder while it is written)."""

from __future__ import annotations

import asyncio


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """Placeholder."""
