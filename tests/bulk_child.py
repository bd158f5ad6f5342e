"""Run one bulk job in a child process (the kill-and-rerun test and benchmark start this)."""

from __future__ import annotations

import json
import sys

from baijiayun import BaiJiaYunClient
from baijiayun.bulk import bulk


def main() -> None:
    base_url, partner_id, partner_key, op, source, journal = sys.argv[1:7]
    with BaiJiaYunClient(int(partner_id), partner_key, base_url=base_url, max_retries=0) as client:
        summary = bulk(client.playback, op, source, journal=journal, workers=4)
    print(
        json.dumps(
            {
                "done": summary.done,
                "skipped": summary.skipped,
                "failed": len(summary.failed),
                "sent": summary.sent,
                "checked": summary.checked,
            }
        )
    )


if __name__ == "__main__":
    main()
