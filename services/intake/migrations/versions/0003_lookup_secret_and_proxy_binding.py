"""The public progress lookup needs a secret the applicant holds; a proxy request names one application.

- `query_code_hash`: the digest of (case number, 查询码) given on acceptance (services/intake/querycodes.py).
  The lookup's read policy now shows a row to a transaction that names its case number and either that
  digest or the applicant's full ID number; six characters of an ID (about 3×10⁵ guesses) no longer do.
  Cases accepted before this revision have no code: their applicants look up with the full ID number.
- one application per proxy request: a request id that already names an application (anywhere) cannot
  be used for another one, so no submission can take over or block another village's request.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from shared.db import READ_PREDICATE

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "intake"
LOOKUP_READ = (
    "case_number IS NOT NULL AND case_number = current_setting('app.lookup_case', true) AND ("
    "(query_code_hash IS NOT NULL AND query_code_hash = current_setting('app.lookup_code', true))"
    " OR (coalesce(current_setting('app.lookup_id', true), '') <> ''"
    " AND applicant_id_number = current_setting('app.lookup_id', true)))")
OLD_LOOKUP_READ = ("case_number IS NOT NULL AND case_number = current_setting('app.lookup_case', true)"
                   " AND applicant_id_suffix = current_setting('app.lookup_suffix', true)")


def _read_policy(extra: str) -> str:
    read = READ_PREDICATE.format(col="tenant_code")
    return f"CREATE POLICY applications_read ON {S}.applications FOR SELECT USING ({read} OR ({extra}))"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.applications ADD COLUMN query_code_hash text")
    op.execute(f"DROP POLICY applications_read ON {S}.applications")
    op.execute(_read_policy(LOOKUP_READ))
    op.execute(f"CREATE UNIQUE INDEX applications_proxy_request ON {S}.applications (proxy_request_id)"
               " WHERE proxy_request_id IS NOT NULL")


def downgrade() -> None:
    op.execute(f"DROP INDEX {S}.applications_proxy_request")
    op.execute(f"DROP POLICY applications_read ON {S}.applications")
    op.execute(_read_policy(OLD_LOOKUP_READ))
    op.execute(f"ALTER TABLE {S}.applications DROP COLUMN query_code_hash")
