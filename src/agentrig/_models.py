"""pydantic views of a Recording, imported only when asked (pydantic is slow to import)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["EntryModel", "RecordingModel", "SpanEventModel", "SpanRecordModel"]


class SpanEventModel(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    t: float | None
    attributes: dict[str, Any]
    wall: float


class SpanRecordModel(BaseModel):
    model_config = ConfigDict(frozen=True)
    span_id: int
    parent_id: int | None
    name: str
    seq: int
    start: float | None
    end: float | None
    end_seq: int | None
    attributes: dict[str, Any]
    events: list[SpanEventModel]
    status: Literal["unset", "ok", "error"]
    status_message: str | None
    error: dict[str, str] | None
    wall_start: float
    wall_end: float | None
    task: int | None = None


class EntryModel(BaseModel):
    model_config = ConfigDict(frozen=True)
    seq: int
    t: float | None
    kind: str
    span_id: int | None
    data: dict[str, Any]
    wall: float
    task: int | None = None


class RecordingModel(BaseModel):
    """A Recording as a validated, immutable pydantic model."""

    model_config = ConfigDict(frozen=True)
    name: str
    spans: list[SpanRecordModel]
    entries: list[EntryModel]
