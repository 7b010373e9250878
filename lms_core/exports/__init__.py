"""Exports in the import templates' columns (CSV, XLSX), streamed in constant memory.

``tabular`` writes rows; ``lms_core.services.exports`` chooses them and checks who may.
"""
