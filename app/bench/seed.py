"""A synthetic clinic chain for benchmarks, loaded in bulk.

Rows are built as plain tuples and written in large batches: ``executemany`` on
SQLite, ``COPY`` on PostgreSQL. Nothing goes through the ORM, so a million
visits take minutes, not hours. The result obeys the same rules as data the app
writes itself:

* every visit is signed and attended, with a full SOAP note, and belongs to one
  clinic, patient, therapist and location of that clinic;
* applied protocols are snapshots of real library entries;
* receipts name the clinic, patient, therapist and date of their visit, and are
  numbered 1, 2, 3 ... per clinic in the order they were issued; the counters
  hold the last number;
* audit events form a valid hash chain per clinic (``app.audit_chain``).

The database triggers stay in charge on SQLite: visits go in as drafts, their
protocols are added, then each batch is signed with one UPDATE and only then
are receipts inserted (the receipt guard checks the signed visit). On
PostgreSQL the session switches to ``session_replication_role = replica`` (no
triggers, no foreign-key checks) and inserts visits already signed; when the
role cannot be set (not a superuser) it takes the SQLite path instead.
"""

from __future__ import annotations

import json
import math
import random
import secrets
import sys
import time as clock
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import JSON, Table, func, select, text

from app.audit_chain import GENESIS, content_hash
from app.extensions import db
from app.models import CONSENT_ELEMENTS, Clinic
from app.security import hash_password

BENCH_PASSWORD = "bench-password-not-secret"  # noqa: S105 - synthetic accounts only
SLOTS = (9, 11, 13, 15, 17)  # two hours apart: no visit of a therapist overlaps another
DURATIONS = (30, 45, 60, 60, 60, 75, 90)
FEES = {30: 7000, 45: 9500, 60: 12000, 75: 14500, 90: 16500}
TAX_BP = 1300
UTC_OFFSET = timedelta(hours=5)  # clinic wall clock -> UTC, near enough for synthetic data
SIGN_DELAY = timedelta(minutes=100)  # after the longest visit (90 min) of a slot
TICK = timedelta(milliseconds=10)
RECEIPT_SHARE = 0.9  # the rest are signed visits not billed yet

GIVEN = (
    "Ada", "Ben", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hugo", "Isla", "Jun", "Kira",
    "Liam", "Maya", "Noah", "Olivia", "Priya", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera",
    "Wen", "Xavier", "Yara", "Zoe", "Émile", "Anaïs", "Mateo", "Sofia",
)  # fmt: skip
FAMILY = (
    "Smith", "Tremblay", "Nguyen", "Patel", "Chen", "Roy", "Gagnon", "Singh", "Wong", "Martin",
    "Brown", "Côté", "Li", "Khan", "Taylor", "Bouchard", "Wilson", "Kim", "Morin", "Ali",
    "Lavoie", "Campbell", "Fortin", "Anderson", "Ouellet", "Murphy", "Park", "Leblanc",
    "Hassan", "Okafor", "Dubois", "Silva", "Kowalski", "Rossi", "Yamamoto", "Ivanova",
)  # fmt: skip
# Most patients share a few dozen family names; the rest have rarer ones (about
# 10,000 combinations), so a search for a full family name finds a handful.
COMMON_SHARE = 0.6
TAIL_START = (
    "Ab", "Bel", "Car", "Dor", "Eck", "Fal", "Gor", "Hal", "Ish", "Jor", "Kal", "Lor", "Mor",
    "Nor", "Osk", "Pel", "Quar", "Ros", "Sel", "Tor", "Ul", "Val", "Wer", "Yor", "Zel", "Bran",
    "Cros", "Dun", "Fen", "Gil",
)  # fmt: skip
TAIL_MIDDLE = (
    "a", "e", "i", "o", "u", "an", "en", "in", "on", "ar", "er", "ir", "or", "al", "el", "il",
    "ol", "am", "em", "om", "ab", "eb", "ib", "ob", "ad", "ed", "id", "od", "ag", "eg",
)  # fmt: skip
TAIL_END = (
    "ski",
    "sen",
    "son",
    "wick",
    "ley",
    "ford",
    "berg",
    "stein",
    "vic",
    "dottir",
    "ez",
    "ini",
)
COMPLAINTS = (
    "Neck pain with afternoon headaches after long days at the computer",
    "Low back stiffness on waking, eases with movement",
    "Right shoulder pain reaching overhead since moving house",
    "Tension across the upper back and jaw clenching under stress",
    "Tight hamstrings and calves while training for a half marathon",
    "Left hip ache after prolonged sitting; no numbness",
    "General tension and poor sleep; wants relaxation",
    "Forearm and wrist fatigue from mouse work",
)
IMPRESSIONS = (
    "Cervical myofascial tension with tension-type headache pattern",
    "Lumbar paraspinal hypertonicity, mechanical low back pain",
    "Rotator cuff overuse with upper trapezius guarding",
    "Masticatory and cervical muscle tension related to stress",
    "Posterior chain tightness consistent with training load",
    "Gluteal and hip flexor tension with postural component",
)
PLANS = (
    "Weekly treatment for four weeks, then reassess range of motion",
    "Every two weeks; progress home stretches as tolerated",
    "Monthly maintenance; refer to physiotherapy if no change in six weeks",
)
HOME_CARE = (
    "Heat 15 minutes twice daily; chin tucks 10 x 3",
    "Doorway pectoral stretch 30 s x 3; hourly posture breaks",
    "Foam roll calves and hamstrings after runs; hydrate",
    "Diaphragmatic breathing 5 minutes before bed",
)
NOTES = (
    "Swedish warm-up, then trigger point release of upper trapezius and levator scapulae; "
    "suboccipital release; finished with passive stretching.",
    "Myofascial release of the thoracolumbar fascia, deep stroking of the erector spinae, "
    "gentle mobilisation of the lumbar spine within comfort.",
    "Cross-fibre friction of supraspinatus tendon region, muscle energy technique for "
    "external rotators, effleurage to finish.",
)
CONDITION_SETS = (
    [], [], [], [], ["osteoporosis"], ["diabetes"], ["varicose_veins"],
    ["uncontrolled_hypertension"], ["rheumatoid_arthritis"], ["pregnancy"],
)  # fmt: skip


class SeedRefused(RuntimeError):
    """The database is not empty (benchmark data goes into a fresh database only)."""


@dataclass
class SeedReport:
    visits: int
    counts: dict[str, int]
    seconds: float
    backend: str
    mode: str
    phases: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        rows = ", ".join(f"{n:,} {t}" for t, n in self.counts.items())
        rate = self.visits / self.seconds if self.seconds else 0
        return (
            f"Seeded {self.backend} ({self.mode}) in {self.seconds:.1f} s "
            f"({rate:,.0f} visits/s): {rows}"
        )


@dataclass
class Sizes:
    visits: int
    clinics: int
    locations: int
    therapists: int
    patients: int

    @classmethod
    def for_visits(
        cls,
        visits: int,
        clinics: int | None = None,
        locations: int = 3,
        therapists: int | None = None,
        patients: int | None = None,
    ) -> Sizes:
        clinics = clinics or max(2, visits // 250_000)
        therapists = max(therapists or max(4, visits // 5000), clinics)
        patients = max(patients or max(20, visits // 20), clinics)
        return cls(visits, clinics, locations, therapists, patients)


class Progress:
    """A one-line progress bar on stderr (no dependency; silent when ``quiet``)."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.quiet, self.done = total, quiet, 0
        self.start = self.last = clock.perf_counter()

    def advance(self, n: int) -> None:
        self.done += n
        now = clock.perf_counter()
        if self.quiet or (now - self.last < 0.5 and self.done < self.total):
            return
        self.last = now
        share = self.done / self.total if self.total else 1
        rate = self.done / max(now - self.start, 1e-9)
        eta = (self.total - self.done) / rate if rate else 0
        bar = "#" * int(share * 30)
        sys.stderr.write(
            f"\r  visits [{bar:<30}] {self.done:>10,}/{self.total:,} "
            f"{rate:>8,.0f}/s eta {eta:>5.0f} s"
        )
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


# -- writing rows ----------------------------------------------------------------------------


class Writer:
    """Bulk inserts through the raw DB-API connection of the app's engine."""

    def __init__(self) -> None:
        self.engine = db.engine
        self.dialect = self.engine.dialect
        self.backend = self.dialect.name
        self.raw = self.engine.raw_connection()
        self.conn = self.raw.driver_connection
        self.mode = "flip"
        self.counts: dict[str, int] = {}
        self._plans: dict[tuple[str, tuple[str, ...]], Any] = {}
        cur = self.raw.cursor()
        if self.backend == "sqlite":
            cur.execute("PRAGMA synchronous=OFF")  # bulk load: durability comes at the end
            cur.execute("PRAGMA cache_size=-200000")
        elif self.backend == "postgresql":
            cur.execute("SET synchronous_commit = off")
            try:
                cur.execute("SET session_replication_role = replica")
                self.mode = "replica"
            except Exception:  # not a superuser: keep the triggers and sign in a second step
                self.raw.rollback()
                cur = self.raw.cursor()
                cur.execute("SET synchronous_commit = off")
        cur.close()

    def _plan(self, table: Table, columns: tuple[str, ...]) -> Any:
        key = (table.name, columns)
        if key not in self._plans:
            cols = [table.c[name] for name in columns]
            if self.backend == "postgresql":
                self._plans[key] = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
            else:
                procs = [
                    None
                    if isinstance(c.type, JSON)
                    else c.type._cached_bind_processor(self.dialect)
                    for c in cols
                ]
                marks = ", ".join("?" for _ in columns)
                sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - our column names
                self._plans[key] = (sql, procs)
        return self._plans[key]

    def insert(self, name: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert ``rows`` into table ``name``, values in ``COLUMNS[name]`` order."""
        if not rows:
            return
        table = db.metadata.tables[name]
        plan = self._plan(table, COLUMNS[name])
        cur = self.raw.cursor()
        if self.backend == "postgresql":
            with cur.copy(plan) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            sql, procs = plan
            active = [(i, p) for i, p in enumerate(procs) if p is not None]
            if active:
                converted = []
                for row in rows:
                    values = list(row)
                    for i, proc in active:
                        if values[i] is not None:
                            values[i] = proc(values[i])
                    converted.append(values)
                rows = converted
            cur.executemany(sql, rows)
        cur.close()
        self.counts[name] = self.counts.get(name, 0) + len(rows)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        cur = self.raw.cursor()
        if self.backend == "postgresql":
            sql = sql.replace("?", "%s")
        cur.execute(sql, params)
        cur.close()

    def commit(self) -> None:
        self.raw.commit()

    def close(self) -> None:
        """Put the pooled connection's settings back before returning it."""
        cur = self.raw.cursor()
        if self.backend == "postgresql":
            self.raw.rollback()
            cur = self.raw.cursor()
            cur.execute("SET synchronous_commit = DEFAULT")
            if self.mode == "replica":
                cur.execute("SET session_replication_role = DEFAULT")
            self.raw.commit()
        else:
            cur.execute("PRAGMA synchronous=FULL")
        cur.close()
        self.raw.close()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# -- the generator ----------------------------------------------------------------------------


@dataclass
class Person:
    id: int
    clinic_id: int
    name: str


@dataclass
class Chain:
    """An audit hash chain being extended (one per clinic)."""

    seq: int = 0
    prev: str = GENESIS


class _Event:
    """The attributes ``content_hash`` reads, without an ORM object."""

    __slots__ = (
        "action", "actor_id", "clinic_id", "created_at", "details", "ip", "patient_id",
        "prev_hash", "seq", "subject_id", "subject_type",
    )  # fmt: skip

    def __init__(self, **kw: Any) -> None:
        for key, value in kw.items():
            setattr(self, key, value)


# Columns written per table (JSON columns as already-encoded text).
COLUMNS: dict[str, tuple[str, ...]] = {
    "clinics": (
        "id", "name", "address", "phone", "email", "business_number", "jurisdiction",
        "retention_years", "created_at",
    ),
    "locations": (
        "id", "clinic_id", "name", "address", "phone", "active",
    ),
    "users": (
        "id", "clinic_id", "email", "full_name", "role", "password_hash", "active",
        "must_change_password", "session_token", "created_at", "designation",
        "registration_number", "registering_body", "signature_mimetype",
    ),
    "billing_settings": (
        "clinic_id", "tax_name", "tax_rate_bp", "payment_methods", "updated_at",
    ),
    "fee_schedule_items": (
        "id", "clinic_id", "minutes", "fee_cents",
    ),
    "patients": (
        "id", "clinic_id", "given_name", "family_name", "preferred_name", "date_of_birth", "phone",
        "email", "address", "emergency_contact_name", "emergency_contact_phone", "insurer",
        "policy_number", "referral_on_file", "referral_date", "referral_physician", "created_at",
        "updated_at", "family_key", "given_key", "preferred_key", "phone_digits",
    ),
    "health_histories": (
        "id", "patient_id", "version", "recorded_at", "recorded_by_id", "conditions",
        "medications", "allergies", "surgeries", "notes",
    ),
    "consents": (
        "id", "patient_id", "kind", "given_on", "method", "elements", "withdrawn", "notes",
        "recorded_by_id", "recorded_at", "areas",
    ),
    "receipt_counters": (
        "clinic_id", "last_number",
    ),
    "audit_chain_heads": (
        "chain_id", "seq", "hash",
    ),
    "audit_events": (
        "id", "clinic_id", "actor_id", "action", "subject_type", "subject_id", "patient_id", "ip",
        "created_at", "details", "seq", "prev_hash", "hash",
    ),
    "visits": (
        "id", "clinic_id", "patient_id", "therapist_id", "location_id", "local_start", "local_end",
        "duration_minutes", "attendance", "status", "lock_version", "created_at", "updated_at",
        "updated_by_id", "signed_at", "signed_by_id", "chief_complaint", "complaint_history",
        "symptoms", "pain_before", "pain_locations", "aggravating", "relieving",
        "response_to_last", "red_flags", "red_flag_decision", "red_flag_detail", "posture",
        "range_of_motion", "palpation", "trigger_points", "body_marks", "treatment_notes",
        "clinical_impression", "treatment_response", "pain_after", "plan", "frequency",
        "next_visit", "home_care", "home_care_none", "referrals",
    ),
    "applied_protocols": (
        "id", "visit_id", "position", "protocol_id", "content_version", "title", "category",
        "summary", "home_care", "sensitive_area", "red_flag_screen", "regions", "side", "minutes",
        "pressure", "response", "contraindication_ack", "added_at", "added_by_id",
    ),
    "receipts": (
        "id", "clinic_id", "number", "visit_id", "patient_id", "therapist_id", "issued_by_id",
        "issued_at", "supersedes_id", "verification_code", "clinic_name", "clinic_address",
        "clinic_phone", "clinic_business_number", "patient_name", "service_date", "service_start",
        "duration_minutes", "service_description", "therapist_name", "therapist_designation",
        "therapist_registration_number", "therapist_registering_body", "signature_sha256",
        "scheduled_fee_cents", "fee_cents", "fee_reason", "tax_name", "tax_rate_bp", "tax_cents",
        "total_cents", "payment_method", "paid_cents",
    ),
}  # fmt: skip


class Generator:
    def __init__(self, sizes: Sizes, writer: Writer, rng: random.Random, now: datetime) -> None:
        self.sizes, self.w, self.rng, self.now = sizes, writer, rng, now
        self.chains: dict[int, Chain] = {}
        self.audit_id = 0
        self.audit_rows: list[tuple[Any, ...]] = []
        self.clinics: list[dict[str, Any]] = []
        self.therapists: list[Person] = []
        self.owners: dict[int, int] = {}
        self.locations: dict[int, list[int]] = {}
        self.patients: dict[int, list[Person]] = {}
        self.counters: dict[int, int] = {}
        days = math.ceil(sizes.visits / (sizes.therapists * len(SLOTS)))
        self.first_day = now.date() - timedelta(days=days + 1)
        self.protocols = self._protocol_pool()
        self.visit_json = [self._visit_json() for _ in range(64)]

    # people and places
    def clinics_and_staff(self) -> None:
        password = hash_password(BENCH_PASSWORD)  # Argon2 once, reused by every account
        created = datetime.combine(self.first_day - timedelta(days=30), time(14), UTC)
        clinic_rows, location_rows, user_rows, billing_rows, fee_rows = [], [], [], [], []
        user_id = location_id = fee_id = 0
        for c in range(1, self.sizes.clinics + 1):
            clinic = {
                "id": c, "name": f"Bench Massage Therapy {c}",
                "address": f"{100 + c} Queen Street West, Toronto, ON M5H 2N{c % 10}",
                "phone": f"416-555-{1000 + c:04d}", "business_number": f"12345 678{c % 10} RT0001",
            }  # fmt: skip
            self.clinics.append(clinic)
            clinic_rows.append(
                (c, clinic["name"], clinic["address"], clinic["phone"], f"front{c}@bench.test",
                 clinic["business_number"], "ON", 10, created)
            )  # fmt: skip
            self.locations[c] = []
            for n in range(self.sizes.locations):
                location_id += 1
                self.locations[c].append(location_id)
                location_rows.append(
                    (location_id, c, f"Location {n + 1}", f"{n + 1} King St", "416-555-0100", True)
                )
            for role, name in (("owner", "Owen Owner"), ("front_desk", "Dana Desk")):
                user_id += 1
                if role == "owner":
                    self.owners[c] = user_id
                user_rows.append(
                    (user_id, c, f"{role}{c}@bench.test", f"{name} {c}", role, password, True,
                     False, secrets.token_urlsafe(16), created, "", "", "", "")
                )  # fmt: skip
            billing_rows.append(
                (
                    c,
                    "HST",
                    TAX_BP,
                    _dumps(["cash", "debit", "credit", "e_transfer", "gift_certificate"]),
                    created,
                )
            )
            for minutes, cents in FEES.items():
                fee_id += 1
                fee_rows.append((fee_id, c, minutes, cents))
        for t in range(self.sizes.therapists):
            user_id += 1
            c = t % self.sizes.clinics + 1
            name = f"{GIVEN[t % len(GIVEN)]} {FAMILY[(t * 7) % len(FAMILY)]}-{t + 1}"
            self.therapists.append(Person(user_id, c, name))
            user_rows.append(
                (user_id, c, f"rmt{t + 1}@bench.test", name, "therapist", password, True, False,
                 secrets.token_urlsafe(16), created, "RMT", f"U{10000 + t}",
                 "College of Massage Therapists of Ontario", "")
            )  # fmt: skip
        w = self.w
        w.insert("clinics", clinic_rows)
        w.insert("locations", location_rows)
        w.insert("users", user_rows)
        w.insert("billing_settings", billing_rows)
        w.insert("fee_schedule_items", fee_rows)

    def patients_and_histories(self, batch: int) -> None:
        rng, sizes = self.rng, self.sizes
        created = datetime.combine(self.first_day - timedelta(days=20), time(15), UTC)
        from app.models.types import fold, phone_key

        history_id = 0
        for start in range(0, sizes.patients, batch):
            patients, histories, consents = [], [], []
            for n in range(start + 1, min(start + batch, sizes.patients) + 1):
                c = (n - 1) % sizes.clinics + 1
                given, family = rng.choice(GIVEN), self._family_name()
                preferred = given[:3] if rng.random() < 0.1 else ""
                phone = f"{rng.choice((416, 647, 905))}-555-{rng.randrange(10000):04d}"
                dob = date(1940 + rng.randrange(65), rng.randrange(1, 13), rng.randrange(1, 29))
                owner = self.owners[c]
                patients.append(
                    (n, c, given, family, preferred, dob, phone, f"p{n}@example.test",
                     f"{n} Elm Street, Toronto", "Emergency Contact", "416-555-0000",
                     rng.choice(("Sun Life", "Manulife", "Canada Life", "")), f"POL{n:07d}",
                     False, None, "", created, created, fold(family), fold(given),
                     fold(preferred), phone_key(phone))
                )  # fmt: skip
                self.patients.setdefault(c, []).append(Person(n, c, f"{given} {family}"))
                versions = 2 if rng.random() < 0.3 else 1
                for v in range(1, versions + 1):
                    history_id += 1
                    histories.append(
                        (history_id, n, v, created + timedelta(days=v), owner,
                         _dumps(rng.choice(CONDITION_SETS)), rng.choice(("", "Ibuprofen as needed", "Levothyroxine 50 mcg")),
                         rng.choice(("", "Nuts", "Latex")), "", "Desk job; runs twice a week")
                    )  # fmt: skip
                consents.append(
                    (n, n, "treatment", created.date(), "written", _dumps(sorted(CONSENT_ELEMENTS)),
                     False, "", owner, created, _dumps([]))
                )  # fmt: skip
            self.w.insert("patients", patients)
            self.w.insert("health_histories", histories)
            self.w.insert("consents", consents)
            for p in patients:
                self._audit(
                    p[1], self.owners[p[1]], "patient:create", "patient", p[0], p[0], created, {}
                )
            self.flush_audit()
            self.w.commit()

    def _family_name(self) -> str:
        """A common family name, or one of the long tail (as in a real patient list)."""
        rng = self.rng
        if rng.random() < COMMON_SHARE:
            return rng.choice(FAMILY)
        return rng.choice(TAIL_START) + rng.choice(TAIL_MIDDLE) + rng.choice(TAIL_END)

    # visits, protocols, receipts
    def _protocol_pool(self) -> list[tuple[Any, ...]]:
        from app.protocols import get_library

        pool = []
        for p in get_library():
            if p.sensitive_area:  # those need a per-visit consent: keep the data simple
                continue
            pool.append(
                (p.id, p.content_version, p.title, p.category, p.summary, p.home_care,
                 False, p.red_flag_screen, _dumps(list(p.regions)))
            )  # fmt: skip
        if not pool:
            pool.append(("bench_swedish", "1-bench", "Swedish relaxation", "swedish_relaxation",
                         "Full-body relaxation massage", "", False, False, _dumps(["upper_back"])))  # fmt: skip
        return pool

    def _visit_json(self) -> tuple[str, str, str, str]:
        rng = self.rng
        regions = rng.sample(
            ["neck_posterior", "upper_back", "low_back", "shoulder", "interscapular"], 2
        )
        marks = [
            {
                "region": r,
                "side": rng.choice(("left", "right", "both")),
                "kind": rng.choice(("pain", "treated")),
                "intensity": rng.randrange(2, 8),
            }
            for r in regions
        ]
        points = [
            {
                "muscle": rng.choice(("upper_trapezius", "levator_scapulae", "rhomboids")),
                "side": "right",
                "status": "active",
                "referral": "temple",
            }
        ]
        flags = {code: "no" for code in ("thunderclap", "fever_stiff_neck", "vision_change")}
        return _dumps(["stiffness", "ache"][: rng.randrange(1, 3)]), _dumps(flags), _dumps(points), _dumps(marks)  # fmt: skip

    def visits(self, batch: int, progress: Progress) -> None:
        sizes, rng, w = self.sizes, self.rng, self.w
        signed_now = w.mode == "replica"
        visit_id = applied_id = receipt_id = 0
        slot_iter = self._slots()
        while visit_id < sizes.visits:
            visits, applied, receipts = [], [], []
            first_id = visit_id + 1
            for _ in range(min(batch, sizes.visits - visit_id)):
                visit_id += 1
                day, hour, therapist, rank = next(slot_iter)
                c = therapist.clinic_id
                patient = rng.choice(self.patients[c])
                minutes = rng.choice(DURATIONS)
                start = datetime.combine(day, time(hour))
                end = start + timedelta(minutes=minutes)
                # Signed after the longest visit of the slot, in generation order, so
                # receipt numbers rise with their issue times.
                signed_at = (start + UTC_OFFSET + SIGN_DELAY + rank * TICK).replace(tzinfo=UTC)
                created = (start + UTC_OFFSET - timedelta(days=2)).replace(tzinfo=UTC)
                symptoms, flags, points, marks = rng.choice(self.visit_json)
                complaint = rng.choice(COMPLAINTS)
                home_care = rng.choice(HOME_CARE)
                visits.append(
                    (visit_id, c, patient.id, therapist.id, rng.choice(self.locations[c]), start, end,
                     minutes, "attended", "signed" if signed_now else "draft", 2 if signed_now else 1,
                     created, signed_at, therapist.id, signed_at if signed_now else None,
                     therapist.id if signed_now else None, complaint,
                     "Began gradually about three months ago; no trauma.", symptoms, rng.randrange(3, 9),
                     "Posterior neck and upper shoulders", "Sitting, screens", "Heat, walking",
                     "Felt looser for three days after the last treatment", flags, "", "",
                     "Forward head posture, elevated right shoulder", "Cervical rotation 60° right, 70° left",
                     "Hypertonic upper trapezius bilaterally, tender points at the cranial base",
                     points, marks, rng.choice(NOTES), rng.choice(IMPRESSIONS),
                     "Reduced tension, improved rotation, no adverse reaction", rng.randrange(0, 4),
                     rng.choice(PLANS), "Weekly", "In one week", home_care, False, "")
                )  # fmt: skip
                for position in range(rng.choice((1, 1, 2, 2, 3))):
                    applied_id += 1
                    pid, version, title, category, summary, care, sensitive, screen, regions = (
                        rng.choice(self.protocols)
                    )
                    applied.append(
                        (applied_id, visit_id, position, pid, version, title, category, summary, care,
                         sensitive, screen, regions, "both", rng.choice((10, 15, 20, None)),
                         rng.choice(("light", "moderate", "firm")), "Tolerated well", _dumps({}),
                         signed_at - timedelta(minutes=30), therapist.id)
                    )  # fmt: skip
                self._audit(
                    c, therapist.id, "visit:sign", "visit", visit_id, patient.id, signed_at, {}
                )
                if rng.random() < RECEIPT_SHARE:
                    receipt_id += 1
                    number = self.counters[c] = self.counters.get(c, 0) + 1
                    issued = signed_at + timedelta(minutes=2)
                    fee = FEES[minutes]
                    tax = (fee * TAX_BP + 5000) // 10000
                    clinic = self.clinics[c - 1]
                    receipts.append(
                        (receipt_id, c, number, visit_id, patient.id, therapist.id, self.owners[c], issued,
                         None, secrets.token_urlsafe(24), clinic["name"], clinic["address"],
                         clinic["phone"], clinic["business_number"], patient.name, day, time(hour),
                         minutes, f"Massage Therapy treatment – {minutes} minutes", therapist.name, "RMT",
                         self._reg(therapist),
                         "College of Massage Therapists of Ontario", None, fee, fee, "", "HST", TAX_BP,
                         tax, fee + tax, rng.choice(("debit", "credit", "cash", "e_transfer")), fee + tax)
                    )  # fmt: skip
                    self._audit(
                        c, self.owners[c], "receipt:issue", "receipt", receipt_id, patient.id, issued,
                        {"number": number, "visit_id": visit_id, "total_cents": fee + tax, "supersedes": None},
                    )  # fmt: skip
            w.insert("visits", visits)
            w.insert("applied_protocols", applied)
            if not signed_now:  # sign the batch the way the app does: draft -> signed
                w.execute(
                    "UPDATE visits SET status = 'signed', signed_at = updated_at, "
                    "signed_by_id = therapist_id, lock_version = 2 WHERE id BETWEEN ? AND ?",
                    (first_id, visit_id),
                )
            w.insert("receipts", receipts)
            self.flush_audit()
            w.commit()
            progress.advance(len(visits))

    def _reg(self, therapist: Person) -> str:
        return f"U{10000 + therapist.id - self.therapists[0].id}"

    def _slots(self) -> Iterable[tuple[date, int, Person, int]]:
        day = self.first_day
        while True:
            for hour in SLOTS:
                for rank, therapist in enumerate(self.therapists):
                    yield day, hour, therapist, rank
            day += timedelta(days=1)

    # audit chain
    def _audit(
        self, clinic_id: int, actor_id: int, action: str, subject_type: str, subject_id: int,
        patient_id: int, at: datetime, details: dict[str, Any],
    ) -> None:  # fmt: skip
        chain = self.chains.setdefault(clinic_id, Chain())
        chain.seq += 1
        self.audit_id += 1
        event = _Event(
            clinic_id=clinic_id, seq=chain.seq, prev_hash=chain.prev, created_at=at,
            actor_id=actor_id, action=action, subject_type=subject_type, subject_id=subject_id,
            patient_id=patient_id, ip="", details=details,
        )  # fmt: skip
        digest = content_hash(event)
        self.audit_rows.append(
            (self.audit_id, clinic_id, actor_id, action, subject_type, subject_id, patient_id, "",
             at, _dumps(details), chain.seq, chain.prev, digest)
        )  # fmt: skip
        chain.prev = digest

    def flush_audit(self) -> None:
        self.w.insert("audit_events", self.audit_rows)
        self.audit_rows = []

    def finish(self) -> None:
        w = self.w
        w.insert("receipt_counters", sorted(self.counters.items()))
        heads = [(c, chain.seq, chain.prev) for c, chain in sorted(self.chains.items())]
        w.insert("audit_chain_heads", heads)
        if w.backend == "postgresql":
            for name in ("clinics", "locations", "users", "fee_schedule_items", "patients",
                         "health_histories", "consents", "visits", "applied_protocols",
                         "receipts", "audit_events"):  # fmt: skip
                w.execute(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608
                    f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {name}), false)"
                )
        w.commit()


def seed(
    visits: int,
    clinics: int | None = None,
    locations: int = 3,
    therapists: int | None = None,
    patients: int | None = None,
    batch: int = 5000,
    random_seed: int = 7,
    quiet: bool = False,
    now: datetime | None = None,
) -> SeedReport:
    """Bulk-load a synthetic chain with ``visits`` signed visits into an empty database."""
    if db.session.scalar(select(func.count()).select_from(Clinic)):
        raise SeedRefused("the database already holds clinics; seed a fresh, migrated database")
    db.session.remove()  # the writer uses its own connection
    sizes = Sizes.for_visits(visits, clinics, locations, therapists, patients)
    started = clock.perf_counter()
    writer = Writer()
    phases: dict[str, float] = {}
    try:
        gen = Generator(sizes, writer, random.Random(random_seed), now or datetime.now(UTC))  # noqa: S311
        mark = clock.perf_counter()
        gen.clinics_and_staff()
        gen.patients_and_histories(batch)
        phases["people"] = clock.perf_counter() - mark
        mark = clock.perf_counter()
        gen.visits(batch, Progress(sizes.visits, quiet))
        phases["visits"] = clock.perf_counter() - mark
        mark = clock.perf_counter()
        gen.finish()
        phases["finish"] = clock.perf_counter() - mark
    except BaseException:
        writer.raw.rollback()
        raise
    finally:
        writer.close()
    mark = clock.perf_counter()
    analyze()
    phases["analyze"] = clock.perf_counter() - mark
    mark = clock.perf_counter()
    check_compliance()
    phases["compliance"] = clock.perf_counter() - mark
    return SeedReport(
        visits, writer.counts, clock.perf_counter() - started, writer.backend, writer.mode, phases
    )


def check_compliance() -> None:
    """Build each clinic's compliance findings: the bulk load went around the ORM,
    which keeps them current for every other write (``app.oversight.flags``)."""
    from app.oversight import flags

    for clinic_id in db.session.scalars(select(Clinic.id).order_by(Clinic.id)).all():
        flags.full_check(clinic_id)
        db.session.commit()
    with db.engine.connect() as conn:
        conn.execute(text("ANALYZE compliance_flags"))
        conn.commit()


def analyze() -> None:
    """Refresh planner statistics after a bulk load (both databases use them)."""
    with db.engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
