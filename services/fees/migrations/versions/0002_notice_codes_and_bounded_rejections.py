"""Trust boundaries of the fees (issue 15, items 5 and 7).

- notices: `verification_code` (查验码), printed on the notice and in its QR code, which the public payment
  status asks for beside the number; `serial`, the unit's gapless yearly count, now that the number's middle
  digits are random (services/fees/domain.py). Notices issued before this revision get a code here: their
  payers find it on a reprint.
- reconciliation: a queued payment made to another account than its notice's (`account_mismatch`) stays
  open instead of being matched.
- callback_rejections: one refusal keeps at most a bounded head of its fields (`body`), with the whole
  body's length and SHA-256, instead of up to 25 KB of JSON; `callback_rejection_minutes` counts the
  refusals of each minute and how many of them were stored (the others are only counted).

Revision ID: 0002
Revises: 0001
"""
import hashlib
import json
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "fees"
# the codes of services/fees/domain.py as they are at this revision (a migration does not follow later code)
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_CODE_LENGTH = 8
_BODY_BYTES = 2048
KINDS = ("unknown_notice", "amount_mismatch", "already_paid", "notice_void")


def _kind_check(kinds: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{k}'" for k in kinds)
    return f"ALTER TABLE {S}.reconciliation ADD CONSTRAINT reconciliation_kind_check CHECK (kind IN ({listed}))"


def upgrade() -> None:
    bind = op.get_bind()
    op.execute(f"ALTER TABLE {S}.notices ADD COLUMN verification_code text")
    op.execute(f"ALTER TABLE {S}.notices ADD COLUMN serial integer")
    # the owner runs this; row-level security (forced on the owner too) is lifted for the backfill only,
    # inside this transaction
    op.execute(f"ALTER TABLE {S}.notices NO FORCE ROW LEVEL SECURITY")
    for (number,) in bind.execute(sa.text(f"SELECT notice_number FROM {S}.notices WHERE verification_code IS NULL")):
        code = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
        bind.execute(sa.text(f"UPDATE {S}.notices SET verification_code = :c WHERE notice_number = :n"),
                     {"c": code, "n": number})
    op.execute(f"ALTER TABLE {S}.notices FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {S}.notices ALTER COLUMN verification_code SET NOT NULL")

    op.execute(f"ALTER TABLE {S}.reconciliation DROP CONSTRAINT reconciliation_kind_check")
    op.execute(_kind_check((*KINDS, "account_mismatch")))

    op.execute(f"ALTER TABLE {S}.callback_rejections ADD COLUMN body text NOT NULL DEFAULT ''")
    op.execute(f"ALTER TABLE {S}.callback_rejections ADD COLUMN body_bytes integer NOT NULL DEFAULT 0")
    op.execute(f"ALTER TABLE {S}.callback_rejections ADD COLUMN body_sha256 text NOT NULL DEFAULT ''")
    for row_id, fields in bind.execute(sa.text(f"SELECT id, fields::text FROM {S}.callback_rejections")):
        body = json.dumps(json.loads(fields), ensure_ascii=False, sort_keys=True).encode("utf-8")
        bind.execute(sa.text(f"UPDATE {S}.callback_rejections SET body = :b, body_bytes = :n, body_sha256 = :h"
                             " WHERE id = :id"),
                     {"b": body[:_BODY_BYTES].decode("utf-8", "ignore"), "n": len(body),
                      "h": hashlib.sha256(body).hexdigest(), "id": row_id})
    op.execute(f"ALTER TABLE {S}.callback_rejections DROP COLUMN fields")
    op.execute(f"""
    CREATE TABLE {S}.callback_rejection_minutes (
        minute timestamptz PRIMARY KEY,
        seen integer NOT NULL CHECK (seen >= 0),
        stored integer NOT NULL DEFAULT 0 CHECK (stored >= 0 AND stored <= seen)
    )""")
    # like the log itself: security bookkeeping before any tenant is known, no tenant data in it
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON {S}.callback_rejection_minutes TO sanji_app")


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.callback_rejection_minutes")
    op.execute(f"ALTER TABLE {S}.callback_rejections ADD COLUMN fields jsonb NOT NULL DEFAULT '{{}}'::jsonb")
    op.execute(f"UPDATE {S}.callback_rejections SET fields = jsonb_build_object('body', body)")
    op.execute(f"ALTER TABLE {S}.callback_rejections ALTER COLUMN fields DROP DEFAULT")
    for column in ("body", "body_bytes", "body_sha256"):
        op.execute(f"ALTER TABLE {S}.callback_rejections DROP COLUMN {column}")
    op.execute(f"ALTER TABLE {S}.reconciliation NO FORCE ROW LEVEL SECURITY")
    op.execute(f"UPDATE {S}.reconciliation SET kind = 'amount_mismatch' WHERE kind = 'account_mismatch'")
    op.execute(f"ALTER TABLE {S}.reconciliation FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {S}.reconciliation DROP CONSTRAINT reconciliation_kind_check")
    op.execute(_kind_check(KINDS))
    op.execute(f"ALTER TABLE {S}.notices DROP COLUMN serial")
    op.execute(f"ALTER TABLE {S}.notices DROP COLUMN verification_code")
