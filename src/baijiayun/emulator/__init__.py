"""The emulator: a local, stateful BaijiaYun playback service on a real database."""

from .app import create_app
from .exceptions import EmulatorError
from .facade import Emulator, EmulatorConfig
from .faults import Fault

__all__ = ["Emulator", "EmulatorConfig", "EmulatorError", "Fault", "create_app"]
