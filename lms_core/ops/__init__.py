"""Operations: health checks, schema migrations, demo data."""
