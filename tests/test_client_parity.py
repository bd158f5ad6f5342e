"""The generated sync client behaves as its async source: same scenarios, same outcomes."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from baijiayun import errors
from baijiayun.emulator import Emulator
from baijiayun.testing import async_client_for, client_for

World = dict[str, int]
# Each step: (name, call on a PlayBack-like object and the world's ids). Async results are awaited.
STEPS: list[tuple[str, Callable[[Any, World], Any]]] = [
    ("info", lambda pb, w: pb.get_basic_info(w["short"])),
    ("info of a session", lambda pb, w: pb.get_basic_info(w["long"], w["session"])),
    ("list of one room", lambda pb, w: pb.get_list(None, 1, 10, 1, w["cropped"])),
    ("crops", lambda pb, w: pb.get_crop_list(w["cropped"])),
    ("sessions", lambda pb, w: pb.get_session_list(w["long"])),
    ("ppt", lambda pb, w: pb.get_playback_ppt_url(w["long"], w["session"])),
    ("block", lambda pb, w: pb.set_publish_status(w["short"], 2)),
    ("rename", lambda pb, w: pb.update(w["short"], "新名字")),
    ("after writes", lambda pb, w: pb.get_basic_info(w["short"])),
    ("main version", lambda pb, w: pb.set_main_version(w["cropped"], 1)),
    ("token", lambda pb, w: pb.get_player_token(w["short"], 600)),
    ("tokens", lambda pb, w: pb.get_player_token_batch([w["short"], w["cropped"]], 600)),
    ("unknown room", lambda pb, w: pb.get_basic_info(w["short"] + 10**9)),
    ("bad argument", lambda pb, w: pb.set_publish_status(w["short"], 3)),
    ("delete", lambda pb, w: pb.delete(w["short"])),
    ("deleted", lambda pb, w: pb.get_basic_info(w["short"])),
]


def _world(emulator: Emulator, partner_id: int) -> World:
    short = emulator.create_room(partner_id, title="第1讲", product_type=1)["room_id"]
    emulator.create_recording(short, status=100, create_time=1_700_000_000)
    long = emulator.create_room(partner_id, title="长期班", product_type=2, long_term=True)
    session = emulator.create_recording(long["room_id"], status=100, create_time=1_700_100_000)
    emulator.add_ppt(long["room_id"], session["session_id"], name="a.pdf", date="2023-11-16")
    cropped = emulator.create_room(partner_id, title="裁剪课", product_type=1)["room_id"]
    emulator.create_recording(cropped, status=100, create_time=1_700_500_000)
    emulator.create_crop(cropped)
    return {
        "short": short,
        "long": long["room_id"],
        "session": session["session_id"],
        "cropped": cropped,
    }


def _outcome(value: Any, world: World) -> str:
    if isinstance(value, errors.BaiJiaYunError):
        shown: Any = [type(value).__name__, getattr(value, "code", None)]
    elif hasattr(value, "model_dump"):
        shown = value.model_dump(mode="json")
    else:
        shown = value
    text = json.dumps(shown, ensure_ascii=False, sort_keys=True)
    text = re.sub(r'"token": "[^"]+"', '"token": "T"', text)
    text = re.sub(r'("\d+(?:-\d+)?"): "[^"]+"', r'\1: "T"', text)  # token batch values
    text = re.sub(r"token=[\w-]+", "token=T", text)
    text = re.sub(r"/(cover|ppt/\w+)/\d+", r"/\1/N", text)
    text = re.sub(r'"(video_id|playback_id)": \d+', r'"\1": 0', text)
    for name, number in sorted(world.items(), key=lambda kv: -len(str(kv[1]))):
        text = text.replace(str(number), name.upper())
    return text


def test_sync_and_async_clients_agree(bjy_emulator: Emulator, anyio_backend: str) -> None:
    import anyio

    frozen = float(int(time.time()))  # both worlds' crops are made "now": the same second
    bjy_emulator.clock = lambda: frozen
    account = bjy_emulator.create_account()
    sync_world, async_world = (_world(bjy_emulator, account["partner_id"]) for _ in range(2))

    sync_outcomes = []
    with client_for(bjy_emulator, account) as client:
        for _, step in STEPS:
            try:
                sync_outcomes.append(_outcome(step(client.playback, sync_world), sync_world))
            except errors.BaiJiaYunError as error:
                sync_outcomes.append(_outcome(error, sync_world))

    async def run_async() -> list[str]:
        outcomes = []
        async with async_client_for(bjy_emulator, account) as client:
            for _, step in STEPS:
                try:
                    result = await step(client.playback, async_world)
                    outcomes.append(_outcome(result, async_world))
                except errors.BaiJiaYunError as error:
                    outcomes.append(_outcome(error, async_world))
        return outcomes

    async_outcomes = anyio.run(run_async, backend=anyio_backend)
    for (name, _), sync, asynchronous in zip(STEPS, sync_outcomes, async_outcomes, strict=True):
        assert sync == asynchronous, name
    assert sync_outcomes[-1] == '["APIError", 1]'  # the playback is gone, the room is not
    assert sync_outcomes[-3] == '["InvalidArgumentError", null]'
