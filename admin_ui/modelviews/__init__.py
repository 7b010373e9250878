"""The back office's model views, one module per domain area; :mod:`.registry` adds them."""
