"""chart stamp: the patient row says when anything its chart shows last changed

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 05:00:00

The chart keeps its rendered record (everything between the page's frame and the portal
panel) per worker, keyed on the patient's ``chart_stamp`` (``app.patients.chart_cache``).
The database itself moves the stamp, in the transaction of the write, so no write can
leave a chart stale whatever code (or hand-typed SQL) makes it: triggers after every
INSERT, UPDATE and DELETE on ``visits``, ``receipts``, ``missed_visit_fees``,
``consents``, ``health_histories`` and ``retention_purges`` (by their ``patient_id``) and
on ``receipt_voids`` and ``receipt_reissues`` (by their receipt's patient), after any
change to the patient's own row, and after a change to a user's name, for the patients
whose visits, consents or health histories show it. These are every table the chart's
record reads.

A new stamp is the old one plus 1 plus a random number below 2^20, modulo 2^31 - 1:
never the value it replaces, and unlikely to meet a value a worker saw before a
database was restored from a backup. ``ALTER TABLE ... ADD COLUMN`` with a constant
default: the table is not rebuilt, so the record guards of earlier migrations stay.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Tables with a patient_id, and tables of a receipt's rows.
PATIENT_TABLES = (
    "visits", "receipts", "missed_visit_fees", "consents", "health_histories", "retention_purges",
)  # fmt: skip
RECEIPT_TABLES = ("receipt_voids", "receipt_reissues")
OPERATIONS = ("INSERT", "UPDATE", "DELETE")

# The patients whose chart shows the name of the user NEW: their visits' therapist, the
# recorder of a consent or of a health history.
SHOWS_USER = (
    "SELECT patient_id FROM visits WHERE therapist_id = NEW.id"
    " UNION SELECT patient_id FROM consents WHERE recorded_by_id = NEW.id"
    " UNION SELECT patient_id FROM health_histories WHERE recorded_by_id = NEW.id"
)
PG_BUMP = (
    "chart_stamp = ((chart_stamp::bigint + 1 + floor(random() * 1048576)::bigint) % 2147483647)::int"
)
SQLITE_BUMP = "chart_stamp = (chart_stamp + 1 + abs(random() % 1048576)) % 2147483647"

PG_UP = f"""
CREATE OR REPLACE FUNCTION stillpoint_chart_touch_patient() RETURNS trigger AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    UPDATE patients SET {PG_BUMP} WHERE id = OLD.patient_id;
  END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.patient_id IS DISTINCT FROM OLD.patient_id) THEN
    UPDATE patients SET {PG_BUMP} WHERE id = NEW.patient_id;
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION stillpoint_chart_touch_receipt() RETURNS trigger AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    UPDATE patients SET {PG_BUMP}
     WHERE id = (SELECT patient_id FROM receipts WHERE id = OLD.receipt_id);
  END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.receipt_id IS DISTINCT FROM OLD.receipt_id) THEN
    UPDATE patients SET {PG_BUMP}
     WHERE id = (SELECT patient_id FROM receipts WHERE id = NEW.receipt_id);
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION stillpoint_chart_touch_therapist() RETURNS trigger AS $$
BEGIN
  UPDATE patients SET {PG_BUMP} WHERE id IN ({SHOWS_USER});
  RETURN NULL;
END $$ LANGUAGE plpgsql;

-- A change to the patient's own row (not one that moves the stamp itself).
CREATE OR REPLACE FUNCTION stillpoint_chart_touch_self() RETURNS trigger AS $$
BEGIN
  IF NEW.chart_stamp = OLD.chart_stamp THEN
    NEW.chart_stamp := ((OLD.chart_stamp::bigint + 1 + floor(random() * 1048576)::bigint)
                        % 2147483647)::int;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER patients_chart_stamp BEFORE UPDATE ON patients
  FOR EACH ROW EXECUTE FUNCTION stillpoint_chart_touch_self();
""" + "".join(
    f"CREATE TRIGGER {table}_chart_stamp AFTER INSERT OR UPDATE OR DELETE ON {table}\n"
    f"  FOR EACH ROW EXECUTE FUNCTION stillpoint_chart_touch_{kind}();\n"
    for kind, tables in (("patient", PATIENT_TABLES), ("receipt", RECEIPT_TABLES))
    for table in tables
) + (
    "CREATE TRIGGER users_chart_stamp AFTER UPDATE OF full_name ON users FOR EACH ROW\n"
    "  WHEN (OLD.full_name IS DISTINCT FROM NEW.full_name)\n"
    "  EXECUTE FUNCTION stillpoint_chart_touch_therapist();\n"
)


def _sqlite_triggers() -> dict[str, str]:
    triggers: dict[str, str] = {}
    for table in PATIENT_TABLES + RECEIPT_TABLES:
        key = "patient_id" if table in PATIENT_TABLES else "receipt_id"
        for operation in OPERATIONS:
            # An UPDATE moves the new owner's stamp, and the old one's if the row moved.
            rows = {"INSERT": ["NEW"], "UPDATE": ["NEW", "OLD"], "DELETE": ["OLD"]}[operation]
            body = ""
            for row in rows:
                target = (
                    f"{row}.patient_id" if key == "patient_id"
                    else f"(SELECT patient_id FROM receipts WHERE id = {row}.receipt_id)"
                )  # fmt: skip
                moved = f" AND OLD.{key} IS NOT NEW.{key}" if operation == "UPDATE" and row == "OLD" else ""
                body += f"  UPDATE patients SET {SQLITE_BUMP} WHERE id = {target}{moved};\n"
            name = f"{table}_chart_stamp_{operation.lower()}"
            triggers[name] = f"CREATE TRIGGER {name} AFTER {operation} ON {table}\nBEGIN\n{body}END"
    triggers["users_chart_stamp"] = (
        "CREATE TRIGGER users_chart_stamp AFTER UPDATE OF full_name ON users\n"
        "WHEN OLD.full_name IS NOT NEW.full_name\nBEGIN\n"
        f"  UPDATE patients SET {SQLITE_BUMP} WHERE id IN ({SHOWS_USER});\nEND"
    )
    triggers["patients_chart_stamp"] = (
        "CREATE TRIGGER patients_chart_stamp AFTER UPDATE ON patients\n"
        "WHEN NEW.chart_stamp = OLD.chart_stamp\nBEGIN\n"
        f"  UPDATE patients SET {SQLITE_BUMP} WHERE id = NEW.id;\nEND"
    )
    return triggers


def upgrade():
    op.add_column(
        "patients", sa.Column("chart_stamp", sa.Integer(), nullable=False, server_default="0")
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_UP)
    else:
        for statement in _sqlite_triggers().values():
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in PATIENT_TABLES + RECEIPT_TABLES + ("users", "patients"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_chart_stamp ON {table}")
        for kind in ("patient", "receipt", "therapist", "self"):
            op.execute(f"DROP FUNCTION IF EXISTS stillpoint_chart_touch_{kind}()")
        op.drop_column("patients", "chart_stamp")
    else:
        for name in _sqlite_triggers():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        # SQLite's own DROP COLUMN (3.35+): a batch copy of the table would break the
        # triggers of other tables that name it.
        op.execute("ALTER TABLE patients DROP COLUMN chart_stamp")
