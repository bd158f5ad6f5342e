"""The OpenAPI's responses: one function per action (validate, call the backend, shape the reply)."""

# A new endpoint: declare it in ``_endpoints.py``, put its rules in ``backends/`` and add one
# ``@action(...)`` function to the module's file here.

from . import partner, playback, video_data
from ._shared import ACTIONS, READS_WITH_ACCOUNT, Action, Context

__all__ = [
    "ACTIONS",
    "READS_WITH_ACCOUNT",
    "Action",
    "Context",
    "partner",
    "playback",
    "video_data",
]
