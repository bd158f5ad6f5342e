"""Write the emulator player's test video: a small WebM (VP8) clip of 32 s showing its second.

Run from the repository root (needs PyAV, in the dev extra):

    python scripts/make_test_video.py [OUTPUT]

Every frame shows the current second in large seven-segment digits over a colour that changes
each second and a bar that sweeps across, so a screenshot or a seek is easy to read. The output is
deterministic for one PyAV/libvpx build and small (a few hundred KB); it ships inside the
package (``src/baijiayun/emulator/static/test-video.webm``).
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av

WIDTH, HEIGHT, FPS, SECONDS = 320, 180, 10, 32
BIT_RATE = 96_000
DEFAULT_OUTPUT = Path("src/baijiayun/emulator/static/test-video.webm")

# Seven segments (a b c d e f g) lit for each digit.
_SEGMENTS = {
    "0": "abcdef",
    "1": "bc",
    "2": "abdeg",
    "3": "abcdg",
    "4": "bcfg",
    "5": "acdfg",
    "6": "acdefg",
    "7": "abc",
    "8": "abcdefg",
    "9": "abcdfg",
}
_DIGIT_W, _DIGIT_H, _STROKE = 48, 88, 10


def _segment_boxes(left: int, top: int) -> dict[str, tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) of each segment of a digit whose top-left corner is (left, top)."""
    w, h, s = _DIGIT_W, _DIGIT_H, _STROKE
    mid = top + h // 2 - s // 2
    return {
        "a": (left, top, left + w, top + s),
        "b": (left + w - s, top, left + w, top + h // 2),
        "c": (left + w - s, top + h // 2, left + w, top + h),
        "d": (left, top + h - s, left + w, top + h),
        "e": (left, top + h // 2, left + s, top + h),
        "f": (left, top, left + s, top + h // 2),
        "g": (left, mid, left + w, mid + s),
    }


def _luma(frame_index: int) -> bytes:
    """The Y plane of one frame: a gradient, a sweeping bar and the second in digits."""
    second = frame_index // FPS
    shift = (frame_index * 4) % WIDTH
    row = bytes(60 + ((x + shift) % WIDTH) * 80 // WIDTH for x in range(WIDTH))
    plane = bytearray(row * HEIGHT)
    bar = (frame_index * WIDTH // (FPS * 4)) % WIDTH
    for y in range(HEIGHT - 16, HEIGHT):
        start = y * WIDTH + bar
        plane[start : start + min(24, WIDTH - bar)] = b"\xeb" * min(24, WIDTH - bar)
    text = f"{second:02d}"
    total = len(text) * _DIGIT_W + (len(text) - 1) * 16
    left, top = (WIDTH - total) // 2, (HEIGHT - _DIGIT_H) // 2 - 8
    for position, digit in enumerate(text):
        boxes = _segment_boxes(left + position * (_DIGIT_W + 16), top)
        for name in _SEGMENTS[digit]:
            x0, y0, x1, y1 = boxes[name]
            for y in range(y0, y1):
                plane[y * WIDTH + x0 : y * WIDTH + x1] = b"\xf0" * (x1 - x0)
    return bytes(plane)


def _chroma(frame_index: int) -> tuple[bytes, bytes]:
    """The U and V planes: one colour per second, cycling."""
    second = frame_index // FPS
    palette = ((90, 170), (160, 90), (110, 110), (170, 150), (80, 120), (140, 180))
    u, v = palette[second % len(palette)]
    size = (WIDTH // 2) * (HEIGHT // 2)
    return bytes([u]) * size, bytes([v]) * size


def _frame(frame_index: int) -> av.VideoFrame:
    frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
    u, v = _chroma(frame_index)
    for plane, data, width in zip(
        frame.planes, (_luma(frame_index), u, v), (WIDTH, WIDTH // 2, WIDTH // 2), strict=True
    ):
        if plane.line_size == width:
            plane.update(data)
        else:  # rows padded to the plane's stride
            rows = len(data) // width
            padding = b"\x80" * (plane.line_size - width)
            plane.update(b"".join(data[r * width : (r + 1) * width] + padding for r in range(rows)))
    frame.pts = frame_index
    frame.time_base = Fraction(1, FPS)
    return frame


def make_video(output: Path) -> int:
    """Write the clip to ``output``; return its size in bytes."""
    output.parent.mkdir(parents=True, exist_ok=True)
    # bitexact: no random segment id or muxing date, so the same build writes the same bytes
    with av.open(
        str(output), mode="w", format="webm", container_options={"fflags": "+bitexact"}
    ) as container:
        stream = container.add_stream("libvpx", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.bit_rate = BIT_RATE
        stream.options = {"deadline": "good", "cpu-used": "4", "auto-alt-ref": "0"}
        container.metadata["title"] = "baijiayun emulator test video"
        for index in range(FPS * SECONDS):
            for packet in stream.encode(_frame(index)):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return output.stat().st_size


def main(argv: list[str]) -> int:
    """Write the video where asked (or to the package's static folder) and print its size."""
    output = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT
    size = make_video(output)
    print(f"wrote {output} ({size} bytes, {SECONDS} s, {WIDTH}x{HEIGHT} VP8 at {FPS} fps)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
