"""The journal: what a connector and the station need to carry on after any restart (SQLite, WAL)."""

from supervisor.journal.connector import ConnectorJournal, StoredReply
from supervisor.journal.database import EXIT_CORRUPT, JournalCorrupt, JournalError, journal_dir
from supervisor.journal.station import StationJournal, open_journal_database

__all__ = [
    "EXIT_CORRUPT",
    "ConnectorJournal",
    "JournalCorrupt",
    "JournalError",
    "StationJournal",
    "StoredReply",
    "journal_dir",
    "open_journal_database",
]
