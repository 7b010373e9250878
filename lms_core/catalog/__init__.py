"""The catalog: courses, their lessons, enrollments and progress."""
