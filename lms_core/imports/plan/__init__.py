"""Planning an import: what each row would create, update or deactivate."""
