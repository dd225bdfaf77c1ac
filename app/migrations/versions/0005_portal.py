"""portal: patient accounts, invitations, record-copy requests and the copies delivered

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 19:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# A request for a copy of the record (R6) and the copy delivered are evidence:
# never updated or deleted. stillpoint_append_only() comes from migration 0002.
APPEND_ONLY = ("record_requests", "record_copies")
PG_GUARDS = "".join(
    f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t}\n"
    "  FOR EACH ROW EXECUTE FUNCTION stillpoint_append_only();\n"
    for t in APPEND_ONLY
)
PG_DROP = "".join(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t};\n" for t in APPEND_ONLY)
SQLITE_GUARDS = {
    f"{t}_append_only_{o.lower()}": f"""CREATE TRIGGER {t}_append_only_{o.lower()} BEFORE {o} ON {t}
        BEGIN SELECT RAISE(ABORT, '{t} rows are append-only'); END"""
    for t in APPEND_ONLY
    for o in ("UPDATE", "DELETE")
}


def _add_patient_link() -> None:
    """``users.patient_id``: nullable, referencing ``patients``, with a unique index.

    Added in place on both databases. On SQLite that means ADD COLUMN with its named
    foreign key: a batch rebuild of ``users`` would DROP the table, which the enforced
    foreign keys of every row naming a user refuse.
    """
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE users ADD COLUMN patient_id INTEGER "
            "CONSTRAINT fk_users_patient_id_patients REFERENCES patients (id)"
        )
    else:
        op.add_column("users", sa.Column("patient_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_users_patient_id_patients"), "users", "patients", ["patient_id"], ["id"]
        )
    op.create_index("uq_users_patient_id", "users", ["patient_id"], unique=True)


def upgrade():
    _add_patient_link()

    op.create_table(
        "portal_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_portal_invites_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_portal_invites_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_portal_invites_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_invites")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_invites_token_hash")),
    )
    with op.batch_alter_table("portal_invites", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_invites_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "record_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_record_requests_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_record_requests_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_record_requests_requested_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_requests")),
    )
    with op.batch_alter_table("record_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_requests_clinic_id"), ["clinic_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_record_requests_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "record_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("pdf_data", sa.LargeBinary(), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("json_data", sa.LargeBinary(), nullable=False),
        sa.Column("json_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_record_copies_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_record_copies_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_record_copies_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["record_requests.id"],
            name=op.f("fk_record_copies_request_id_record_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_copies")),
        sa.UniqueConstraint("request_id", name=op.f("uq_record_copies_request_id")),
    )
    with op.batch_alter_table("record_copies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_copies_patient_id"), ["patient_id"], unique=False
        )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_GUARDS)
    elif op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_GUARDS.values():
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_DROP)
    elif op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_GUARDS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("record_copies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_copies_patient_id"))
    op.drop_table("record_copies")
    with op.batch_alter_table("record_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_requests_patient_id"))
        batch_op.drop_index(batch_op.f("ix_record_requests_clinic_id"))
    op.drop_table("record_requests")
    with op.batch_alter_table("portal_invites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_invites_patient_id"))
    op.drop_table("portal_invites")
    op.drop_index("uq_users_patient_id", table_name="users")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("fk_users_patient_id_patients"), "users", type_="foreignkey")
    op.drop_column("users", "patient_id")  # SQLite 3.35+ drops a column in place
