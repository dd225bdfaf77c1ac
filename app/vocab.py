"""Controlled vocabularies shared by health histories, protocols and charting.

Codes are stable identifiers stored in the database and in protocol files;
labels are what people read. Add codes, never rename or remove one: stored
records and protocol files refer to them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    code: str
    label: str
    hint: str = ""


def _index(*terms: Term) -> dict[str, Term]:
    return {t.code: t for t in terms}


# Health conditions: recorded in a patient's health history and named by a
# protocol's contraindications. The checker matches on these codes.
CONDITIONS = _index(
    Term(
        "anticoagulants",
        "Takes anticoagulants or antiplatelets",
        "warfarin, apixaban, rivaroxaban, daily aspirin…",
    ),
    Term(
        "bleeding_disorder",
        "Bleeding disorder",
        "haemophilia, von Willebrand disease, low platelets",
    ),
    Term("dvt", "Deep vein thrombosis (current or suspected)"),
    Term("recent_head_trauma", "Head trauma or concussion in the last 3 months"),
    Term("skull_fracture", "Recent skull fracture"),
    Term("stroke_or_brain_bleed", "Stroke or brain bleed in the last 6 months"),
    Term("aneurysm", "Aneurysm (cerebral or aortic)"),
    Term("csf_leak", "Cerebrospinal fluid (CSF) leak"),
    Term("raised_icp", "Raised intracranial pressure"),
    Term("vertebral_artery_disease", "Vertebral or carotid artery disease or dissection"),
    Term(
        "cervical_instability",
        "Cervical instability",
        "e.g. rheumatoid arthritis of the neck, Down syndrome, recent neck surgery",
    ),
    Term("cervical_disc_herniation", "Cervical disc herniation or radiculopathy"),
    Term("acute_whiplash", "Whiplash injury in the last 72 hours"),
    Term("recent_fracture", "Fracture in the last 8 weeks"),
    Term("recent_surgery", "Surgery in the last 8 weeks"),
    Term("osteoporosis", "Osteoporosis"),
    Term("rheumatoid_arthritis", "Rheumatoid or inflammatory arthritis"),
    Term("pregnancy", "Pregnancy"),
    Term("cancer", "Cancer (current or in treatment)"),
    Term("fever", "Fever or acute systemic infection"),
    Term("acute_inflammation", "Acute inflammation in the area"),
    Term("skin_condition", "Open wound, burn or contagious skin condition in the area"),
    Term("uncontrolled_hypertension", "Uncontrolled high blood pressure"),
    Term("heart_condition", "Heart condition or pacemaker"),
    Term("diabetes", "Diabetes"),
    Term("peripheral_neuropathy", "Peripheral neuropathy or reduced sensation"),
    Term("epilepsy", "Epilepsy or seizure disorder"),
    Term("corticosteroid_use", "Long-term corticosteroid use"),
    Term("varicose_veins", "Varicose veins"),
    Term("lymphedema", "Lymphedema"),
    Term("fibromyalgia", "Fibromyalgia"),
    Term("migraine", "Migraine"),
    Term("tmj_disorder", "Temporomandibular joint disorder"),
    Term("dizziness", "Unexplained dizziness or vertigo"),
    Term("hypermobility", "Joint hypermobility"),
    Term("contact_lenses", "Wears contact lenses"),
    Term("implants_face_head", "Facial or cranial implants, fillers or recent dental work"),
    Term("anxiety_trauma", "Anxiety, or a history of trauma affecting touch"),
)

# Technique categories: one per protocol; also the sub-folders of protocols/.
CATEGORIES = _index(
    Term("trigger_point", "Trigger point therapy"),
    Term("myofascial_release", "Myofascial release"),
    Term("craniosacral", "Craniosacral techniques"),
    Term("deep_tissue", "Deep tissue"),
    Term("stretching_muscle_energy", "Stretching and muscle energy"),
    Term("range_of_motion", "Range of motion"),
    Term("posture_ergonomics", "Posture and ergonomics"),
    Term("swedish_relaxation", "Swedish / relaxation"),
)

# Body regions. `sensitive` regions need written consent before every treatment (R3).
REGIONS = _index(
    Term("head", "Head and scalp"),
    Term("face", "Face"),
    Term("jaw", "Jaw (temporomandibular)"),
    Term("cranial_base", "Cranial base (suboccipital)"),
    Term("neck_posterior", "Back of the neck"),
    Term("neck_lateral", "Side of the neck"),
    Term("neck_anterior", "Front of the neck"),
    Term("shoulder", "Shoulder"),
    Term("upper_back", "Upper back"),
    Term("interscapular", "Between the shoulder blades"),
    Term("mid_back", "Mid back"),
    Term("low_back", "Low back"),
    Term("chest", "Chest (pectoral)"),
    Term("chest_wall", "Chest wall"),
    Term("breast", "Breast"),
    Term("arm", "Arm"),
    Term("forearm_hand", "Forearm and hand"),
    Term("abdomen", "Abdomen"),
    Term("gluteal", "Gluteal region"),
    Term("upper_inner_thigh", "Upper inner thigh"),
    Term("thigh", "Thigh"),
    Term("leg_foot", "Lower leg and foot"),
    Term("full_body", "Full body"),
)
SENSITIVE_REGIONS = frozenset({"chest_wall", "breast", "gluteal", "upper_inner_thigh"})

MUSCLES = _index(
    Term("upper_trapezius", "Upper trapezius"),
    Term("middle_trapezius", "Middle trapezius"),
    Term("lower_trapezius", "Lower trapezius"),
    Term("levator_scapulae", "Levator scapulae"),
    Term("rhomboids", "Rhomboids"),
    Term("suboccipitals", "Suboccipitals"),
    Term("splenius_capitis", "Splenius capitis"),
    Term("splenius_cervicis", "Splenius cervicis"),
    Term("semispinalis_capitis", "Semispinalis capitis"),
    Term("cervical_multifidus", "Cervical multifidus and rotatores"),
    Term("sternocleidomastoid", "Sternocleidomastoid"),
    Term("scalenes", "Scalenes"),
    Term("deep_neck_flexors", "Deep neck flexors (longus colli and capitis)"),
    Term("temporalis", "Temporalis"),
    Term("masseter", "Masseter"),
    Term("pterygoids", "Pterygoids"),
    Term("frontalis", "Frontalis"),
    Term("occipitalis", "Occipitalis"),
    Term("infraspinatus", "Infraspinatus"),
    Term("supraspinatus", "Supraspinatus"),
    Term("teres_minor", "Teres minor"),
    Term("pectoralis_major", "Pectoralis major"),
    Term("pectoralis_minor", "Pectoralis minor"),
    Term("serratus_posterior_superior", "Serratus posterior superior"),
    Term("serratus_anterior", "Serratus anterior"),
    Term("thoracic_erector_spinae", "Thoracic erector spinae"),
    Term("latissimus_dorsi", "Latissimus dorsi"),
    Term("deltoid", "Deltoid"),
)

INDICATIONS = _index(
    Term("tension_type_headache", "Tension-type headache"),
    Term("cervicogenic_headache", "Cervicogenic headache"),
    Term("occipital_neuralgia", "Occipital neuralgia"),
    Term("migraine_neck_tension", "Migraine with neck tension"),
    Term("neck_pain", "Neck pain (non-specific)"),
    Term("neck_stiffness", "Neck stiffness or reduced range of motion"),
    Term("forward_head_posture", "Forward head posture"),
    Term("whiplash_associated_disorder", "Whiplash-associated disorder (subacute or chronic)"),
    Term("upper_back_pain", "Upper back pain"),
    Term("interscapular_pain", "Pain under or between the shoulder blades"),
    Term("shoulder_pain", "Shoulder pain"),
    Term("jaw_pain", "Jaw pain or clenching"),
    Term("stress", "Stress and muscle tension"),
    Term("sleep_disturbance", "Poor sleep linked to tension"),
    Term("desk_work_strain", "Strain from desk or device work"),
    Term("thoracic_outlet_symptoms", "Thoracic outlet symptoms (arm tingling with neck tension)"),
)


def label(vocabulary: dict[str, Term], code: str) -> str:
    """Return the label of ``code``, or the code itself if unknown (old data)."""
    term = vocabulary.get(code)
    return term.label if term else code


# Symptoms checklist for the S of a SOAP note (from the clinic pages in shared/seeds).
SYMPTOMS = _index(
    Term("neck_stiffness", "Neck stiffness"),
    Term("pain_base_of_skull", "Pain at the base of the skull"),
    Term("pain_behind_eye", "Pain behind the eye"),
    Term("temple_pain", "Pain at the temples"),
    Term("band_like_pressure", "Band-like pressure around the head"),
    Term("one_sided_headache", "One-sided headache"),
    Term("shoulder_blade_pain", "Pain under or between the shoulder blades"),
    Term("dizziness", "Dizziness"),
    Term("nausea", "Nausea"),
    Term("light_sensitivity", "Sensitivity to light"),
    Term("sound_sensitivity", "Sensitivity to sound"),
    Term("visual_disturbance", "Visual disturbance or aura"),
    Term("scalp_tingling", "Scalp tingling or numbness"),
    Term("arm_tingling", "Tingling or numbness in the arm or hand"),
    Term("jaw_pain", "Jaw pain or clicking"),
    Term("reduced_rotation", "Reduced neck rotation"),
    Term("fatigue", "Fatigue"),
    Term("poor_sleep", "Poor sleep"),
)

# S1: red flags that call for referral before neck or cranial work.
RED_FLAGS = _index(
    Term("thunderclap", "Sudden, severe (“thunderclap”) headache"),
    Term("fever_stiff_neck", "Headache with fever or a stiff neck"),
    Term("vision_change", "Vision change or double vision"),
    Term("weakness_numbness", "New weakness or numbness"),
    Term("speech_swallowing", "Trouble speaking or swallowing"),
    Term("drop_attacks_dizziness", "Drop attacks, fainting or unexplained dizziness"),
    Term("head_trauma", "Headache after a blow to the head"),
    Term("new_after_50", "New headache pattern after age 50"),
    Term(
        "progressive_positional",
        "Headache that is getting steadily worse, or changes with position",
    ),
)

RED_FLAG_DECISIONS = _index(
    Term("referred", "Referred to a physician before neck or cranial work", "to whom"),
    Term("cleared", "Cleared by a physician", "who cleared, and when"),
    Term("not_applicable", "Not applicable", "why"),
)

MARK_KINDS = _index(
    Term("pain", "Pain"),
    Term("trigger_point", "Trigger point"),
    Term("treated", "Area treated"),
)

SIDES = _index(
    Term("left", "Left"),
    Term("right", "Right"),
    Term("both", "Both sides"),
    Term("midline", "Midline"),
)
