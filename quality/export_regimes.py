"""Export regimes of the critical materials: which legal route a movement across Japan's border
takes, with its source.

A movement of a critical material out of (or into) Japan needs a movement record whose route is
one of the material's routes here (`market.movements`). Three routes exist in Japanese law:

- Basel Act approval (特定有害廃棄物等の輸出入等の規制に関する法律, Act No. 108 of 1992): export
  approval by the Minister of Economy, Trade and Industry after the Minister of the Environment's
  confirmation (art. 4), import approval (art. 8) — for "specified hazardous wastes" (Basel
  Convention Annex VIII; between OECD members, the amber list of OECD Council Decision
  C(2001)107/FINAL), with the prior informed consent of the countries of import and transit.
- Waste Management Act confirmation (廃棄物の処理及び清掃に関する法律, Act No. 137 of 1970):
  export confirmation by the Minister of the Environment (art. 10), import permission
  (art. 15-4-5) — for wastes that are not Basel hazardous wastes.
- Not waste: a commodity that meets a published grade and so is neither; its evidence is a
  certificate of that grade (the certificate travels with the record), which a customs officer
  or the ministries may ask for.

The routes are data of the catalogue, shown beside each critical material (page and API); the
sources are the statutes and annex entries named in `source`.
"""

from dataclasses import dataclass
from enum import StrEnum

from participants.errors import N_


class Route(StrEnum):
    BASEL_ACT = "basel_act"
    WASTE_ACT = "waste_act"
    NOT_WASTE = "not_waste"


ROUTE_LABELS: dict[str, str] = {
    Route.BASEL_ACT: N_("Basel Act approval (specified hazardous wastes)"),
    Route.WASTE_ACT: N_("Waste Management Act export confirmation / import permission"),
    Route.NOT_WASTE: N_("Not waste: a graded commodity with a certificate of its grade"),
}

BASEL_ACT = (
    "特定有害廃棄物等の輸出入等の規制に関する法律 (Basel Act, Act No. 108 of 1992) arts. 4, 8"
)
WASTE_ACT = "廃棄物の処理及び清掃に関する法律 (Waste Management Act) art. 10, art. 15-4-5"


@dataclass(frozen=True)
class ExportRegime:
    material_code: str
    routes: tuple[Route, ...]  # the first is the usual one
    source: str


REGIMES: dict[str, ExportRegime] = {
    r.material_code: r
    for r in (
        ExportRegime(
            "copper_scrap",
            (Route.NOT_WASTE, Route.BASEL_ACT),
            "Basel Convention Annex IX B1010 (clean metal scrap: not controlled, evidence of grade)"
            "; Annex VIII A1180/A1181 for scrap mixed with e-waste or insulated cable; "
            + BASEL_ACT,
        ),
        ExportRegime(
            "waste_pcb",
            (Route.BASEL_ACT,),
            "Basel Convention Annex VIII A1180/A1181 (e-waste amendments in force 1 January "
            "2025); OECD Decision C(2001)107/FINAL amber list; " + BASEL_ACT,
        ),
        ExportRegime(
            "li_ion_black_mass",
            (Route.BASEL_ACT,),
            "Basel Convention Annex VIII A1170/A1180 (battery residues with cobalt and nickel "
            "compounds); " + BASEL_ACT,
        ),
        ExportRegime(
            "lead_acid_batteries",
            (Route.BASEL_ACT,),
            "Basel Convention Annex VIII A1160 (waste lead-acid batteries, whole or crushed); "
            + BASEL_ACT,
        ),
        ExportRegime(
            "elv_hulks",
            (Route.WASTE_ACT, Route.BASEL_ACT),
            "使用済自動車の再資源化等に関する法律 (ELV Recycling Act, Act No. 87 of 2002); hulks "
            "with fluids or hazardous parts: Basel Act; otherwise " + WASTE_ACT,
        ),
        ExportRegime(
            "pv_panels",
            (Route.BASEL_ACT, Route.WASTE_ACT, Route.NOT_WASTE),
            "Panels with lead or cadmium: Basel Convention Annex VIII A1180/A1181 and the Basel"
            " Act; other panels: " + WASTE_ACT + "; tested panels for reuse: not waste with "
            "evidence",
        ),
    )
}


def regime_of(material_code: str) -> ExportRegime | None:
    """The export regime of a critical material, or None (not watched)."""
    return REGIMES.get(material_code)
