"""Backups: one archive of the database and the files, verified by restoring it (docs/backups.md)."""
