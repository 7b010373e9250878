"""Bulk import: read (CSV, XLSX, OneRoster) → validate → resolve → plan → apply → undo.

One module per stage or format; ``lms_core.imports.runs`` is the front door that the CLI,
the back office and the drop-folder job call.
"""
