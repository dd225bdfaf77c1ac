"""The library's search and filter form (GET, no JavaScript needed)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SearchField, SelectField
from wtforms.validators import Length, Optional

from app.forms import strip_filter
from app.protocols.library import Library
from app.vocab import CATEGORIES, INDICATIONS, MUSCLES, REGIONS, Term

FILTERS = {
    "category": (CATEGORIES, "Any technique"),
    "region": (REGIONS, "Any region"),
    "muscle": (MUSCLES, "Any muscle"),
    "indication": (INDICATIONS, "Any indication"),
}


class ProtocolSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search, changes nothing

    q = SearchField(
        "Search protocols",
        [Optional(), Length(max=200)],
        filters=[strip_filter],
        description="Words from the title, muscles, indications or procedure.",
    )
    category = SelectField("Technique", choices=[], validate_choice=False)
    region = SelectField("Body region", choices=[], validate_choice=False)
    muscle = SelectField("Muscle", choices=[], validate_choice=False)
    indication = SelectField("Indication", choices=[], validate_choice=False)

    def offer(self, library: Library) -> None:
        """Offer only the codes some protocol in ``library`` uses, in vocabulary order."""
        used = library.used_codes()
        for name, (vocabulary, anything) in FILTERS.items():
            terms: list[Term] = [t for code, t in vocabulary.items() if code in used[name]]
            getattr(self, name).choices = [("", anything)] + [(t.code, t.label) for t in terms]

    def criteria(self) -> dict[str, str]:
        """The valid search words and filters; an unknown code is ignored, not an error."""
        self.validate()
        chosen = {"query": (self.q.data or "")[:200] if not self.q.errors else ""}
        for name in FILTERS:
            field = getattr(self, name)
            offered = {value for value, _ in field.choices}
            chosen[name] = field.data if field.data in offered else ""
        return chosen
