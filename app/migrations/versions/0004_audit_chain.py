"""audit chain: hash-chained, append-only audit events

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 19:40:00

"""

from datetime import UTC

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# R5 in SQL: nobody edits or removes an audit event; the chain head only moves forward.
PG_GUARDS = """
CREATE OR REPLACE FUNCTION stillpoint_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION stillpoint_audit_head_forward() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.seq < OLD.seq OR NEW.chain_id <> OLD.chain_id THEN
    RAISE EXCEPTION 'the audit chain head only moves forward: % refused', TG_OP;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION stillpoint_audit_append_only();
CREATE TRIGGER audit_chain_heads_forward BEFORE UPDATE OR DELETE ON audit_chain_heads
  FOR EACH ROW EXECUTE FUNCTION stillpoint_audit_head_forward();
"""

SQLITE_GUARDS = [
    """CREATE TRIGGER audit_events_append_only_update BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END""",
    """CREATE TRIGGER audit_events_append_only_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END""",
    """CREATE TRIGGER audit_chain_heads_forward_update BEFORE UPDATE ON audit_chain_heads
       WHEN NEW.seq < OLD.seq OR NEW.chain_id <> OLD.chain_id
       BEGIN SELECT RAISE(ABORT, 'the audit chain head only moves forward'); END""",
    """CREATE TRIGGER audit_chain_heads_forward_delete BEFORE DELETE ON audit_chain_heads
       BEGIN SELECT RAISE(ABORT, 'the audit chain head only moves forward'); END""",
]
SQLITE_TRIGGERS = [
    "audit_events_append_only_update",
    "audit_events_append_only_delete",
    "audit_chain_heads_forward_update",
    "audit_chain_heads_forward_delete",
]

PG_DROP = """
DROP TRIGGER IF EXISTS audit_chain_heads_forward ON audit_chain_heads;
DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events;
DROP FUNCTION IF EXISTS stillpoint_audit_head_forward();
DROP FUNCTION IF EXISTS stillpoint_audit_append_only();
"""


def _link_existing_events() -> None:
    """Chain the events written before this migration, in the order they were stored."""
    from app.audit_chain import GENESIS, content_hash

    bind = op.get_bind()
    events = sa.table(
        "audit_events",
        sa.column("id", sa.Integer), sa.column("clinic_id", sa.Integer),
        sa.column("seq", sa.Integer), sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String), sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("actor_id", sa.Integer), sa.column("action", sa.String),
        sa.column("subject_type", sa.String), sa.column("subject_id", sa.Integer),
        sa.column("patient_id", sa.Integer), sa.column("ip", sa.String),
        sa.column("details", sa.JSON),
    )  # fmt: skip
    heads: dict[int, tuple[int, str]] = {}
    rows = bind.execute(sa.select(events).order_by(events.c.id)).all()
    for row in rows:
        chain = row.clinic_id or 0
        seq, prev = heads.get(chain, (0, GENESIS))
        created = row.created_at
        if created is not None and created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        values = row._asdict() | {"seq": seq + 1, "prev_hash": prev, "created_at": created}
        digest = content_hash(_Row(values))
        bind.execute(
            events.update()
            .where(events.c.id == row.id)
            .values(seq=seq + 1, prev_hash=prev, hash=digest)
        )
        heads[chain] = (seq + 1, digest)
    if heads:
        bind.execute(
            sa.table(
                "audit_chain_heads",
                sa.column("chain_id", sa.Integer),
                sa.column("seq", sa.Integer),
                sa.column("hash", sa.String),
            ).insert(),
            [{"chain_id": c, "seq": s, "hash": h} for c, (s, h) in heads.items()],
        )


class _Row:
    def __init__(self, values: dict) -> None:
        self.__dict__.update(values)


def upgrade():
    op.create_table(
        "audit_chain_heads",
        sa.Column("chain_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_audit_chain_heads")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))

    _link_existing_events()

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index("uq_audit_events_clinic_seq", ["clinic_id", "seq"], unique=True)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_GUARDS)
    else:
        for statement in SQLITE_GUARDS:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_DROP)
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("uq_audit_events_clinic_seq")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
    op.drop_table("audit_chain_heads")
