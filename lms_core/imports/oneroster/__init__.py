"""OneRoster 1.1 CSV bundles: the spec, the files, reading them into our tables."""
