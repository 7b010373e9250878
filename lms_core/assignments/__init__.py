"""Assignments: submissions, uploaded files, the gradebook, offline grading worksheets."""
