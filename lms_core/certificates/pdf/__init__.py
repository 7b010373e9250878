"""Rendering certificates to PDF: templates, fonts, QR codes. No database."""
