"""The demo clinic loaded by ``flask demo`` (and ``make run`` on an empty database).

Every name, number and address here is invented. Passwords are public: never
load the demo into a database that holds real patients (the command refuses).
"""

from __future__ import annotations

import zlib
from datetime import date, time, timedelta

from app import audit
from app.audit import Action
from app.extensions import db
from app.models import (
    CONSENT_ELEMENTS,
    SIGNED,
    BillingSettings,
    Clinic,
    Consent,
    FeeScheduleItem,
    HealthHistory,
    Location,
    Patient,
    Role,
    User,
    Visit,
    utcnow,
)
from app.security import hash_password

DEMO_PASSWORD = "stillpoint-demo"  # noqa: S105 - published in the README on purpose

STAFF = [
    ("owner@demo.test", "Morgan Ellis", Role.OWNER, "", ""),
    ("rmt@demo.test", "Priya Raman", Role.THERAPIST, "RMT", "U4821"),
    ("rmt2@demo.test", "Daniel Okafor", Role.THERAPIST, "RMT", "U5307"),
    ("desk@demo.test", "Sam Tremblay", Role.FRONT_DESK, "", ""),
]

# (given, family, preferred, dob, phone, insurer, conditions, medications, notes)
PATIENTS = [
    (
        "Eleanor",
        "Whitfield",
        "Ellie",
        date(1958, 4, 12),
        "416-555-0141",
        "Sun Life",
        ["anticoagulants", "heart_condition"],
        "Apixaban 5 mg twice daily (atrial fibrillation)",
        "Neck stiffness and pain at the base of the skull for years; worse after gardening.",
    ),
    (
        "Marcus",
        "Chen",
        "",
        date(1987, 9, 3),
        "647-555-0192",
        "Manulife",
        ["recent_head_trauma"],
        "Acetaminophen as needed",
        "Fell cycling 5 weeks ago and hit his head; concussion diagnosed at the ER. Headaches since.",
    ),
    (
        "Sofia",
        "Marchetti",
        "",
        date(1992, 1, 27),
        "416-555-0177",
        "Green Shield",
        ["migraine"],
        "Sumatriptan 50 mg as needed",
        "Migraines about twice a month, often starting with neck tension after long screen days.",
    ),
    (
        "Aiden",
        "O'Connell",
        "",
        date(1979, 11, 19),
        "905-555-0113",
        "Canada Life",
        [],
        "",
        "Desk worker, 10-hour days. Tension-type headaches most afternoons; pain under the right shoulder blade.",
    ),
    (
        "Fatima",
        "Haddad",
        "",
        date(1969, 6, 8),
        "416-555-0158",
        "Blue Cross",
        ["osteoporosis", "corticosteroid_use"],
        "Alendronate weekly; prednisone 5 mg daily",
        "Forward head posture, upper back ache, reduced neck rotation to the left.",
    ),
    (
        "Jonah",
        "Levesque",
        "",
        date(2001, 3, 30),
        "437-555-0166",
        "",
        ["tmj_disorder"],
        "",
        "Clenches his jaw during exams; temple headaches and jaw pain on waking.",
    ),
    (
        "Grace",
        "Nakamura",
        "",
        date(1946, 8, 22),
        "416-555-0129",
        "Sun Life",
        ["anticoagulants", "uncontrolled_hypertension", "dizziness"],
        "Warfarin; amlodipine",
        "New headaches in the last two months. Physician aware; referred for relaxation massage.",
    ),
    (
        "Luis",
        "Herrera",
        "",
        date(1984, 12, 5),
        "647-555-0185",
        "Desjardins",
        ["cervical_disc_herniation"],
        "Naproxen as needed",
        "C5–C6 disc herniation (imaging 2025). Neck pain with occasional tingling into the right thumb.",
    ),
    (
        "Amara",
        "Boateng",
        "",
        date(1995, 5, 17),
        "416-555-0104",
        "Manulife",
        ["pregnancy"],
        "Prenatal vitamins",
        "24 weeks pregnant. Neck and upper back tension, headaches at the base of the skull.",
    ),
    (
        "Henry",
        "Kowalski",
        "Hank",
        date(1962, 2, 14),
        "905-555-0171",
        "Canada Life",
        ["diabetes", "peripheral_neuropathy"],
        "Metformin 1000 mg twice daily",
        "Neck stiffness after a whiplash injury (car accident, 2024). Reduced sensation in both feet.",
    ),
    (
        "Chloé",
        "Gagnon",
        "",
        date(1990, 10, 1),
        "514-555-0133",
        "Green Shield",
        ["anxiety_trauma"],
        "Sertraline 50 mg",
        "Stress-related neck and shoulder tension, poor sleep. Prefers to be told before each new area.",
    ),
    (
        "Ravi",
        "Sharma",
        "",
        date(1975, 7, 9),
        "416-555-0187",
        "Blue Cross",
        ["bleeding_disorder"],
        "",
        "Mild von Willebrand disease. Occipital headaches with neck pain after long drives.",
    ),
]


def load_demo() -> Clinic:
    """Create the demo clinic, its staff and a dozen patients; return the clinic."""
    clinic = Clinic(
        name="Demo Massage Therapy",
        address="120 Queen Street West, Suite 300, Toronto, ON M5H 2N2",
        phone="416-555-0100",
        email="hello@demo.test",
        business_number="123456789 RT0001",
    )
    db.session.add(clinic)
    db.session.flush()
    db.session.add_all(
        [
            Location(clinic_id=clinic.id, name="Downtown", address=clinic.address, phone=clinic.phone),
            Location(
                clinic_id=clinic.id, name="Leslieville",
                address="1010 Queen Street East, Toronto, ON M4M 1K1", phone="416-555-0200",
            ),
        ]
    )  # fmt: skip
    password_hash = hash_password(DEMO_PASSWORD)
    staff = {}
    for email, name, role, designation, number in STAFF:
        staff[email] = User(
            clinic_id=clinic.id, email=email, full_name=name, role=role, password_hash=password_hash,
            designation=designation, registration_number=number,
            registering_body="College of Massage Therapists of Ontario" if number else "",
        )  # fmt: skip
    db.session.add_all(staff.values())
    db.session.flush()
    therapist = staff["rmt@demo.test"]
    for given, family, preferred, dob, phone, insurer, conditions, meds, notes in PATIENTS:
        patient = Patient(
            clinic_id=clinic.id, given_name=given, family_name=family, preferred_name=preferred,
            date_of_birth=dob, phone=phone, insurer=insurer,
            email=f"{given.lower()}.{family.lower().replace(chr(39), '')}@example.test",
            policy_number=f"P{zlib.crc32(f'{given}{family}'.encode()) % 10_000_000:07d}" if insurer else "",
        )  # fmt: skip
        db.session.add(patient)
        db.session.flush()
        db.session.add(
            HealthHistory(
                patient_id=patient.id, version=1, recorded_by_id=therapist.id,
                conditions=sorted(conditions), medications=meds, notes=notes,
            )
        )  # fmt: skip
        db.session.add(
            Consent(
                patient_id=patient.id, given_on=date.today(), method="written",
                elements=sorted(CONSENT_ELEMENTS), recorded_by_id=therapist.id,
            )
        )  # fmt: skip
    _load_visits(clinic, staff, password_hash)
    audit.record(Action.CLINIC_CREATE, clinic, actor=None, via="demo")
    return clinic


PORTAL_EMAIL = "patient@demo.test"
FEES = {30: 7000, 45: 9500, 60: 12000, 90: 16500}  # cents, before HST
# (patient index, therapist email, days ago, start, minutes, complaint, pain before/after,
#  findings, impression, treatment, response, home care)
VISITS = [
    (
        2,
        "rmt@demo.test",
        21,
        time(9, 0),
        60,
        "Neck tension before a migraine",
        6,
        3,
        "Hypertonic suboccipitals and upper trapezius, left more than right",
        "Cervicogenic contribution to migraine onset",
        "Swedish warm-up, suboccipital release, gentle trigger point work upper trapezius",
        "Tension reduced, full rotation without pain",
        "Heat 15 minutes at the first sign of neck tension; chin tucks 10 x 3 daily",
    ),
    (
        2,
        "rmt@demo.test",
        7,
        time(9, 0),
        60,
        "Follow-up: two migraines this month, both milder",
        4,
        2,
        "Suboccipitals less tender; left levator scapulae taut",
        "Improving cervical myofascial tension",
        "Suboccipital release, levator scapulae stretch, scalene work",
        "Felt looser; no headache after treatment",
        "Levator scapulae stretch 30 s x 3 each side, twice daily",
    ),
    (
        3,
        "rmt2@demo.test",
        14,
        time(17, 30),
        45,
        "Afternoon tension headaches at the desk",
        5,
        2,
        "Forward head posture; tender upper trapezius trigger points referring to the temple",
        "Tension-type headache with myofascial trigger points",
        "Trigger point release upper trapezius and sternocleidomastoid, pectoral stretch",
        "Headache gone at the end of treatment",
        "Screen at eye level; stand up every 45 minutes; doorway pectoral stretch",
    ),
    (
        5,
        "rmt2@demo.test",
        10,
        time(11, 0),
        60,
        "Jaw pain on waking and temple headaches",
        6,
        3,
        "Hypertonic masseter and temporalis bilaterally; jaw opening 35 mm",
        "Myofascial pain of the muscles of mastication",
        "External masseter and temporalis release, cervical warm-up",
        "Jaw opening 40 mm after treatment",
        "Jaw relaxation: lips together, teeth apart; warm compress before bed",
    ),
]


def _load_visits(clinic: Clinic, staff: dict[str, User], password_hash: str) -> None:
    """A few weeks of signed, receipted visits, an overdue draft and a portal account."""
    from app.receipts.services import issue_receipt

    db.session.add(BillingSettings(clinic_id=clinic.id))
    db.session.add_all(
        FeeScheduleItem(clinic_id=clinic.id, minutes=m, fee_cents=c) for m, c in FEES.items()
    )
    patients = list(
        db.session.scalars(
            db.select(Patient).where(Patient.clinic_id == clinic.id).order_by(Patient.id)
        )
    )
    location = clinic.locations[0]
    today = date.today()
    for (
        index,
        email,
        days_ago,
        start,
        minutes,
        complaint,
        before,
        after,
        findings,
        impression,
        treatment,
        response,
        home_care,
    ) in VISITS:
        therapist = staff[email]
        visit = Visit(
            clinic_id=clinic.id,
            patient_id=patients[index].id,
            therapist_id=therapist.id,
            location_id=location.id,
            updated_by_id=therapist.id,
            chief_complaint=complaint,
            pain_before=before,
            pain_after=after,
            palpation=findings,
            clinical_impression=impression,
            treatment_notes=treatment,
            treatment_response=response,
            home_care=home_care,
            body_marks=[
                {"region": "neck_posterior", "side": "both", "kind": "treated", "intensity": 0}
            ],
        )
        visit.set_schedule(today - timedelta(days=days_ago), start, minutes)
        db.session.add(visit)
        db.session.flush()
        visit.status, visit.signed_at, visit.signed_by_id = SIGNED, utcnow(), therapist.id
        db.session.flush()
        issue_receipt(
            visit, staff["desk@demo.test"], fee_cents=FEES[minutes], payment_method="debit"
        )
    draft = Visit(
        clinic_id=clinic.id,
        patient_id=patients[3].id,
        therapist_id=staff["rmt2@demo.test"].id,
        location_id=location.id,
        updated_by_id=staff["rmt2@demo.test"].id,
        chief_complaint="Follow-up: headaches twice this week",
    )
    draft.set_schedule(today - timedelta(days=3), time(17, 30), 45)  # an overdue draft (R1)
    db.session.add(draft)
    db.session.add(
        User(
            clinic_id=clinic.id, email=PORTAL_EMAIL, full_name=patients[2].full_name,
            role=Role.PATIENT, patient_id=patients[2].id, password_hash=password_hash,
        )
    )  # fmt: skip
    db.session.flush()
