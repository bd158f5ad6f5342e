"""The seed's import path: ``baijiayun.client.api.PlayBack`` and its async twin."""

from .playback import AsyncPlayBack, PlayBack

__all__ = ["AsyncPlayBack", "PlayBack"]
