"""Automatic work: job handlers for what happens between commands (docs/jobs.md, "Automatic work")."""
