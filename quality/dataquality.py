"""Data-quality level of a lot, 0–4, by how complete its evidence is.

Plastics follow DIN SPEC 91446 (now EN 18065): level 1 is the basic description (polymer,
PCR or PIR source, form, colour); level 2 adds lab values for ash, melt flow rate and
moisture; level 3 adds density and bulk density; level 4 adds heat deflection temperature and
identification of the polymer by IR or DSC. Metals, e-scrap and batteries follow the same
ladder in spirit: declared composition → lab assay → accredited lab with the method stated →
third-party inspection with a radioactivity check. Each level needs every lower one.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from quality.errors import InvalidEvidence
from quality.grading import Family

PLASTIC_DESCRIPTION = ("polymer", "source", "form", "colour")
PLASTIC_SOURCES = ("PCR", "PIR")  # post-consumer / post-industrial recyclate
PLASTIC_LEVEL_2 = ("ash_pct", "mfr_g_10min", "moisture_pct")
PLASTIC_LEVEL_3 = ("density_kg_m3", "bulk_density_kg_m3")
PLASTIC_LEVEL_4 = ("hdt_c",)
IDENTIFICATION_METHODS = ("IR", "DSC")
METAL_DESCRIPTION = ("composition",)


@dataclass(frozen=True)
class LotEvidence:
    """What is known about a lot: declared description, lab results and inspection facts."""

    family: Family
    declared: Mapping[str, str] = field(default_factory=dict)
    measured: frozenset[str] = frozenset()
    lab_accredited: bool = False
    method_stated: bool = False
    third_party_inspected: bool = False
    radioactivity_checked: bool = False
    identification_method: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "family", Family(self.family))
        except ValueError:
            raise InvalidEvidence(
                "Unknown material family %(family)s.", "family", family=str(self.family)
            ) from None
        object.__setattr__(self, "declared", MappingProxyType(dict(self.declared)))
        object.__setattr__(self, "measured", frozenset(self.measured))
        method = self.identification_method
        if method is not None and method.strip().upper() not in IDENTIFICATION_METHODS:
            raise InvalidEvidence(
                "Identification must be by IR or DSC, not %(method)s.",
                "identification_method",
                method=method,
            )


def _declared(evidence: LotEvidence, name: str) -> bool:
    value = evidence.declared.get(name)
    if value is None or not str(value).strip():
        return False
    if name == "source" and evidence.family is Family.PLASTIC:
        return str(value).strip().upper() in PLASTIC_SOURCES
    return True


def _ladder(evidence: LotEvidence) -> list[list[str]]:
    """For levels 1–4, what is still lacking (field or parameter codes); [] = reached."""
    measured = evidence.measured
    if evidence.family is Family.PLASTIC:
        return [
            [name for name in PLASTIC_DESCRIPTION if not _declared(evidence, name)],
            [code for code in PLASTIC_LEVEL_2 if code not in measured],
            [code for code in PLASTIC_LEVEL_3 if code not in measured],
            [code for code in PLASTIC_LEVEL_4 if code not in measured]
            + ([] if evidence.identification_method else ["identification_method"]),
        ]
    return [
        [name for name in METAL_DESCRIPTION if not _declared(evidence, name)],
        [] if measured else ["lab_assay"],
        [name for name in ("lab_accredited", "method_stated") if not getattr(evidence, name)],
        [
            name
            for name in ("third_party_inspected", "radioactivity_checked")
            if not getattr(evidence, name)
        ],
    ]


def data_quality_level(evidence: LotEvidence) -> int:
    """Highest level 1–4 whose evidence (and every lower level's) is complete; 0 if none."""
    level = 0
    for lacking in _ladder(evidence):
        if lacking:
            break
        level += 1
    return level


def missing_for_next_level(evidence: LotEvidence) -> list[str]:
    """Field or parameter codes to add for the next level; [] at level 4."""
    for lacking in _ladder(evidence):
        if lacking:
            return lacking
    return []
