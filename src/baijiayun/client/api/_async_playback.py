"""回放 (playback) API, async: ``AsyncPlayBack`` (``PlayBack`` is generated from this file)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from ... import _endpoints as ep
from ...errors import InvalidArgumentError
from ...models import (
    CropItem,
    CropPage,
    PlaybackInfo,
    PlaybackItem,
    PlaybackPage,
    PlayerToken,
    PptDatedFileList,
    PptFileList,
    PublishResult,
    SessionList,
)
from ...pagination import PageWalk
from ...player import player_url
from ...tokens import token_key
from .. import _core
from ._async_resource import AsyncResource
from ._shared import RoomIds, batch_entries, chunks, merge_token_batch, parse

if TYPE_CHECKING:
    from ...tokens import RedisTokenCache, TokenCache

__all__ = ["AsyncPlayBack"]


class AsyncPlayBack(AsyncResource):
    """回放 (playback): the seed's ``baijiayun.client.api.PlayBack``.

    ``AsyncPlayBack(client)`` binds to a :class:`~baijiayun.AsyncBaiJiaYunClient`;
    ``client.playback`` gives the same API, built once per client. With no client, one is
    built from the ``BAIJIAYUN_*`` environment variables and owned: close it with
    :meth:`close` or use ``async with AsyncPlayBack() as playback:``. Closing never closes
    a client that was passed in.
    """

    async def delete(
        self, room_id: int, session_id: int | None = None, version: int | None = None
    ) -> None:
        """删除回放 (delete a playback, or one crop version of it). Never retried once sent.

        :param room_id: 教室号 (room id)
        :param session_id: 序列号(针对长期房间才会用到) (session id, long-term rooms only)
        :param version: 版本号(针对裁剪回放才会用到) (crop version; omit to delete every version)
        """
        await self._call(ep.DELETE, room_id=room_id, session_id=session_id, version=version)

    async def get_basic_info(self, room_id: int, session_id: int | None = None) -> PlaybackInfo:
        """查询直播回放信息 (a playback's status, media and publish state).

        :param room_id: 教室号 (room id)
        :param session_id: 序列号(针对长期房间才会用到) (session id, long-term rooms only)
        """
        data = await self._call(ep.GET_BASIC_INFO, room_id=room_id, session_id=session_id)
        return parse(ep.GET_BASIC_INFO, PlaybackInfo, data)

    async def get_crop_list(
        self,
        room_id: int,
        product_type: int | None = None,
        session_id: int | None = None,
        page: int = 1,
        page_size: int = 100,
    ) -> CropPage:
        """获取裁剪回放列表 返回包含裁剪链接的回放列表 (every version of a playback, crops included).

        :param room_id: 教室号 (room id)
        :param product_type: 1:教育直播,2,小班课,3:双师,4,企业直播 (product line; None = not sent)
        :param session_id: 序列号(默认0,长期房间必须传此值) (session id; required for long-term rooms)
        :param page: 页码,从1开始,默认值是1 (page number from 1)
        :param page_size: 每页获取的记录条数,默认100,最大值不能超过1000 (page size, 1..1000)
        """
        data = await self._call(
            ep.GET_CROP_LIST,
            room_id=room_id,
            product_type=product_type,
            session_id=session_id,
            page=page,
            page_size=page_size,
        )
        return parse(ep.GET_CROP_LIST, CropPage, data)

    async def get_list(
        self,
        product_type: int | None,
        page: int,
        page_size: int,
        crop_video: int = 0,
        room_id: int | None = None,
    ) -> PlaybackPage:
        """获取回放列表 获取回放列表,列表按回放的生成时间倒序排列 (playbacks, newest first).

        :param product_type: 1:教育直播,2,小班课,3:双师,4,企业直播 (product line; None = all)
        :param page: 页码,从1开始 (page number from 1)
        :param page_size: 每一页返回的条数,不得超过1000 (page size, 1..1000)
        :param crop_video: 是否返回 裁剪视频的回放,0:否 1:是 (1 = include crop versions)
        :param room_id: 教室号 (filter to one room; None = every room)
        """
        data = await self._call(
            ep.GET_LIST,
            product_type=product_type,
            page=page,
            page_size=page_size,
            crop_video=crop_video,
            room_id=room_id,
        )
        return parse(ep.GET_LIST, PlaybackPage, data)

    async def get_playback_ppt_url(
        self, room_id: int, session_id: int | None = None
    ) -> PptFileList:
        """获取ppt转成的pdf具体路径 (PDFs made from the slides of one room/session; pro accounts).

        :param room_id: 教室号 (room id)
        :param session_id: session_id (session id, long-term rooms)
        """
        data = await self._call(ep.GET_PLAYBACK_PPT_URL, room_id=room_id, session_id=session_id)
        return parse(ep.GET_PLAYBACK_PPT_URL, PptFileList, data)

    async def get_playback_ppt_url_list(
        self, room_id: int, date: str | dt.date | None = None
    ) -> PptDatedFileList:
        """获取ppt转成的pdf的路径列表 (PDFs made from a room's slides, optionally of one day).

        :param room_id: 教室号 (room id)
        :param date: 日期 YYYY-MM-DD 或 datetime.date (day filter for long-term rooms)
        """
        data = await self._call(ep.GET_PLAYBACK_PPT_URL_LIST, room_id=room_id, date=date)
        return parse(ep.GET_PLAYBACK_PPT_URL_LIST, PptDatedFileList, data)

    async def get_player_token(
        self, room_id: int, expires_in: int, session_id: int | None = None
    ) -> PlayerToken:
        """获取回放token 服务端获取token后传给客户端,客户端就可以使用该token播放视频 (a player token).

        :param room_id: 房间号 (room id)
        :param expires_in: 过期时间,以秒为单位。如果传0则表示不过期 (seconds; 0 = never expires)
        :param session_id: 序列号(针对长期房间才会用到) (session id, long-term rooms only)
        """
        data = await self._call(
            ep.GET_PLAYER_TOKEN, room_id=room_id, expires_in=expires_in, session_id=session_id
        )
        return parse(ep.GET_PLAYER_TOKEN, PlayerToken, data)

    async def get_player_token_batch(self, room_ids: RoomIds, expires_in: int) -> dict[str, str]:
        """批量获取回放token (tokens for many playbacks; split into calls of at most 100 ids).

        :param room_ids: 短期房间传{room_id},长期房间传{room_id}-{session_id},多个回放用英文逗号分隔,
            如:17110879095169,17110879095170-201711281. Also an iterable of room ids,
            ``"room-session"`` strings or (room_id, session_id) pairs.
        :param expires_in: 过期时间,以秒为单位。如果传0则表示不过期 (seconds; 0 = never expires)
        :returns: ``{"room_id" or "room_id-session_id": token}``
        """
        tokens: dict[str, str] = {}
        for chunk in chunks(batch_entries(room_ids)):
            merge_token_batch(
                await self._call(ep.GET_PLAYER_TOKEN_BATCH, room_ids=chunk, expires_in=expires_in),
                tokens,
            )
        return tokens

    async def get_session_list(self, room_id: int) -> SessionList:
        """获取长期房间云录制的序列号列表 (the sessions of a long-term room, oldest first).

        对于长期房间,云录制功能可以将一个直播间录制成多个回放。每个回放对应的房间号相同,但有不同的序列号。
        播放回放时,可通过教室号+序列号来播放。

        :param room_id: 房间号 (room id)
        """
        return parse(
            ep.GET_SESSION_LIST, SessionList, await self._call(ep.GET_SESSION_LIST, room_id=room_id)
        )

    async def replace_playback(
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
        """替换回放 源回放(source) 替换 目标回放(target) (replace, or add a version). Never retried once sent.

        :param type: 类型 1:替换 2:新增 (1 replace the target version, 2 add a new version)
        :param source_room_id: 源回放 room_id (source room)
        :param target_room_id: 目标回放 room_id (target room)
        :param source_session_id: 源回放 session_id (长期教室传) (source session)
        :param source_version: 源回放版本 (source version)
        :param is_replace_main: 是否替换成主版本 0:否 1:是 (1 = the result becomes main)
        :param target_session_id: 目标回放 session_id (长期教室传) (target session)
        :param target_version: 目标回放版本 (target version)
        """
        await self._call(
            ep.REPLACE_PLAYBACK,
            type=type,
            source_room_id=source_room_id,
            target_room_id=target_room_id,
            source_session_id=source_session_id,
            source_version=source_version,
            is_replace_main=is_replace_main,
            target_session_id=target_session_id,
            target_version=target_version,
        )

    async def set_main_version(
        self, room_id: int, version: int, session_id: int | None = None
    ) -> None:
        """设置回放主版本 一般在有裁剪回放的时候设置 (choose which version plays by default).

        :param room_id: 教室号 (room id)
        :param version: 版本号 (version; 0 is the original)
        :param session_id: 序列号(默认0,长期房间必须传此值) (session id; required for long-term rooms)
        """
        await self._call(
            ep.SET_MAIN_VERSION, room_id=room_id, version=version, session_id=session_id
        )

    async def set_publish_status(
        self, room_id: int, status: int, session_id: int | None = None
    ) -> PublishResult:
        """设置回放发布状态 默认情况下,回放转码成功后会自动发布 (publish or block a playback).

        :param room_id: 回放教室号 (room id)
        :param status: 发布状态 1:发布 2:屏蔽 (1 publish, 2 block)
        :param session_id: 长期房间的序列号,普通房间不需要传 (session id, long-term rooms only)
        """
        data = await self._call(
            ep.SET_PUBLISH_STATUS, room_id=room_id, status=status, session_id=session_id
        )
        return parse(ep.SET_PUBLISH_STATUS, PublishResult, data)

    async def update(self, room_id: int, name: str, session_id: int | None = None) -> None:
        """更新回放名称 更新回放视频名称 (rename a playback).

        :param room_id: 教室号 (room id)
        :param name: 回放名称 (new name)
        :param session_id: 序列号(针对长期房间才会用到) (session id, long-term rooms only)
        """
        await self._call(ep.UPDATE, room_id=room_id, name=name, session_id=session_id)

    async def iter_list(
        self,
        product_type: int | None = None,
        page_size: int = 100,
        crop_video: int = 0,
        room_id: int | None = None,
    ) -> AsyncIterator[PlaybackItem]:
        """Yield every playback of :meth:`get_list`, page after page, newest first.

        Stops on an empty page, a page of repeats, the reported total or
        :data:`~baijiayun.pagination.MAX_PAGES` pages.
        """
        walk = PageWalk(page_size)
        while not walk.done:
            page = await self.get_list(product_type, walk.number, page_size, crop_video, room_id)
            for item in walk.take(page):
                yield item

    async def iter_crop_list(
        self,
        room_id: int,
        product_type: int | None = None,
        session_id: int | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[CropItem]:
        """Yield every version of :meth:`get_crop_list`, page after page (same stop rules)."""
        walk = PageWalk(page_size)
        while not walk.done:
            page = await self.get_crop_list(
                room_id, product_type, session_id, walk.number, page_size
            )
            for item in walk.take(page):
                yield item

    def player_url(
        self,
        room_id: int,
        token: str,
        session_id: int | None = None,
        *,
        user_number: int | None = None,
        user_name: str | None = None,
    ) -> str:
        """The web playback page URL on this client's host (see :func:`baijiayun.player_url`)."""
        return player_url(
            self.client.base_url,
            room_id,
            token,
            session_id,
            user_number=user_number,
            user_name=user_name,
        )

    def _token_cache(self) -> TokenCache | RedisTokenCache:
        cache = self.client.token_cache
        if cache is None:
            raise InvalidArgumentError(
                "token_cache",
                "the client has no token cache: pass token_cache=TokenCache() (one process) "
                "or RedisTokenCache(url) (every process) to the client",
            )
        return cache

    async def cached_player_url(
        self,
        room_id: int,
        session_id: int | None = None,
        *,
        expires_in: int = 3600,
        min_ttl: float = 600,
        user_number: int | None = None,
        user_name: str | None = None,
    ) -> str:
        """The web playback page URL with a player token from the client's ``token_cache``.

        A cached token is reused while it has at least ``min_ttl`` seconds left; otherwise one
        is fetched with getPlayerToken (concurrent misses for one playback make one call: in one
        process, and across processes with a :class:`~baijiayun.RedisTokenCache`). A token that
        never expires (``expires_in=0``) is only handed to callers asking for one.

        :param room_id: 房间号 (room id)
        :param session_id: 序列号(针对长期房间才会用到) (session id, long-term rooms only)
        :param expires_in: 过期时间,以秒为单位。如果传0则表示不过期 (lifetime of a new token)
        :param min_ttl: seconds a cached token must still be valid to be reused
        :param user_number: 观看者的用户编号 (viewer's number, shown to the player)
        :param user_name: 观看者的昵称 (viewer's name)
        """
        arguments = {"room_id": room_id, "expires_in": expires_in, "session_id": session_id}
        _core.build_params(ep.GET_PLAYER_TOKEN, arguments)  # refuse bad ids before any lookup
        if self.client.dry_run:  # nothing is read or sent: show the token call instead
            await self.get_player_token(room_id, expires_in, session_id)
        cache = self._token_cache()

        async def fetch() -> str:
            answer = await self.get_player_token(room_id, expires_in, session_id)
            return answer.token

        token = await cache.get_or_fetch_async(
            token_key(self.client.partner_id, room_id, session_id),
            fetch,
            expires_in=expires_in,
            min_ttl=min_ttl,
        )
        return self.player_url(
            room_id, token, session_id, user_number=user_number, user_name=user_name
        )

    async def prefetch_tokens(self, room_ids: RoomIds, *, expires_in: int = 3600) -> int:
        """Fill the client's ``token_cache`` with getPlayerTokenBatch (100 ids a call).

        :param room_ids: the playbacks, as for :meth:`get_player_token_batch`
        :param expires_in: 过期时间,以秒为单位。如果传0则表示不过期 (lifetime of the tokens)
        :returns: how many tokens were stored
        """
        if self.client.dry_run:  # nothing is read or sent: show the first batch call instead
            await self.get_player_token_batch(room_ids, expires_in)
        cache = self._token_cache()
        fetched_at = cache.now()  # a token's life starts no earlier than its call
        tokens = await self.get_player_token_batch(room_ids, expires_in)
        partner = self.client.partner_id
        await cache.put_many_async(
            {token_key(partner, entry): token for entry, token in tokens.items()},
            expires_in=expires_in,
            fetched_at=fetched_at,
        )
        return len(tokens)
