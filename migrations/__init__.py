"""Alembic migrations; run them through ``lmsctl db`` (see lms_core.ops.schema)."""
