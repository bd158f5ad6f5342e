"""视频数据 (video data) API, async: ``AsyncVideoData`` (``VideoData`` is generated from this file)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from ... import _endpoints as ep
from ..._days import DayWindow, Moment, day_windows
from ...models import PlayRecord, PlayRecordPage
from ...pagination import PageWalk
from ._async_resource import AsyncResource
from ._shared import parse

if TYPE_CHECKING:
    pass

__all__ = ["AsyncVideoData"]

WALK_PAGE_SIZE = 1000
"""The walkers ask for the largest page the service gives (docs/protocol.md#viewing-records), to spend few calls."""

OnDay = Callable[[DayWindow], None]
"""Called with each day window once all its records were yielded (e.g. to advance a bar)."""


class AsyncVideoData(AsyncResource):
    """视频数据 (video data: play records): the seed's ``baijiayun.client.api.VideoData``.

    ``AsyncVideoData(client)`` binds to a :class:`~baijiayun.AsyncBaiJiaYunClient`;
    ``client.video_data`` gives the same API, built once per client. With no client, one is
    built from the ``BAIJIAYUN_*`` environment variables and owned: close it with
    :meth:`close` or use ``async with AsyncVideoData() as video_data:``. Closing never closes
    a client that was passed in.

    Times are ``datetime`` objects (naive ones are Beijing time, aware ones are converted) or
    strings ``YYYY-MM-DD HH:MM:SS`` in Beijing time. One call's window may not cross a Beijing
    midnight: such a call is refused before sending; the ``iter_*`` walkers split any span into
    day windows for you.
    """

    async def get_playback_play_record(
        self,
        room_id: int,
        start_time: str | dt.datetime,
        end_time: str | dt.datetime,
        session_id: int | None = None,
        page: int = 1,
        page_size: int = 100,
    ) -> PlayRecordPage:
        """获取指定回放视频观看记录 (the play records of one playback, one record per play).

        Records whose ``play_begin_time`` lies in ``[start_time, end_time]``, oldest first.

        :param room_id: 教室号 (room id)
        :param start_time: 开始时间 YYYY-MM-DD HH:MM:SS,查询时间不能跨天 (window start, Beijing
            time; a naive datetime is Beijing time)
        :param end_time: 结束时间,与开始时间同一天 (window end, inclusive; same Beijing day)
        :param session_id: 序列号(针对长期房间才会用到) (session id, long-term rooms; None = every
            session of the room)
        :param page: 页码,从1开始,默认1 (page number from 1)
        :param page_size: 每页条数,默认100,最大1000 (page size, 1..1000)
        """
        data = await self._call(
            ep.GET_PLAYBACK_PLAY_RECORD,
            room_id=room_id,
            session_id=session_id,
            start_time=start_time,
            end_time=end_time,
            page=page,
            page_size=page_size,
        )
        return parse(ep.GET_PLAYBACK_PLAY_RECORD, PlayRecordPage, data)

    async def export_video_report_batch(
        self,
        start_time: str | dt.datetime,
        end_time: str | dt.datetime,
        product_type: int | None = 0,
        page: int = 1,
        page_size: int = 100,
    ) -> PlayRecordPage:
        """获取账号所有视频观看记录 (every play record of the account, VOD and playback alike).

        :param start_time: 开始时间 YYYY-MM-DD HH:MM:SS,查询时间不能跨天 (window start, Beijing
            time; a naive datetime is Beijing time)
        :param end_time: 结束时间,与开始时间同一天 (window end, inclusive; same Beijing day)
        :param product_type: 1:教育直播,2:小班课,3:双师,4:企业直播,5:点播账号 (product line;
            0 or None = every line, not sent)
        :param page: 页码,从1开始,默认1 (page number from 1)
        :param page_size: 每页条数,默认100,最大1000 (page size, 1..1000)
        """
        data = await self._call(
            ep.EXPORT_VIDEO_REPORT_BATCH,
            product_type=product_type or None,  # the seed's 0 means "all": never sent
            start_time=start_time,
            end_time=end_time,
            page=page,
            page_size=page_size,
        )
        return parse(ep.EXPORT_VIDEO_REPORT_BATCH, PlayRecordPage, data)

    async def iter_playback_play_records(
        self,
        room_id: int,
        since: Moment,
        until: Moment,
        session_id: int | None = None,
        *,
        page_size: int = WALK_PAGE_SIZE,
        on_day: OnDay | None = None,
    ) -> AsyncIterator[PlayRecord]:
        """Yield every play record of one playback that began from ``since`` to ``until``.

        The span is split into Beijing-day windows, oldest first, and each is paged with
        :meth:`get_playback_play_record` (stopping on an empty page, a page of repeats, the
        reported total or :data:`~baijiayun.pagination.MAX_PAGES` pages).

        :param room_id: 教室号 (room id)
        :param since: first moment, inclusive: a datetime (naive = Beijing time), a date (from
            its midnight) or their text ``YYYY-MM-DD[ HH:MM:SS]``
        :param until: last moment, inclusive (a date: to the end of that day)
        :param session_id: 序列号 (session id, long-term rooms; None = every session)
        :param page_size: records per call (1..1000)
        :param on_day: called with each :class:`~baijiayun._days.DayWindow` once it is done
        """
        for window in day_windows(since, until):
            walk = PageWalk(page_size)
            while not walk.done:
                page = await self.get_playback_play_record(
                    room_id,
                    window.start_time,
                    window.end_time,
                    session_id,
                    walk.number,
                    page_size,
                )
                for record in walk.take(page):
                    yield record
            if on_day is not None:
                on_day(window)

    async def iter_play_records(
        self,
        since: Moment,
        until: Moment,
        product_type: int | None = None,
        *,
        page_size: int = WALK_PAGE_SIZE,
        on_day: OnDay | None = None,
    ) -> AsyncIterator[PlayRecord]:
        """Yield every play record of the account that began from ``since`` to ``until``.

        Day by day (Beijing time) with :meth:`export_video_report_batch`, paged with the same
        stop rules as every walk.

        :param since: first moment, inclusive: a datetime (naive = Beijing time), a date (from
            its midnight) or their text ``YYYY-MM-DD[ HH:MM:SS]``
        :param until: last moment, inclusive (a date: to the end of that day)
        :param product_type: 1:教育直播,2:小班课,3:双师,4:企业直播,5:点播账号 (None = every line)
        :param page_size: records per call (1..1000)
        :param on_day: called with each :class:`~baijiayun._days.DayWindow` once it is done
        """
        for window in day_windows(since, until):
            walk = PageWalk(page_size)
            while not walk.done:
                page = await self.export_video_report_batch(
                    window.start_time, window.end_time, product_type, walk.number, page_size
                )
                for record in walk.take(page):
                    yield record
            if on_day is not None:
                on_day(window)
