"""The shared domain core: models, services, settings. No Flask, no Typer in here."""

__version__ = "0.1.0"
