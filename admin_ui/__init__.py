"""The back office: Flask, Flask-Admin, Flask-Login. Build it with ``admin_ui.app.create_app``.

Nothing is built at import, and ``lmsctl`` never imports this package.
"""
