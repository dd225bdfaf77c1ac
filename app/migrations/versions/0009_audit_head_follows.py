"""audit chain: the chain head takes its hash from the event that reaches it

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 02:30:00

Every audited request used to send three statements to link its event: move the head
(``UPDATE ... RETURNING``), insert the event, and write the event's hash back on the
head. An ``AFTER INSERT`` trigger on ``audit_events`` now does the last of these inside
the INSERT: the head of the event's chain (``clinic_id``, or 0 for events of no clinic,
as ``app.audit_chain.chain_of``) takes the event's hash when the event's place is the
head's. Only the last event of a batch matches, whatever order the rows go in; the head's
row is locked by the first statement until the commit, so nobody else moves it between.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

PG_UP = """
CREATE OR REPLACE FUNCTION stillpoint_audit_head_follows() RETURNS trigger AS $$
BEGIN
  UPDATE audit_chain_heads SET hash = NEW.hash
   WHERE chain_id = COALESCE(NEW.clinic_id, 0) AND seq = NEW.seq;
  RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER audit_events_head_follows AFTER INSERT ON audit_events
  FOR EACH ROW EXECUTE FUNCTION stillpoint_audit_head_follows();
"""
PG_DOWN = """
DROP TRIGGER IF EXISTS audit_events_head_follows ON audit_events;
DROP FUNCTION IF EXISTS stillpoint_audit_head_follows();
"""
SQLITE_UP = """
CREATE TRIGGER audit_events_head_follows AFTER INSERT ON audit_events
BEGIN
  UPDATE audit_chain_heads SET hash = NEW.hash
   WHERE chain_id = COALESCE(NEW.clinic_id, 0) AND seq = NEW.seq;
END
"""


def upgrade():
    op.execute(PG_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_DOWN)
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_head_follows")
