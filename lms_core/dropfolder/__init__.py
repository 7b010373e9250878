"""Drop-folder imports: files put in ``LMS_IMPORT_DROP_DIR`` are imported by jobs (docs/dropfolder.md)."""
