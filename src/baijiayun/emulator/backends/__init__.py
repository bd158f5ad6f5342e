"""The emulator's backends: state and rules per API module, on typed rows, no HTTP."""

from .partner import PartnerBackend
from .playback import PlaybackBackend
from .views import ViewsBackend

__all__ = ["PartnerBackend", "PlaybackBackend", "ViewsBackend"]
