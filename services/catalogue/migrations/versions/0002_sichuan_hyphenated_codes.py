"""Sichuan's code format accepts the hyphenated basic codes of its published catalogue.

The province's real catalogue (广安区, 1,135 items) writes most basic codes as 12–14 letters and
digits (511A0138000000), but public-service and some other items as hyphenated groups:
G-000007-001, 1J-5100-00027, A-005818-5818. The format of 0001 allowed letters and digits only
and would have refused those rows. Groups of letters and digits joined by single hyphens are now
allowed in both codes, for Sichuan only; the lengths (an..14, an..55) stay as they were.

Revision ID: 0002
Revises: 0001
"""

from alembic import op
from sqlalchemy import text

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

HYPHENATED = r"[0-9A-Za-z]+(-[0-9A-Za-z]+)*"


def upgrade() -> None:
    op.get_bind().execute(
        text("UPDATE catalogue.code_formats SET basic_pattern = :p, implementation_pattern = :p"
             " WHERE province = '51'"), {"p": HYPHENATED})


def downgrade() -> None:
    op.get_bind().execute(
        text("UPDATE catalogue.code_formats SET basic_pattern = :b, implementation_pattern = :i"
             " WHERE province = '51'"), {"b": r"[0-9A-Za-z]+", "i": r"[0-9A-Za-z\-]+"})
