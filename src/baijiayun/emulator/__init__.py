"""The emulator: a local, stateful BaijiaYun playback service on a real database."""

from .app import Emulator, EmulatorConfig, create_app
from .faults import Fault
from .state import EmulatorError

__all__ = ["Emulator", "EmulatorConfig", "EmulatorError", "Fault", "create_app"]
