"""Catalog mirror: the account's playbacks and play records in your own database, kept current; who watched."""

from .lock import MirrorLock, MirrorLockedError
from .query import list_playbacks, mirror_status
from .report import PlaybackViews, ViewerViews, read_roster
from .schema import DEFAULT_DATABASE, SCHEMA_VERSION, SchemaVersionError, make_engine
from .sync import Mirror, Progress, SyncResult
from .web import CallbackHandler, callback_app, django_view
from .write_hook import MirroredPlayBack

__all__ = [
    "DEFAULT_DATABASE",
    "SCHEMA_VERSION",
    "CallbackHandler",
    "Mirror",
    "MirrorLock",
    "MirrorLockedError",
    "MirroredPlayBack",
    "PlaybackViews",
    "Progress",
    "SchemaVersionError",
    "SyncResult",
    "ViewerViews",
    "callback_app",
    "django_view",
    "list_playbacks",
    "make_engine",
    "mirror_status",
    "read_roster",
]
