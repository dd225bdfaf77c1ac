"""oversight: compliance settings, retention purges, purge-aware record guards

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 19:40:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


# R4: records are never deleted before their retention period ends. After it, an
# owner may purge a patient's clinical records: the service first inserts a
# ``retention_purges`` row (append-only), and only then deletes. The guards of
# migrations 0002 and 0003 are rebuilt here so that a DELETE of a visit, applied
# protocol, amendment, health history, consent, receipt, reissue, void, missed-visit
# fee or treatment summary passes only when its patient has such a row. So do the
# portal guards of migration 0005: a request for a copy of the record (R6) and the
# copy delivered (the whole chart as PDF and JSON) go with the record they copy;
# a copy's patient is found through its request. UPDATEs stay refused exactly as
# before; nothing else changes (the shared stillpoint_append_only() function is
# left alone).
PURGEABLE_APPEND_ONLY = (
    "amendments", "health_histories", "consents", "receipt_reissues", "receipt_voids",
    "missed_visit_fees", "treatment_summaries", "record_requests",
)  # fmt: skip

PG_UPGRADE = """
CREATE OR REPLACE FUNCTION stillpoint_purge_approved(old_row jsonb) RETURNS boolean AS $$
DECLARE pid integer;
BEGIN
  IF old_row ? 'patient_id' THEN
    pid := (old_row->>'patient_id')::integer;
  ELSIF old_row ? 'visit_id' THEN
    SELECT patient_id INTO pid FROM visits WHERE id = (old_row->>'visit_id')::integer;
  ELSIF old_row ? 'receipt_id' THEN
    SELECT patient_id INTO pid FROM receipts WHERE id = (old_row->>'receipt_id')::integer;
  END IF;
  RETURN pid IS NOT NULL AND EXISTS (SELECT 1 FROM retention_purges WHERE patient_id = pid);
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION stillpoint_guard_visit() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF stillpoint_purge_approved(to_jsonb(OLD)) THEN RETURN OLD; END IF;
    RAISE EXCEPTION 'visit % cannot be deleted: records are kept as evidence', OLD.id;
  END IF;
  IF OLD.status = 'signed' THEN
    RAISE EXCEPTION 'visit % is signed and cannot be changed; add an amendment', OLD.id;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION stillpoint_guard_applied_protocol() RETURNS trigger AS $$
DECLARE v_status text;
BEGIN
  IF TG_OP = 'DELETE' AND stillpoint_purge_approved(to_jsonb(OLD)) THEN RETURN OLD; END IF;
  SELECT status INTO v_status FROM visits
   WHERE id = CASE WHEN TG_OP = 'INSERT' THEN NEW.visit_id ELSE OLD.visit_id END;
  IF v_status = 'signed' THEN
    RAISE EXCEPTION 'protocols of signed visit % cannot change', COALESCE(NEW.visit_id, OLD.visit_id);
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION stillpoint_guard_receipt() RETURNS trigger AS $$
DECLARE v RECORD;
BEGIN
  IF TG_OP = 'DELETE' AND stillpoint_purge_approved(to_jsonb(OLD)) THEN RETURN OLD; END IF;
  IF TG_OP <> 'INSERT' THEN
    RAISE EXCEPTION 'receipt % was issued and cannot be changed or deleted; void it and issue a new one', OLD.number;
  END IF;
  SELECT clinic_id, patient_id, therapist_id, status, attendance, local_start
    INTO v FROM visits WHERE id = NEW.visit_id;
  IF v.status IS DISTINCT FROM 'signed' OR v.attendance IS DISTINCT FROM 'attended' THEN
    RAISE EXCEPTION 'receipt refused: visit % is not a signed, attended treatment', NEW.visit_id;
  END IF;
  IF v.clinic_id <> NEW.clinic_id OR v.patient_id <> NEW.patient_id
     OR v.therapist_id <> NEW.therapist_id OR v.local_start::date <> NEW.service_date THEN
    RAISE EXCEPTION 'receipt refused: it must name the clinic, patient, therapist and date of visit %', NEW.visit_id;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION stillpoint_kept_until_purged() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' AND stillpoint_purge_approved(to_jsonb(OLD)) THEN RETURN OLD; END IF;
  RAISE EXCEPTION '% rows are append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$ LANGUAGE plpgsql;

-- A delivered copy of the record belongs to the patient of its request (0005).
CREATE OR REPLACE FUNCTION stillpoint_record_copy_kept_until_purged() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' AND stillpoint_purge_approved(jsonb_build_object(
       'patient_id', (SELECT patient_id FROM record_requests WHERE id = OLD.request_id))) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION '% rows are append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS record_copies_append_only ON record_copies;
CREATE TRIGGER record_copies_append_only BEFORE UPDATE OR DELETE ON record_copies
  FOR EACH ROW EXECUTE FUNCTION stillpoint_record_copy_kept_until_purged();

CREATE TRIGGER retention_purges_append_only BEFORE UPDATE OR DELETE ON retention_purges
  FOR EACH ROW EXECUTE FUNCTION stillpoint_append_only();

-- A backstop for the service's own check: the purge row is refused while the
-- patient's retention period (recomputed here from the database) has not ended.
CREATE OR REPLACE FUNCTION stillpoint_guard_retention_purge() RETURNS trigger AS $$
DECLARE p RECORD; last_day date; kept_until date;
BEGIN
  SELECT pt.clinic_id, pt.date_of_birth, pt.created_at, c.retention_years INTO p
    FROM patients pt JOIN clinics c ON c.id = pt.clinic_id WHERE pt.id = NEW.patient_id;
  IF p.clinic_id IS DISTINCT FROM NEW.clinic_id THEN
    RAISE EXCEPTION 'purge refused: patient % is not a patient of clinic %', NEW.patient_id, NEW.clinic_id;
  END IF;
  SELECT max(local_start)::date INTO last_day FROM visits WHERE patient_id = NEW.patient_id;
  kept_until := (GREATEST(COALESCE(last_day, (p.created_at AT TIME ZONE 'UTC')::date),
                          (p.date_of_birth + interval '18 years')::date)
                 + make_interval(years => p.retention_years))::date;
  IF kept_until >= CURRENT_DATE THEN
    RAISE EXCEPTION 'purge refused: the records of patient % are kept until %', NEW.patient_id, kept_until;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER retention_purges_guard_insert BEFORE INSERT ON retention_purges
  FOR EACH ROW EXECUTE FUNCTION stillpoint_guard_retention_purge();
""" + "".join(
    f"""
DROP TRIGGER IF EXISTS {table}_append_only ON {table};
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION stillpoint_kept_until_purged();
"""
    for table in PURGEABLE_APPEND_ONLY
)

# Back to the guards of 0002, 0003 and 0005 (no purge can pass).
PG_DOWNGRADE = (
    "".join(
        f"""
DROP TRIGGER IF EXISTS {table}_append_only ON {table};
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION stillpoint_append_only();
"""
        for table in (*PURGEABLE_APPEND_ONLY, "record_copies")
    )
    + """
DROP TRIGGER IF EXISTS retention_purges_append_only ON retention_purges;
DROP TRIGGER IF EXISTS retention_purges_guard_insert ON retention_purges;
DROP FUNCTION IF EXISTS stillpoint_guard_retention_purge();
DROP FUNCTION IF EXISTS stillpoint_record_copy_kept_until_purged();
DROP FUNCTION IF EXISTS stillpoint_kept_until_purged();

CREATE OR REPLACE FUNCTION stillpoint_guard_visit() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'visit % cannot be deleted: records are kept as evidence', OLD.id;
  END IF;
  IF OLD.status = 'signed' THEN
    RAISE EXCEPTION 'visit % is signed and cannot be changed; add an amendment', OLD.id;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION stillpoint_guard_applied_protocol() RETURNS trigger AS $$
DECLARE v_status text;
BEGIN
  SELECT status INTO v_status FROM visits
   WHERE id = CASE WHEN TG_OP = 'INSERT' THEN NEW.visit_id ELSE OLD.visit_id END;
  IF v_status = 'signed' THEN
    RAISE EXCEPTION 'protocols of signed visit % cannot change', COALESCE(NEW.visit_id, OLD.visit_id);
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION stillpoint_guard_receipt() RETURNS trigger AS $$
DECLARE v RECORD;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    RAISE EXCEPTION 'receipt % was issued and cannot be changed or deleted; void it and issue a new one', OLD.number;
  END IF;
  SELECT clinic_id, patient_id, therapist_id, status, attendance, local_start
    INTO v FROM visits WHERE id = NEW.visit_id;
  IF v.status IS DISTINCT FROM 'signed' OR v.attendance IS DISTINCT FROM 'attended' THEN
    RAISE EXCEPTION 'receipt refused: visit % is not a signed, attended treatment', NEW.visit_id;
  END IF;
  IF v.clinic_id <> NEW.clinic_id OR v.patient_id <> NEW.patient_id
     OR v.therapist_id <> NEW.therapist_id OR v.local_start::date <> NEW.service_date THEN
    RAISE EXCEPTION 'receipt refused: it must name the clinic, patient, therapist and date of visit %', NEW.visit_id;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;

DROP FUNCTION IF EXISTS stillpoint_purge_approved(jsonb);
"""
)

# SQLite: the DELETE triggers of 0002/0003/0005 are recreated with a WHEN clause that
# lets the row go only when its patient has a retention_purges row.
_PURGED = "EXISTS (SELECT 1 FROM retention_purges rp WHERE rp.patient_id = {patient})"
_VIA_VISIT = "(SELECT v.patient_id FROM visits v WHERE v.id = OLD.visit_id)"
_VIA_RECEIPT = "(SELECT r.patient_id FROM receipts r WHERE r.id = OLD.receipt_id)"
_VIA_REQUEST = "(SELECT q.patient_id FROM record_requests q WHERE q.id = OLD.request_id)"
# trigger name -> (table, the patient of OLD, the original condition or None, message)
SQLITE_DELETE_GUARDS = {
    "visits_guard_delete": (
        "visits", "OLD.patient_id", None, "visits cannot be deleted: records are kept as evidence",
    ),
    "applied_protocols_guard_delete": (
        "applied_protocols", _VIA_VISIT,
        "(SELECT status FROM visits WHERE id = OLD.visit_id) = 'signed'",
        "protocols of a signed visit cannot change",
    ),
    "receipts_guard_delete": (
        "receipts", "OLD.patient_id", None, "an issued receipt cannot be deleted; void it",
    ),
    "amendments_append_only_delete": ("amendments", _VIA_VISIT, None, None),
    "health_histories_append_only_delete": ("health_histories", "OLD.patient_id", None, None),
    "consents_append_only_delete": ("consents", "OLD.patient_id", None, None),
    "receipt_reissues_append_only_delete": ("receipt_reissues", _VIA_RECEIPT, None, None),
    "receipt_voids_append_only_delete": ("receipt_voids", _VIA_RECEIPT, None, None),
    "missed_visit_fees_append_only_delete": ("missed_visit_fees", "OLD.patient_id", None, None),
    "treatment_summaries_append_only_delete": ("treatment_summaries", "OLD.patient_id", None, None),
    # 0005's portal guards; their UPDATE triggers stay as they are.
    "record_requests_append_only_delete": ("record_requests", "OLD.patient_id", None, None),
    "record_copies_append_only_delete": ("record_copies", _VIA_REQUEST, None, None),
}  # fmt: skip


def _sqlite_trigger(name: str, purge_aware: bool) -> str:
    table, patient, condition, message = SQLITE_DELETE_GUARDS[name]
    message = message or f"{table} rows are append-only"
    clauses = [condition] if condition else []
    if purge_aware:
        clauses.append("NOT " + _PURGED.format(patient=patient))
    when = f" WHEN {' AND '.join(clauses)}" if clauses else ""
    return (
        f"CREATE TRIGGER {name} BEFORE DELETE ON {table}{when}\n"
        f"       BEGIN SELECT RAISE(ABORT, '{message}'); END"
    )


SQLITE_PURGES_GUARDS = [
    f"""CREATE TRIGGER retention_purges_append_only_{op_name.lower()} BEFORE {op_name} ON retention_purges
        BEGIN SELECT RAISE(ABORT, 'retention_purges rows are append-only'); END"""
    for op_name in ("UPDATE", "DELETE")
] + [
    # The backstop of the PostgreSQL function above: SQLite's date() moves 29 February
    # to 1 March like the application does. Dates compare as ISO text.
    """CREATE TRIGGER retention_purges_guard_insert BEFORE INSERT ON retention_purges
       WHEN NOT EXISTS (SELECT 1 FROM patients WHERE id = NEW.patient_id AND clinic_id = NEW.clinic_id)
         OR (SELECT date(max(
                  COALESCE((SELECT date(max(v.local_start)) FROM visits v WHERE v.patient_id = p.id),
                           date(p.created_at)),
                  date(p.date_of_birth, '+18 years')),
                '+' || c.retention_years || ' years')
             FROM patients p JOIN clinics c ON c.id = p.clinic_id WHERE p.id = NEW.patient_id)
            >= date('now')
       BEGIN SELECT RAISE(ABORT, 'purge refused: the retention period has not ended'); END""",
]


def _recreate_sqlite_guards(purge_aware: bool) -> None:
    for name in SQLITE_DELETE_GUARDS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(_sqlite_trigger(name, purge_aware))


def upgrade():
    op.create_table(
        "compliance_settings",
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("working_day_minutes", sa.Integer(), nullable=False),
        sa.Column("snoop_min_patients", sa.Integer(), nullable=False),
        sa.Column("snoop_window_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_compliance_settings_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("clinic_id", name=op.f("pk_compliance_settings")),
    )
    op.create_table(
        "retention_purges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("approved_by_id", sa.Integer(), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_visit_on", sa.Date(), nullable=True),
        sa.Column("retention_end", sa.Date(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["approved_by_id"], ["users.id"], name=op.f("fk_retention_purges_approved_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_retention_purges_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_retention_purges_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_purges")),
        sa.UniqueConstraint("patient_id", name=op.f("uq_retention_purges_patient_id")),
    )
    op.create_index(
        op.f("ix_retention_purges_clinic_id"), "retention_purges", ["clinic_id"], unique=False
    )
    # The dashboard's per-therapist rules (overlaps, minutes per day) and the RMT
    # billing report read these ranges. Plain CREATE INDEX: no table is rebuilt, so
    # the SQLite triggers of 0002/0003 stay in place.
    op.create_index(
        "ix_visits_clinic_therapist_start", "visits", ["clinic_id", "therapist_id", "local_start"]
    )
    op.create_index(
        "ix_receipts_clinic_therapist_issued",
        "receipts",
        ["clinic_id", "therapist_id", "issued_at"],
    )

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_UPGRADE)
    elif dialect == "sqlite":
        _recreate_sqlite_guards(purge_aware=True)
        for statement in SQLITE_PURGES_GUARDS:
            op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_DOWNGRADE)
    elif dialect == "sqlite":
        _recreate_sqlite_guards(purge_aware=False)
        for name in ("append_only_update", "append_only_delete", "guard_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS retention_purges_{name}")
    op.drop_index("ix_receipts_clinic_therapist_issued", table_name="receipts")
    op.drop_index("ix_visits_clinic_therapist_start", table_name="visits")
    op.drop_index(op.f("ix_retention_purges_clinic_id"), table_name="retention_purges")
    op.drop_table("retention_purges")
    op.drop_table("compliance_settings")
