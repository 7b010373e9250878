"""Exports of users, courses and enrollments in the import templates' columns."""
