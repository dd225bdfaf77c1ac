"""The demo clinic loaded by ``flask demo`` (and ``make run`` on an empty database).

Every name, number and address here is invented. Passwords are public: never
load the demo into a database that holds real patients (the command refuses).
"""

from __future__ import annotations

import zlib
from datetime import date

from app import audit
from app.audit import Action
from app.extensions import db
from app.models import (
    CONSENT_ELEMENTS,
    Clinic,
    Consent,
    HealthHistory,
    Location,
    Patient,
    Role,
    User,
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
    audit.record(Action.CLINIC_CREATE, clinic, actor=None, via="demo")
    return clinic
