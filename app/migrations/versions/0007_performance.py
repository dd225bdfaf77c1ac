"""performance: indexes found by the benchmarks (docs/performance.md)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 19:40:00

Plain DROP/CREATE INDEX only: no table is rebuilt, so the record guards
(triggers) of the earlier migrations stay as they are.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    # The patient list and the name search are ordered by (family, given, id).
    # Extending the family-name index with given name and id lets the first page
    # be read in index order instead of sorting every patient of the clinic who
    # shares the first family name; range scans on the family name still use it.
    op.drop_index("ix_patients_clinic_family_key", table_name="patients")
    op.create_index(
        "ix_patients_clinic_family_key",
        "patients",
        ["clinic_id", "family_key", "given_key", "id"],
        unique=False,
    )
    # A visit's sensitive-area consent (visit show and visit form). Most consents
    # are treatment consents with no visit, so once statistics exist (ANALYZE)
    # SQLite judges the plain visit_id index useless and scans every consent of
    # every patient. This index holds only the rows that name a visit.
    op.create_index(
        "ix_consents_visit_kind",
        "consents",
        ["visit_id", "kind"],
        unique=False,
        sqlite_where=sa.text("visit_id IS NOT NULL"),
        postgresql_where=sa.text("visit_id IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_consents_visit_kind", table_name="consents")
    op.drop_index("ix_patients_clinic_family_key", table_name="patients")
    op.create_index(
        "ix_patients_clinic_family_key", "patients", ["clinic_id", "family_key"], unique=False
    )
