"""The OpenAPI's responses: one function per action (validate, call the backend, shape the reply).

A new endpoint is declared in ``_endpoints.py``, gets its rules in ``backends/`` and one
``@action(...)`` function in the module's file here.
"""

from . import partner, playback
from ._shared import ACTIONS, READS_WITH_ACCOUNT, Action, Context

__all__ = ["ACTIONS", "READS_WITH_ACCOUNT", "Action", "Context", "partner", "playback"]
