"""Helpers shared by the SDK tests (imported by name: the folder is on sys.path)."""

from __future__ import annotations


def in_chain(error: BaseException, kind: type[BaseException]) -> BaseException:
    """``error`` or the exception of type ``kind`` it was raised from.

    An exception raised by the transport reaches the app as itself (openai 3.x) or as the
    ``__cause__`` of the SDK's ``APIConnectionError`` (anthropic, openai 1.x/2.x): tests that
    run against the oldest and the newest SDKs accept both.
    """
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, kind):
            return current
        current = current.__cause__
    raise AssertionError(f"no {kind.__name__} in the cause chain of {error!r}")
