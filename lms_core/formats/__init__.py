"""Reading and writing CSV/XLSX: encodings, archives, safe cells, streaming writers."""
