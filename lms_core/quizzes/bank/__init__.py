"""Question banks as plain data: the shapes, the formats (GIFT, Aiken, CSV/XLSX) and pure marking. No database."""
