"""Catalogue seed: materials, parameters and grade standards from public references.

Standards follow docs/quality-references.md row by row under the codes given
there; "(approx)" in a source marks a market or supplier figure rather than a formal standard.
Interpretation choices are commented where they are made. Price-adjustment figures are our own
defensible estimates (2024–25 Japanese market levels), not part of the cited sources.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from quality.errors import UnknownStandard
from quality.grading import (
    AdjustmentSchedule,
    BreachAction,
    DecisionRule,
    DerivedParameter,
    Family,
    GradeSpec,
    Limit,
    LimitKind,
    Requirement,
)

D = Decimal
DEDUCT, DOWNGRADE, REJECT = BreachAction.DEDUCT, BreachAction.DOWNGRADE, BreachAction.REJECT


@dataclass(frozen=True)
class MaterialRef:
    code: str
    family: Family
    name_en: str
    name_ja: str
    critical: bool = False  # watched for export (critical raw material)


@dataclass(frozen=True)
class ParameterRef:
    code: str
    name_en: str
    name_ja: str
    unit: str
    basis: str
    derived_from: tuple[str, ...] = ()  # non-empty: the exact sum of these parameters


@dataclass(frozen=True)
class StandardRef:
    code: str
    name_en: str
    name_ja: str
    material: str
    source: str
    spec: GradeSpec


MATERIALS: tuple[MaterialRef, ...] = (
    MaterialRef("ferrous_scrap", Family.METAL, "Ferrous scrap", "鉄スクラップ"),
    MaterialRef("copper_scrap", Family.METAL, "Copper scrap", "銅スクラップ", critical=True),
    MaterialRef("aluminium_scrap", Family.METAL, "Aluminium scrap", "アルミニウムスクラップ"),
    MaterialRef("stainless_scrap", Family.METAL, "Stainless steel scrap", "ステンレススクラップ"),
    MaterialRef(
        "waste_pcb", Family.E_SCRAP, "Waste printed circuit boards", "廃プリント基板", True
    ),
    MaterialRef(
        "li_ion_black_mass",
        Family.BATTERY,
        "Lithium-ion battery black mass",
        "リチウムイオン電池ブラックマス",
        True,
    ),
    MaterialRef(
        "lead_acid_batteries", Family.BATTERY, "Spent lead-acid batteries", "使用済み鉛蓄電池", True
    ),
    MaterialRef(
        "elv_hulks",
        Family.METAL,
        "End-of-life vehicle hulks",
        "使用済自動車の解体済みボディ（廃車ガラ）",
        True,
    ),
    MaterialRef(
        "pv_panels", Family.E_SCRAP, "End-of-life solar PV panels", "使用済太陽光パネル", True
    ),
    MaterialRef(
        "pet",
        Family.PLASTIC,
        "PET (polyethylene terephthalate)",
        "PET（ポリエチレンテレフタレート）",
    ),
    MaterialRef("pp", Family.PLASTIC, "PP (polypropylene)", "PP（ポリプロピレン）"),
    MaterialRef(
        "hdpe", Family.PLASTIC, "HDPE (high-density polyethylene)", "HDPE（高密度ポリエチレン）"
    ),
    MaterialRef(
        "ldpe", Family.PLASTIC, "LDPE (low-density polyethylene)", "LDPE（低密度ポリエチレン）"
    ),
    MaterialRef("ps", Family.PLASTIC, "PS (polystyrene)", "PS（ポリスチレン）"),
    MaterialRef("abs", Family.PLASTIC, "ABS (acrylonitrile butadiene styrene)", "ABS樹脂"),
    MaterialRef("mixed_polyolefins", Family.PLASTIC, "Mixed polyolefins", "混合ポリオレフィン"),
)

_AR = "as received"
_DRY = "dry basis"
PARAMETERS: tuple[ParameterRef, ...] = (
    ParameterRef("cu_pct", "Copper (Cu)", "銅（Cu）", "wt %", _AR),
    ParameterRef("ni_pct", "Nickel (Ni)", "ニッケル（Ni）", "wt %", _AR),
    ParameterRef("cr_pct", "Chromium (Cr)", "クロム（Cr）", "wt %", _AR),
    ParameterRef("mo_pct", "Molybdenum (Mo)", "モリブデン（Mo）", "wt %", _AR),
    ParameterRef("p_pct", "Phosphorus (P)", "りん（P）", "wt %", _AR),
    ParameterRef("s_pct", "Sulphur (S)", "硫黄（S）", "wt %", _AR),
    ParameterRef("co_pct", "Cobalt (Co)", "コバルト（Co）", "wt %", _DRY),
    ParameterRef("li_pct", "Lithium (Li)", "リチウム（Li）", "wt %", _DRY),
    ParameterRef("al_pct", "Aluminium (Al)", "アルミニウム（Al）", "wt %", _AR),
    ParameterRef("fe_pct", "Iron (Fe)", "鉄（Fe）", "wt %", _AR),
    ParameterRef("f_pct", "Fluorine (F)", "ふっ素（F）", "wt %", _DRY),
    ParameterRef("zn_pct", "Zinc (Zn)", "亜鉛（Zn）", "wt %", _AR),
    ParameterRef("mg_pct", "Magnesium (Mg)", "マグネシウム（Mg）", "wt %", _AR),
    ParameterRef("free_zn_pct", "Free zinc pieces", "遊離亜鉛片", "wt %", _AR),
    ParameterRef("free_mg_pct", "Free magnesium pieces", "遊離マグネシウム片", "wt %", _AR),
    ParameterRef("foreign_pct", "Foreign materials", "異物", "wt %", _AR),
    ParameterRef("oil_grease_pct", "Oil and grease", "油脂分", "wt %", _AR),
    ParameterRef("painted_pct", "Painted material", "塗装材", "wt %", _AR),
    ParameterRef("fines_pct", "Fines (through 20 mesh)", "細粒分（20メッシュ通過）", "wt %", _AR),
    ParameterRef("non_metallic_pct", "Non-metallics", "非金属分", "wt %", _AR),
    ParameterRef("rubber_plastic_pct", "Rubber and plastic", "ゴム・プラスチック", "wt %", _AR),
    ParameterRef("moisture_pct", "Moisture", "水分", "wt %", f"{_AR}, ISO 15512 for plastics"),
    ParameterRef("ash_pct", "Ash", "灰分", "wt %", "ISO 3451-1"),
    ParameterRef("iv_dl_g", "Intrinsic viscosity", "固有粘度（IV）", "dl/g", "ISO 1628-5"),
    ParameterRef(
        "mfr_g_10min",
        "Melt flow rate",
        "メルトフローレート（MFR）",
        "g/10 min",
        "ISO 1133, test conditions of the polymer",
    ),
    ParameterRef("pvc_ppm", "PVC", "PVC", "ppm", "by weight, dry basis"),
    ParameterRef("pe_pp_ppm", "PE/PP", "PE・PP", "ppm", "by weight, dry basis"),
    ParameterRef("metal_ppm", "Metal", "金属", "ppm", "by weight, dry basis"),
    ParameterRef("glue_ppm", "Glue", "接着剤", "ppm", "by weight, dry basis"),
    ParameterRef("hdpe_pct", "HDPE content", "HDPE含有率", "wt %", "bale audit, as received"),
    # One figure per lot: the largest of the listed contaminants (each is limited alike).
    ParameterRef(
        "contaminant_pct",
        "Largest listed contaminant",
        "個別異物の最大値",
        "wt %",
        "bale audit, as received",
    ),
    # Precious metals of printed circuit boards: fire assay of a milled, sampled lot.
    ParameterRef("au_gpt", "Gold (Au)", "金（Au）", "g/t", "fire assay, dry basis"),
    ParameterRef("ag_gpt", "Silver (Ag)", "銀（Ag）", "g/t", "fire assay, dry basis"),
    ParameterRef("pd_gpt", "Palladium (Pd)", "パラジウム（Pd）", "g/t", "fire assay, dry basis"),
    ParameterRef("thickness_mm", "Thickness", "厚さ", "mm", "per piece, thinnest"),
    ParameterRef("length_mm", "Length", "長さ", "mm", "per piece, largest"),
    ParameterRef("width_mm", "Width", "幅", "mm", "per piece, largest"),
    ParameterRef("piece_kg", "Piece weight", "単重", "kg", "per piece, heaviest"),
    ParameterRef("bulk_density_kg_m3", "Bulk density", "かさ密度", "kg/m³", _AR),
    ParameterRef("density_kg_m3", "Density", "密度", "kg/m³", "ISO 1183-1"),
    ParameterRef("hdt_c", "Heat deflection temperature", "荷重たわみ温度", "°C", "ISO 75"),
    ParameterRef(
        "ni_co_pct", "Nickel + cobalt", "ニッケル＋コバルト", "wt %", _DRY, ("ni_pct", "co_pct")
    ),
)

NI_CO = DerivedParameter("ni_co_pct", ("ni_pct", "co_pct"))


def _min(parameter: str, bound: str, action: BreachAction = REJECT, **options: Any) -> Limit:
    return Limit(parameter, LimitKind.MIN, min=D(bound), action=action, **options)


def _max(parameter: str, bound: str, action: BreachAction = REJECT, **options: Any) -> Limit:
    return Limit(parameter, LimitKind.MAX, max=D(bound), action=action, **options)


def _range(parameter: str, low: str, high: str, **options: Any) -> Limit:
    return Limit(parameter, LimitKind.RANGE, min=D(low), max=D(high), **options)


def _req(code: str, text_en: str, text_ja: str) -> Requirement:
    return Requirement(code, text_en, text_ja, REJECT)


# --- Price-adjustment schedules (yen per tonne per unit of deviation beyond the limit) -------

# Copper ≈ ¥1.45 M/t (LME ≈ USD 9,500/t at ≈ ¥152/USD, 2024–25): each 1 % Cu short of 94 % is
# ≈ ¥14,500/t of copper not delivered; ¥15,000 (¥1,500 per 0.1 %) adds the extra refining.
# Below 92 % the lot is no longer No.2 copper: not good delivery.
COPPER_SHORTFALL = AdjustmentSchedule(D(0), D(15000), None, D(2))
# Excess oil and grease is weight paid as metal: deducted at old-sheet price ≈ ¥250/kg; more
# than 3 % in total needs de-oiling first: not good delivery.
ALUMINIUM_OIL = AdjustmentSchedule(D(0), D(2500), None, D(2))
# Painted siding loses ≈ 5–6 % of its weight as coating and dross when delacquered: ¥1,500 per
# % over 10 %, capped at ¥15,000 (at 20 % the lot is simply priced as painted siding).
ALUMINIUM_PAINT = AdjustmentSchedule(D(0), D(1500), 15000, None)
# 20-mesh fines mostly burn to dross: deducted as weight at turnings price ≈ ¥180/kg.
TURNINGS_FINES = AdjustmentSchedule(D(0), D(1800), None, None)
# Non-metallics are weight paid as metal: ≈ ¥200/kg for shredder aluminium; above 10 % not
# good delivery (it needs re-sorting).
SHRED_NON_METALLIC = AdjustmentSchedule(D(0), D(2000), None, D(5))
# Rubber and plastic also smoke in the melt: weight at ¥200/kg plus ≈ ¥1,000 fume treatment;
# above 2 % rejected.
SHRED_RUBBER_PLASTIC = AdjustmentSchedule(D(0), D(3000), None, D(1))
# Iron in secondary aluminium is diluted with primary metal: 0.1 % tolerated (assay
# reproducibility), then ¥5,000 per % capped at ¥5,000; above 3 % Fe not good delivery.
SHRED_IRON = AdjustmentSchedule(D("0.1"), D(5000), 5000, D("1.5"))
# "Cu or Al above 2 % trades at steep discounts": NCM black mass ≈ ¥700,000/t; each extra % of
# Cu or Al costs precipitation reagent and payables, ≈ 7 % of value. 0.2 % band for assay
# reproducibility; capped at ≈ 15 % of value; above 6 % not good delivery for hydrometallurgy.
BLACK_MASS_IMPURITY = AdjustmentSchedule(D("0.2"), D(50000), 100000, D(4))
# Water is weight paid as flake: deducted at clear flake price ≈ ¥130/kg; above 2 % moisture
# the flakes must be re-dried before extrusion: rejected.
FLAKE_MOISTURE = AdjustmentSchedule(D(0), D(1300), None, D(1))

# --- Qualitative requirements -----------------------------------------------------------------

NO_VISIBLE_OIL = _req("no_visible_oil", "No visible oil.", "目視で油分が認められないこと。")
BALE_REQUIREMENTS = (
    _req("no_pvc", "No PVC.", "PVCを含まないこと。"),
    _req("no_metal", "No metal.", "金属を含まないこと。"),
    _req("no_glass", "No glass.", "ガラスを含まないこと。"),
)

_ISRI = "ISRI circular"
_JFRMA = "鉄スクラップ検収統一規格 (Japan Ferrous Raw Materials Association)"

# Thickness on the JFRMA ladder is a band, not a quality floor: a lot outside the band belongs
# to another grade (best_grade finds it), so thickness breaches reject rather than guess a
# target. HS pieces that are too large or heavy are still H1 size: downgrade.
_BAND = "thickness band of the grade; other thicknesses are another JFRMA grade"

STANDARDS: tuple[StandardRef, ...] = (
    StandardRef(
        "ISRI-BIRCH-CLIFF",
        "No.2 copper wire and solids (Birch/Cliff)",
        "2号銅線・銅塊（Birch/Cliff）",
        "copper_scrap",
        "ISRI Scrap Specifications Circular, proposed changes notice 2017",
        GradeSpec(
            "ISRI-BIRCH-CLIFF",
            1,
            "copper_scrap",
            rank=1,
            limits=(
                _min(
                    "cu_pct",
                    "94",
                    DEDUCT,
                    schedule=COPPER_SHORTFALL,
                    note="nominal 96 %, electrolytic assay",
                ),
            ),
            requirements=(
                _req("no_brass", "Free of brass.", "真鍮を含まないこと。"),
                _req("no_excess_oil", "Free of excess oil.", "過度の油分を含まないこと。"),
                _req("no_insulation", "Free of insulation.", "被覆（絶縁材）を含まないこと。"),
                _req(
                    "no_burnt_brittle_wire",
                    "Free of burnt, brittle wire.",
                    "焼損してもろくなった線を含まないこと。",
                ),
            ),
        ),
    ),
    StandardRef(
        "ISRI-TAINT-TABOR",
        "Old aluminium sheet (Taint/Tabor)",
        "アルミ旧板（Taint/Tabor）",
        "aluminium_scrap",
        _ISRI,
        GradeSpec(
            "ISRI-TAINT-TABOR",
            1,
            "aluminium_scrap",
            rank=2,
            limits=(
                _max("oil_grease_pct", "1", DEDUCT, schedule=ALUMINIUM_OIL),
                _max("painted_pct", "10", DEDUCT, schedule=ALUMINIUM_PAINT, note="painted siding"),
            ),
            requirements=(
                _req("no_foil", "No foil.", "箔を含まないこと。"),
                _req("no_castings", "No castings.", "鋳物を含まないこと。"),
                _req("no_cans", "No cans.", "缶を含まないこと。"),
                _req("no_7xxx", "No 7xxx alloys.", "7000系合金を含まないこと。"),
                _req("no_plastic", "No plastic.", "プラスチックを含まないこと。"),
                _req("no_dirt", "No dirt.", "土砂・汚れを含まないこと。"),
            ),
        ),
    ),
    StandardRef(
        "ISRI-TABOO",
        "Low-copper aluminium clips (Taboo)",
        "低銅アルミクリップ（Taboo）",
        "aluminium_scrap",
        _ISRI,
        GradeSpec(
            "ISRI-TABOO",
            1,
            "aluminium_scrap",
            rank=1,
            limits=(
                _min("thickness_mm", "0.38", note="0.015 in"),
                _max("oil_grease_pct", "1", DEDUCT, schedule=ALUMINIUM_OIL),
            ),
            requirements=(
                _req(
                    "no_2xxx_7xxx", "No 2xxx or 7xxx alloys.", "2000系・7000系合金を含まないこと。"
                ),
            ),
        ),
    ),
    StandardRef(
        "ISRI-TELIC",
        "Aluminium turnings (Telic)",
        "アルミ切粉（Telic）",
        "aluminium_scrap",
        _ISRI,
        GradeSpec(
            "ISRI-TELIC",
            1,
            "aluminium_scrap",
            rank=4,
            limits=(
                _max("fines_pct", "3", DEDUCT, schedule=TURNINGS_FINES, note="20 mesh"),
                _max("fe_pct", "10", note="above 10 % not good delivery"),
                Limit(
                    "free_mg_pct",
                    LimitKind.NONE_DETECTED,
                    action=REJECT,
                    note="any free magnesium rejects",
                ),
            ),
            requirements=(
                _req("no_stainless", "No stainless steel.", "ステンレスを含まないこと。"),
            ),
        ),
    ),
    StandardRef(
        "ISRI-EM1",
        "Eddy-current aluminium (EM1)",
        "渦電流選別アルミ（EM1）",
        "aluminium_scrap",
        _ISRI,
        GradeSpec(
            "ISRI-EM1",
            1,
            "aluminium_scrap",
            rank=5,
            limits=(
                # 30 lb/ft³ × 16.018 463 kg/m³ = 480.554 kg/m³, as published: 480.55.
                _min("bulk_density_kg_m3", "480.55", note="30 lb/ft³"),
                _max("non_metallic_pct", "5", DEDUCT, schedule=SHRED_NON_METALLIC),
                _max(
                    "rubber_plastic_pct",
                    "1",
                    DEDUCT,
                    schedule=SHRED_RUBBER_PLASTIC,
                    note="part of the non-metallics",
                ),
            ),
        ),
    ),
    StandardRef(
        "ISRI-TWIRE",
        "Aluminium from shredded scrap (Twire)",
        "シュレッダー由来アルミ（Twire）",
        "aluminium_scrap",
        _ISRI,
        GradeSpec(
            "ISRI-TWIRE",
            1,
            "aluminium_scrap",
            rank=3,
            limits=(
                _max("free_zn_pct", "4"),
                _max("free_mg_pct", "1"),
                _max("fe_pct", "1.5", DEDUCT, schedule=SHRED_IRON),
            ),
        ),
    ),
    StandardRef(
        "ISRI-18-8",
        "18-8 stainless steel solids",
        "18-8ステンレス塊",
        "stainless_scrap",
        _ISRI,
        GradeSpec(
            "ISRI-18-8",
            1,
            "stainless_scrap",
            rank=1,
            limits=(
                _min("ni_pct", "7"),
                _min("cr_pct", "16"),
                _max("mo_pct", "0.50"),
                _max("cu_pct", "0.50"),
                _max("p_pct", "0.045"),
                _max("s_pct", "0.03"),
            ),
        ),
    ),
    StandardRef(
        "EU-EOW-FE",
        "Iron and steel scrap, end-of-waste",
        "鉄スクラップ（EU廃棄物終了基準）",
        "ferrous_scrap",
        "Regulation (EU) 333/2011 Annex I",
        GradeSpec(
            "EU-EOW-FE",
            1,
            "ferrous_scrap",
            rank=8,
            limits=(_max("foreign_pct", "2"),),
            requirements=(
                NO_VISIBLE_OIL,
                _req(
                    "radioactivity_checked",
                    "Radioactivity checked for each consignment.",
                    "積荷ごとに放射線検査を実施済みであること。",
                ),
            ),
        ),
    ),
    StandardRef(
        "EU-EOW-AL",
        "Aluminium scrap, end-of-waste",
        "アルミニウムスクラップ（EU廃棄物終了基準）",
        "aluminium_scrap",
        "Regulation (EU) 333/2011 Annex II",
        GradeSpec("EU-EOW-AL", 1, "aluminium_scrap", rank=6, limits=(_max("foreign_pct", "5"),)),
    ),
    StandardRef(
        "EU-EOW-CU",
        "Copper scrap, end-of-waste",
        "銅スクラップ（EU廃棄物終了基準）",
        "copper_scrap",
        "Regulation (EU) 715/2013 Annex I",
        GradeSpec(
            "EU-EOW-CU",
            1,
            "copper_scrap",
            rank=2,
            limits=(_max("foreign_pct", "2", max_exclusive=True),),
            requirements=(
                NO_VISIBLE_OIL,
                _req("no_pvc_coating", "No PVC coatings.", "PVC被覆を含まないこと。"),
                _req(
                    "no_pressurised_containers",
                    "No pressurised containers.",
                    "圧力容器を含まないこと。",
                ),
            ),
        ),
    ),
    StandardRef(
        "JP-FE-HS",
        "Heavy steel scrap, special (HS)",
        "ヘビー特級（HS）",
        "ferrous_scrap",
        _JFRMA,
        GradeSpec(
            "JP-FE-HS",
            1,
            "ferrous_scrap",
            rank=1,
            limits=(
                _min("thickness_mm", "6", note=_BAND),
                _max("width_mm", "500", DOWNGRADE, downgrade_to="JP-FE-H1"),
                _max("length_mm", "700", DOWNGRADE, downgrade_to="JP-FE-H1"),
                _max("piece_kg", "600", DOWNGRADE, downgrade_to="JP-FE-H1"),
            ),
        ),
    ),
    StandardRef(
        "JP-FE-H1",
        "Heavy steel scrap No.1 (H1)",
        "ヘビー1号（H1）",
        "ferrous_scrap",
        _JFRMA,
        GradeSpec(
            "JP-FE-H1",
            1,
            "ferrous_scrap",
            rank=2,
            limits=(
                _min("thickness_mm", "6", note=_BAND),
                _max("width_mm", "500", note="oversize must be cut"),
                _max("length_mm", "1200", note="oversize must be cut"),
                _max("piece_kg", "1000", note="oversize must be cut"),
            ),
        ),
    ),
    StandardRef(
        "JP-FE-H2",
        "Heavy steel scrap No.2 (H2)",
        "ヘビー2号（H2）",
        "ferrous_scrap",
        _JFRMA,
        GradeSpec(
            "JP-FE-H2",
            1,
            "ferrous_scrap",
            rank=3,
            limits=(_range("thickness_mm", "3", "6", max_exclusive=True, note=_BAND),),
        ),
    ),
    StandardRef(
        "JP-FE-H3",
        "Heavy steel scrap No.3 (H3)",
        "ヘビー3号（H3）",
        "ferrous_scrap",
        _JFRMA,
        GradeSpec(
            "JP-FE-H3",
            1,
            "ferrous_scrap",
            rank=4,
            limits=(_range("thickness_mm", "1", "3", max_exclusive=True, note=_BAND),),
        ),
    ),
    StandardRef(
        "JP-FE-H4",
        "Heavy steel scrap No.4 (H4)",
        "ヘビー4号（H4）",
        "ferrous_scrap",
        _JFRMA,
        GradeSpec(
            "JP-FE-H4",
            1,
            "ferrous_scrap",
            rank=5,
            limits=(_max("thickness_mm", "1", max_exclusive=True, note=_BAND),),
        ),
    ),
    # JIS G 2401 chemistry classes and the EU end-of-waste criteria are not steps of the JFRMA
    # size ladder; they rank after it so that best_grade names the size grade when one applies.
    StandardRef(
        "JIS-G2401-LPSCU",
        "Steel scrap, low phosphorus, sulphur and copper class",
        "鉄スクラップ 低りん・低硫黄・低銅区分",
        "ferrous_scrap",
        "JIS G 2401",
        GradeSpec(
            "JIS-G2401-LPSCU",
            1,
            "ferrous_scrap",
            rank=6,
            limits=(_max("p_pct", "0.025"), _max("s_pct", "0.025"), _max("cu_pct", "0.15")),
        ),
    ),
    StandardRef(
        "JIS-G2401-LCU",
        "Steel scrap, low-copper class",
        "鉄スクラップ 低銅区分",
        "ferrous_scrap",
        "JIS G 2401",
        GradeSpec("JIS-G2401-LCU", 1, "ferrous_scrap", rank=7, limits=(_max("cu_pct", "0.20"),)),
    ),
    # Black mass is heterogeneous: sampling and assay uncertainty are several % relative and
    # payables hinge on Ni, Co and Li, so the guarded rule puts that uncertainty on the seller
    # who claims the grade. The Ni/Co/Li bands are those of the price assessment; a lot
    # outside them is priced on another basis, so it is not this grade.
    StandardRef(
        "BM-NCM-EU",
        "Battery black mass, NCM/NCA (Europe)",
        "ブラックマス NCM/NCA（欧州）",
        "li_ion_black_mass",
        "Fastmarkets black-mass payable methodology (Europe) (approx, market indicator)",
        GradeSpec(
            "BM-NCM-EU",
            1,
            "li_ion_black_mass",
            rank=1,
            decision_rule=DecisionRule.GUARDED,
            limits=(
                _range("ni_pct", "15", "25"),
                _range("co_pct", "5", "15"),
                _range("li_pct", "3", "5"),
                _max("cu_pct", "2", DEDUCT, schedule=BLACK_MASS_IMPURITY),
                _max("al_pct", "2", DEDUCT, schedule=BLACK_MASS_IMPURITY),
                _min("ni_co_pct", "20"),
            ),
            requirements=(
                _req(
                    "dried",
                    "Dried; assayed on a dry basis.",
                    "乾燥済みであること（乾量基準で分析）。",
                ),
            ),
            derived=(NI_CO,),
        ),
    ),
    StandardRef(
        "BM-NCM-US",
        "Battery black mass (US)",
        "ブラックマス（米国）",
        "li_ion_black_mass",
        "Fastmarkets US black-mass methodology, 2024 (approx)",
        GradeSpec(
            "BM-NCM-US",
            1,
            "li_ion_black_mass",
            rank=2,
            limits=(
                _range("co_pct", "3", "13"),
                _max("f_pct", "5"),
                _max("fe_pct", "1"),
                _range("ni_co_pct", "18", "38"),
            ),
            derived=(NI_CO,),
        ),
    ),
    # Food-contact rPET: contaminants in ppm are counted on small samples with a large relative
    # uncertainty, and a PVC excess ruins a whole extrusion run, so the guarded rule protects
    # the buyer.
    StandardRef(
        "RPET-FLAKE-A",
        "Clear rPET flake, grade A",
        "透明再生PETフレーク A",
        "pet",
        "supplier specifications (several) (approx)",
        GradeSpec(
            "RPET-FLAKE-A",
            1,
            "pet",
            rank=1,
            decision_rule=DecisionRule.GUARDED,
            limits=(
                _range("iv_dl_g", "0.72", "0.80"),
                _max("moisture_pct", "1.0", DEDUCT, schedule=FLAKE_MOISTURE),
                _max("pvc_ppm", "50"),
                _max("pe_pp_ppm", "80"),
                _max("metal_ppm", "50"),
                _max("glue_ppm", "50"),
            ),
        ),
    ),
    # The model bale bands (> 95 / 85–94 / 80–84 %) are floors of a ladder: a purer bale also
    # satisfies a lower grade (so a stricter grade is acceptable wherever a lower one is asked
    # for), and a bale below a floor drops one step: A → B → C → rejected. The integer gaps
    # of the bands (94–95, 84–85) are closed: 94.5 % is B, exactly 95 % is B, 85 % is B.
    StandardRef(
        "HDPE-NAT-A",
        "Natural HDPE bottle bales, grade A",
        "ナチュラルHDPEボトルベール A",
        "hdpe",
        "industry model bale specification (approx)",
        GradeSpec(
            "HDPE-NAT-A",
            1,
            "hdpe",
            rank=1,
            limits=(
                _min("hdpe_pct", "95", DOWNGRADE, min_exclusive=True, downgrade_to="HDPE-NAT-B"),
                _max("contaminant_pct", "2", note="each listed contaminant"),
            ),
            requirements=BALE_REQUIREMENTS,
        ),
    ),
    StandardRef(
        "HDPE-NAT-B",
        "Natural HDPE bottle bales, grade B",
        "ナチュラルHDPEボトルベール B",
        "hdpe",
        "industry model bale specification (approx)",
        GradeSpec(
            "HDPE-NAT-B",
            1,
            "hdpe",
            rank=2,
            limits=(
                _min("hdpe_pct", "85", DOWNGRADE, downgrade_to="HDPE-NAT-C"),
                _max("contaminant_pct", "2", note="each listed contaminant"),
            ),
            requirements=BALE_REQUIREMENTS,
        ),
    ),
    StandardRef(
        "HDPE-NAT-C",
        "Natural HDPE bottle bales, grade C",
        "ナチュラルHDPEボトルベール C",
        "hdpe",
        "industry model bale specification (approx)",
        GradeSpec(
            "HDPE-NAT-C",
            1,
            "hdpe",
            rank=3,
            limits=(
                _min("hdpe_pct", "80"),
                _max("contaminant_pct", "2", note="each listed contaminant"),
            ),
            requirements=BALE_REQUIREMENTS,
        ),
    ),
)


# Waste printed circuit boards (Basel Convention A1180): smelters buy them on their precious
# metals and copper, assayed after milling. The typical compositions come from Hagelüken's
# survey of e-scrap feed at an integrated precious-metals smelter; the floors are our own
# reading of it (about 60 % of the typical content, so that an ordinary lot of the class
# qualifies): PC boards Au 250, Ag 1,000, Pd 110 g/t, Cu 20 %; TV boards Au 17, Ag 280,
# Pd 10 g/t, Cu 10 %.
_HAGELUEKEN = (
    "C. Hagelüken, Recycling of electronic scrap at Umicore's integrated metals smelter and "
    "refinery, World of Metallurgy – Erzmetall 59 (2006) 152–161, typical compositions "
    "(approx; floors ours)"
)
STANDARDS += (
    StandardRef(
        "PCB-HIGH",
        "High-grade printed circuit boards (computer and telecom boards)",
        "高品位プリント基板（パソコン・通信機器基板）",
        "waste_pcb",
        _HAGELUEKEN,
        GradeSpec(
            "PCB-HIGH",
            1,
            "waste_pcb",
            rank=1,
            limits=(
                _min("au_gpt", "150"),
                _min("ag_gpt", "600"),
                _min("pd_gpt", "60"),
                _min("cu_pct", "15"),
            ),
            requirements=(
                _req(
                    "no_batteries",
                    "Batteries and capacitors with liquid electrolyte removed.",
                    "電池・液体電解質コンデンサを取り外していること。",
                ),
            ),
        ),
    ),
    StandardRef(
        "PCB-LOW",
        "Low-grade printed circuit boards (TV and appliance boards)",
        "低品位プリント基板（テレビ・家電基板）",
        "waste_pcb",
        _HAGELUEKEN,
        GradeSpec(
            "PCB-LOW",
            1,
            "waste_pcb",
            rank=2,
            limits=(_min("au_gpt", "10"), _min("ag_gpt", "150"), _min("cu_pct", "6")),
            requirements=(
                _req(
                    "no_batteries",
                    "Batteries and capacitors with liquid electrolyte removed.",
                    "電池・液体電解質コンデンサを取り外していること。",
                ),
            ),
        ),
    ),
)


def find_standard(code: str) -> StandardRef:
    """The seeded standard with this code."""
    for standard in STANDARDS:
        if standard.code == code:
            return standard
    raise UnknownStandard(None, "code", code=code)


def specs_of(material: str) -> list[GradeSpec]:
    """Version-1 specs of one material's seeded standards, best rank first."""
    return sorted((s.spec for s in STANDARDS if s.material == material), key=lambda s: s.rank)
