"""帮办代办 at every level, for enterprises as well as residents (issue 21 item 1).

- a township centre and the county's 帮办代办 team take ordinary proxy requests too (not only village points;
  the county not only key projects): seed 001 “由乡镇（街道）民生服务中心或村（社区）免费代办”, seed 003 §19
  “健全市县两级帮办代办服务队伍”. Key projects stay with the county.
- the one who asks may be an enterprise (统一社会信用代码), seed 004 “为企业和群众提供免费的全过程代理帮办服务”:
  `resident_kind`, the number checked by kind, and no special group for an enterprise.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "agency"
RESIDENT_ID = "^[0-9]{17}[0-9X]$"
USCC = "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.proxy_requests DROP CONSTRAINT IF EXISTS proxy_requests_check1")
    op.execute(f"ALTER TABLE {S}.proxy_requests ADD CONSTRAINT proxy_requests_level CHECK ("
               " (key_project AND length(tenant_code) = 6)"
               " OR (NOT key_project AND length(tenant_code) IN (6, 9, 12)))")
    op.execute(f"ALTER TABLE {S}.proxy_requests ADD COLUMN resident_kind text NOT NULL DEFAULT 'natural_person'"
               " CHECK (resident_kind IN ('natural_person', 'legal_person'))")
    op.execute(f"ALTER TABLE {S}.proxy_requests DROP CONSTRAINT IF EXISTS proxy_requests_resident_id_number_check")
    op.execute(f"ALTER TABLE {S}.proxy_requests ADD CONSTRAINT proxy_requests_resident_number CHECK ("
               f" (resident_kind = 'natural_person' AND resident_id_number ~ '{RESIDENT_ID}')"
               f" OR (resident_kind = 'legal_person' AND resident_id_number ~ '{USCC}'))")
    op.execute(f"ALTER TABLE {S}.proxy_requests ADD CONSTRAINT proxy_requests_enterprise_group CHECK ("
               " resident_kind = 'natural_person' OR special_group = 'none')")


def downgrade() -> None:
    for name in ("proxy_requests_enterprise_group", "proxy_requests_resident_number", "proxy_requests_level"):
        op.execute(f"ALTER TABLE {S}.proxy_requests DROP CONSTRAINT IF EXISTS {name}")
    op.execute(f"ALTER TABLE {S}.proxy_requests DROP COLUMN IF EXISTS resident_kind")
    op.execute(f"ALTER TABLE {S}.proxy_requests ADD CONSTRAINT proxy_requests_resident_id_number_check"
               f" CHECK (resident_id_number ~ '{RESIDENT_ID}') NOT VALID")
    op.execute(f"ALTER TABLE {S}.proxy_requests ADD CONSTRAINT proxy_requests_check1 CHECK ("
               " (key_project AND length(tenant_code) = 6) OR (NOT key_project AND length(tenant_code) = 12))"
               " NOT VALID")
