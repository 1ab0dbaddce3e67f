"""Channels of the AsyncAPI document beyond the log's own event types: the integrators' feed,
whose public models live in ``contracts.public`` and register here when imported (``shared``
knows no event type of any context)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel


@dataclass(frozen=True)
class Channel:
    title: str  # the channel's name in the document, e.g. public.casework.CaseOpened
    address: str  # its subject pattern
    schema: type[BaseModel]  # its message: envelope and data
    description: str


class Channels:
    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}

    def register(self, channel: Channel) -> None:
        existing = self._channels.get(channel.title)
        if existing is not None and existing != channel:
            raise ValueError(f"channel {channel.title} registered twice")
        self._channels[channel.title] = channel

    def all(self) -> list[Channel]:
        return sorted(self._channels.values(), key=lambda c: c.title)


channels = Channels()
