"""A notice's serial within its range, checked by the database (issue 22 item 2): the serial is now taken from the
counter row in the issuing transaction's last statement, sent with its COMMIT (`UnitOfWork.commit_with_last`), so
the counter row is locked for one round trip instead of for the rest of the handler; with no Python left after it
to check the range, this constraint refuses a serial past the yearly maximum and the transaction rolls back
(handlers turn it into "本单位 … 年缴款书序号已用尽"). 99,999,999 is domain.NOTICE_SERIAL_MAX, written out: a
migration does not follow later code.

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "fees"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.notices ADD CONSTRAINT notices_serial_range"
               " CHECK (serial BETWEEN 1 AND 99999999)")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.notices DROP CONSTRAINT IF EXISTS notices_serial_range")
