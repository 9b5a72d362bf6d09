"""Provider SDKs, unchanged, under test: the interception seam and what answers through it.

``intercept`` is the seam (patched transports, the Responder protocol); the modules beside it
answer through it. Nothing here imports an SDK or an HTTP library at import time.
"""

from __future__ import annotations

from agentrig._errors import BudgetExceeded

__all__ = ["budget_exceeded"]


def budget_exceeded(error: BaseException) -> BudgetExceeded | None:
    """The :class:`~agentrig.BudgetExceeded` behind an SDK error, if that is what it was.

    Usage::

        try:
            await client.chat.completions.create(...)
        except openai.APIConnectionError as exc:
            if (refused := budget_exceeded(exc)) is not None:
                ...   # the stage budget could not afford the call
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, BudgetExceeded):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
