"""Notices address the applicant by name and then as 你 or 你单位 (issue 19): the version-1 templates named
the applicant in the salutation but went on with 「你（单位）」 for everyone, which read like an unfilled
form. Each kind gets a new version whose text says $you (filled by services/intake/notices.build_notice:
你 for a natural person, 你单位 for a legal person). Notices already issued keep the version they were
issued with (their snapshot is frozen); later notices take the newest version.

Revision ID: 0007
Revises: 0006
"""

from alembic import op
from sqlalchemy import text

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

S = "intake"
OLD = "你（单位）"


def upgrade() -> None:
    bind = op.get_bind()
    newest = bind.execute(text(f"SELECT DISTINCT ON (kind) kind, version, title, body FROM {S}.notice_templates"
                               " ORDER BY kind, version DESC")).all()
    for kind, version, title, body in newest:
        if OLD in body:
            bind.execute(text(f"INSERT INTO {S}.notice_templates (kind, version, title, body)"
                              " VALUES (:k, :v, :t, :b)"),
                         {"k": kind, "v": version + 1, "t": title, "b": body.replace(OLD, "$you")})


def downgrade() -> None:
    op.execute(f"DELETE FROM {S}.notice_templates WHERE body LIKE '%$you%' AND version > 1")
