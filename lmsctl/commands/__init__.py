"""One module per command group; each imports lms_core only inside its commands."""
