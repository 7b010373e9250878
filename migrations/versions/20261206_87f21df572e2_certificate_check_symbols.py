"""certificate numbers: check symbols from the 32-symbol alphabet, old numbers kept

Numbers issued until now end in Crockford's mod-37 check symbol, which may be ``* ~ $ = U``
(``*`` is illegal in Windows file names and the shell expands it). Every certificate whose
number does not already pass the new check (Damm over GF(32), see
``lms_core.certificates.numbers``) gets the new check symbol on the same eight symbols, and
its old number moves to ``legacy_number`` (unique), where verification still finds it: the
old number is printed on its PDF and in its QR code.

The PDFs stay where ``pdf_path`` says: this migration only touches the database (it runs
the same on SQLite and PostgreSQL, and offline). ``lmsctl db upgrade`` then renames the
files named after an old number (``lms_core.certificates.renumber.rename_legacy_pdfs``), one
committed batch at a time; running it again finishes an interrupted rename.

Offline (``--sql``) only the column and its index are written: the renumbering needs to
read the rows.

The check arithmetic is copied here on purpose: a migration must keep doing what it did
when it was written, whatever the module becomes.

Revision ID: 87f21df572e2
Revises: c5d2e8f1a7b3
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "87f21df572e2"
down_revision: str | None = "c5d2e8f1a7b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SYMBOLS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LEGACY_CHECK_SYMBOLS = SYMBOLS + "*~$=U"


def _times_x(value: int) -> int:
    value <<= 1
    return value ^ 0b100101 if value & 0b100000 else value


def _check(body: str) -> str:
    state = 0
    for char in body:
        state = _times_x(state) ^ SYMBOLS.index(char)
    return SYMBOLS[_times_x(state)]


def _legacy_check(body: str) -> str:
    value = 0
    for char in body:
        value = value * 32 + SYMBOLS.index(char)
    return LEGACY_CHECK_SYMBOLS[value % 37]


def renumbered(number: str) -> str | None:
    """The number with the new check symbol, or None when it needs none (or is not ours)."""
    parts = number.split("-")
    if len(parts) != 4 or parts[0] != "LMS" or len(parts[1]) != 4 or len(parts[2]) != 4:
        return None
    body, check = parts[1] + parts[2], parts[3]
    if any(ch not in SYMBOLS for ch in body) or check != _legacy_check(body):
        return None
    new = f"LMS-{parts[1]}-{parts[2]}-{_check(body)}"
    return None if new == number else new


def upgrade() -> None:
    op.add_column("certificates", sa.Column("legacy_number", sa.String(length=20), nullable=True))
    op.create_index("uq_certificates_legacy_number", "certificates", ["legacy_number"], unique=True)
    if context_is_offline():
        return
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, number FROM certificates ORDER BY id")).all()
    taken = {number for _, number in rows}
    changes = []
    for cert_id, number in rows:
        new = renumbered(number)
        if new is None or new in taken:
            continue
        taken.add(new)
        changes.append({"id": cert_id, "number": new, "legacy": number})
    if changes:
        conn.execute(
            sa.text(
                "UPDATE certificates SET number = :number, legacy_number = :legacy WHERE id = :id"
            ),
            changes,
        )


def downgrade() -> None:
    # Back to the numbers as issued; the PDFs keep their (new) file names, which pdf_path names.
    op.execute("UPDATE certificates SET number = legacy_number WHERE legacy_number IS NOT NULL")
    op.drop_index("uq_certificates_legacy_number", table_name="certificates")
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_column("legacy_number")


def context_is_offline() -> bool:
    from alembic import context

    return context.is_offline_mode()
