"""compliance flags: the dashboard's findings, kept current as records are written

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 23:00:00

A new table and two new columns only; no guarded table is rebuilt. The flags of
an existing clinic are built by the first full check (``flask compliance check``,
or the owner's first visit to the dashboard), not here: the rules live in the
application, and a migration must not depend on today's code.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "compliance_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=48), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=True),
        sa.Column("therapist_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=True),
        sa.Column("tally", sa.Integer(), nullable=True),
        sa.Column("sort_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_compliance_flags_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_flags")),
        sa.UniqueConstraint("clinic_id", "rule", "key", name="uq_compliance_flags_rule_key"),
    )
    op.create_index(
        "ix_compliance_flags_sort", "compliance_flags", ["clinic_id", "rule", "sort_at"]
    )
    op.create_index("ix_compliance_flags_due", "compliance_flags", ["clinic_id", "rule", "due_at"])
    op.create_index("ix_compliance_flags_patient", "compliance_flags", ["patient_id"])
    op.add_column(
        "compliance_settings",
        sa.Column("flags_checked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "compliance_settings",
        sa.Column("flags_repaired", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade():
    with op.batch_alter_table("compliance_settings") as batch:
        batch.drop_column("flags_repaired")
        batch.drop_column("flags_checked_at")
    op.drop_index("ix_compliance_flags_patient", table_name="compliance_flags")
    op.drop_index("ix_compliance_flags_due", table_name="compliance_flags")
    op.drop_index("ix_compliance_flags_sort", table_name="compliance_flags")
    op.drop_table("compliance_flags")
