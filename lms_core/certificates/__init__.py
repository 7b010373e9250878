"""Certificates: numbers, templates, fonts and PDF rendering (no database code here)."""
