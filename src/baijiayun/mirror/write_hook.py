"""The write hook: a PlayBack whose writes also bring the mirror up to date at once."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..client.api import PlayBack
    from ..models import PublishResult
    from .sync import Mirror

__all__ = ["MirroredPlayBack"]

log = logging.getLogger("baijiayun.mirror")


class MirroredPlayBack:
    """``PlayBack`` with the mirror kept current by every write sent through it.

    After a write succeeds, the playback it touched is re-read (one getCropList call per
    session the mirror holds) and applied with :meth:`Mirror.refresh`. A failed write changes
    nothing. A failed refresh is logged and never raised: the write did happen, and the next
    sweep settles the mirror. Reads and every other attribute are the wrapped ``PlayBack``'s,
    so this object goes wherever a ``PlayBack`` does (``baijiayun.bulk`` included).
    """

    def __init__(self, playback: PlayBack, mirror: Mirror) -> None:
        self.playback = playback
        self.mirror = mirror

    def __getattr__(self, name: str) -> Any:
        return getattr(self.playback, name)

    def __repr__(self) -> str:
        return f"MirroredPlayBack({self.playback!r})"

    def _refresh(self, room_id: int, session_id: int | None) -> None:
        try:
            self.mirror.refresh(room_id, session_id)
        except Exception:
            log.warning(
                "mirror: could not refresh room %s after a write; the next sweep will",
                room_id,
                exc_info=True,
            )

    def update(self, room_id: int, name: str, session_id: int | None = None) -> None:
        """更新回放名称 (rename a playback), then refresh it in the mirror."""
        self.playback.update(room_id, name, session_id)
        self._refresh(room_id, session_id)

    def set_publish_status(
        self, room_id: int, status: int, session_id: int | None = None
    ) -> PublishResult:
        """设置回放发布状态 (publish or block a playback), then refresh it in the mirror."""
        result = self.playback.set_publish_status(room_id, status, session_id)
        self._refresh(room_id, session_id)
        return result

    def set_main_version(self, room_id: int, version: int, session_id: int | None = None) -> None:
        """设置回放主版本 (choose the main version), then refresh it in the mirror."""
        self.playback.set_main_version(room_id, version, session_id)
        self._refresh(room_id, session_id)

    def delete(
        self, room_id: int, session_id: int | None = None, version: int | None = None
    ) -> None:
        """删除回放 (delete a playback or one version), then refresh it in the mirror."""
        self.playback.delete(room_id, session_id, version)
        self._refresh(room_id, session_id)

    def replace_playback(
        self,
        type: int,
        source_room_id: int,
        target_room_id: int,
        source_session_id: int | None = None,
        source_version: int | None = None,
        is_replace_main: int | None = None,
        target_session_id: int | None = None,
        target_version: int | None = None,
    ) -> None:
        """替换回放 (replace or add a version of the target), then refresh the target."""
        self.playback.replace_playback(
            type,
            source_room_id,
            target_room_id,
            source_session_id,
            source_version,
            is_replace_main,
            target_session_id,
            target_version,
        )
        self._refresh(target_room_id, target_session_id)
