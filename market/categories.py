"""Categories of hard-to-recycle items for public procurement, with the recommended minimum
recycled content and its source (US EPA CPG/RMAN, Japan's Green Purchasing Act criteria, …)
and an item classification (UNSPSC or CPV). Public: anyone may read them.

The seed rows follow `docs/procurement-references.md` (the EPA CPG table row by row,
the Green Purchasing Act examples, the hard-to-recycle streams) and, for batteries, the EU
Battery Regulation's recycled-content mandate of `quality-references.md`. Where a source gives
a range, the minimum is its lower bound and `note` says the range; where it gives no figure
("—", or a stream without a published recommendation), the minimum is None. Classifications
are CPV 2008 codes with their check digit (Regulation (EC) No 213/2008), the scheme OCDS
items name as "CPV". `source` and `note` are English msgids (N_), shown translated.
"""

from decimal import Decimal

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from market.models import ProcurementCategory
from participants.errors import N_, NotFound

# Hard-to-recycle streams a category (and a tender) can say its recycled content comes from.
STREAMS: dict[str, str] = {
    "mixed_plastics": N_("Mixed and multilayer plastics"),
    "e_scrap": N_("Waste circuit boards and small e-scrap"),
    "solar_panels": N_("End-of-life solar panels"),
    "textiles": N_("Textiles"),
    "lead_acid_batteries": N_("Used lead-acid batteries"),
    "li_ion_batteries": N_("Vehicle lithium-ion batteries"),
    "elv_shells": N_("End-of-life vehicle shells"),
}

EPA = N_("US EPA CPG/RMAN, 40 CFR Part 247 (non-binding recommendation)")
GPA_STATIONERY = N_(
    "Japan Green Purchasing Act (グリーン購入法), Basic Policy: criteria (判断の基準) for "
    "stationery, common criterion"
)
GPA_STAMP_PADS = N_(
    "Japan Green Purchasing Act (グリーン購入法), Basic Policy: criteria (判断の基準) for "
    "stamp pads and ink pads"
)
GPA_UNIFORMS = N_(
    "Japan Green Purchasing Act (グリーン購入法), Basic Policy: criteria (判断の基準) for "
    "uniforms and work clothes"
)
GPA_ENVELOPES = N_(
    "Japan Green Purchasing Act (グリーン購入法), Basic Policy: criteria (判断の基準) for "
    "kraft envelopes, FY2015 edition"
)
STREAM_SOURCE = N_(
    "Hard-to-recycle stream named in the policy papers behind Junkan: no recommended "
    "minimum is published"
)
EU_BATTERIES = N_("EU Battery Regulation (EU) 2023/1542, Art. 8: minimum recycled content")
SET_PER_TENDER = N_("No published minimum: set one in each tender.")


def _cpv(code: str, description: str) -> dict:
    return {
        "classification_scheme": "CPV",
        "classification_id": code,
        "classification_description": description,
    }


def _pct(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _row(
    code: str,
    name: tuple[str, str],
    material: tuple[str, str],
    classification: dict,
    unit: str,
    post_consumer: str | None,
    total: str | None,
    source: str,
    note: str = "",
    stream: str = "",
) -> dict:
    return {
        "code": code,
        "name_en": name[0],
        "name_ja": name[1],
        "material_en": material[0],
        "material_ja": material[1],
        "stream": stream,
        **classification,
        "unit": unit,
        "min_post_consumer_pct": _pct(post_consumer),
        "min_total_pct": _pct(total),
        "source": source,
        "note": note,
    }


BENCHES = _cpv("39113600-3", "Benches")
POSTS = _cpv("44144000-1", "Posts")
MARKER_POSTS = _cpv("34928410-5", "Marker posts")
BENCH_NAME_EN = "Park benches and picnic tables"
BENCH_NAME_JA = "公園用ベンチ・ピクニックテーブル"
LUMBER_NAME_EN = "Plastic lumber timbers and posts"
LUMBER_NAME_JA = "プラスチック製角材・杭"
DELINEATOR_NAME_EN = "Channelizers and delineators"
DELINEATOR_NAME_JA = "車線分離標・視線誘導標"

CATEGORIES: list[dict] = [
    # --- US EPA Comprehensive Procurement Guideline (CPG) / RMAN, 40 CFR Part 247 ----------
    _row(
        "park-bench-plastic",
        (f"{BENCH_NAME_EN} — plastic", f"{BENCH_NAME_JA}（プラスチック）"),
        ("plastic", "プラスチック"),
        BENCHES,
        "piece",
        "90",
        "100",
        EPA,
        N_("Recommended range: post-consumer 90–100 percent, total recovered 100 percent."),
        "mixed_plastics",
    ),
    _row(
        "park-bench-plastic-composite",
        (f"{BENCH_NAME_EN} — plastic composite", f"{BENCH_NAME_JA}（プラスチック複合材）"),
        ("plastic composite", "プラスチック複合材"),
        BENCHES,
        "piece",
        "50",
        "100",
        EPA,
        N_("Recommended range: post-consumer 50–100 percent, total recovered 100 percent."),
        "mixed_plastics",
    ),
    _row(
        "park-bench-aluminium",
        (f"{BENCH_NAME_EN} — aluminium", f"{BENCH_NAME_JA}（アルミニウム）"),
        ("aluminium", "アルミニウム"),
        BENCHES,
        "piece",
        "25",
        "25",
        EPA,
    ),
    _row(
        "park-bench-steel",
        (f"{BENCH_NAME_EN} — steel (EAF)", f"{BENCH_NAME_JA}（電炉鋼）"),
        ("steel, electric arc furnace", "鉄鋼（電気炉）"),
        BENCHES,
        "piece",
        "67",
        "100",
        EPA,
    ),
    _row(
        "plastic-lumber-hdpe",
        (f"{LUMBER_NAME_EN} — HDPE", f"{LUMBER_NAME_JA}（HDPE）"),
        ("HDPE", "高密度ポリエチレン（HDPE）"),
        POSTS,
        "piece",
        "25",
        "75",
        EPA,
        N_("Recommended range: post-consumer 25–100 percent, total recovered 75–100 percent."),
    ),
    _row(
        "plastic-lumber-mixed-resins",
        (f"{LUMBER_NAME_EN} — mixed resins", f"{LUMBER_NAME_JA}（混合樹脂）"),
        ("mixed resins", "混合樹脂"),
        POSTS,
        "piece",
        "50",
        "95",
        EPA,
        N_("Recommended range: post-consumer 50–100 percent, total recovered 95–100 percent."),
        "mixed_plastics",
    ),
    _row(
        "delineator-plastic",
        (f"{DELINEATOR_NAME_EN} — plastic", f"{DELINEATOR_NAME_JA}（プラスチック）"),
        ("plastic", "プラスチック"),
        MARKER_POSTS,
        "piece",
        "25",
        "25",
        EPA,
        N_("Recommended range: post-consumer 25–95 percent, total recovered 25–95 percent."),
    ),
    _row(
        "delineator-rubber-base",
        (f"{DELINEATOR_NAME_EN} — rubber base", f"{DELINEATOR_NAME_JA}（ゴム製基部）"),
        ("rubber (base)", "ゴム（基部）"),
        MARKER_POSTS,
        "piece",
        "100",
        "100",
        EPA,
    ),
    _row(
        "insulation-cellulose",
        ("Building insulation — cellulose", "建築用断熱材（セルロースファイバー）"),
        ("cellulose", "セルロース"),
        _cpv("44111520-2", "Thermal insulating material"),
        "kg",
        "75",
        "75",
        EPA,
    ),
    _row(
        "traffic-cone",
        ("Traffic cones", "ロードコーン（カラーコーン）"),
        ("rubber or plastic", "ゴムまたはプラスチック"),
        _cpv("34928460-0", "Road cones"),
        "piece",
        "10",
        "50",
        N_("New York State specification (not a US EPA recommendation)"),
    ),
    _row(
        "copier-paper",
        ("Copier paper", "コピー用紙"),
        ("paper fibre", "紙（繊維）"),
        _cpv("30197642-8", "Photocopier paper and xerographic paper"),
        "ream",
        "30",
        None,
        N_("US federal requirement (listed with US EPA CPG/RMAN, 40 CFR Part 247)"),
        N_("No total recovered content is given."),
    ),
    # --- Japan, Green Purchasing Act: 特定調達品目 and 判断の基準 (examples) ----------------
    _row(
        "stationery-plastic-parts",
        (
            "Stationery (common criterion) — plastic parts",
            "文具類（共通判断基準）— プラスチック部分",
        ),
        ("recycled plastic", "再生プラスチック"),
        _cpv("30192000-1", "Office supplies"),
        "piece",
        None,
        "40",
        GPA_STATIONERY,
        N_(
            "Recycled plastic at least 40 percent of the plastic parts' weight; paper parts: "
            "recovered-paper pulp at least 50 percent. The criteria are revised every year: "
            "check the current Basic Policy."
        ),
    ),
    _row(
        "stamp-pad",
        ("Stamp pads and ink pads", "スタンプ台・朱肉"),
        ("recycled plastic", "再生プラスチック"),
        _cpv("30192111-2", "Ink pads"),
        "piece",
        None,
        "70",
        GPA_STAMP_PADS,
    ),
    _row(
        "uniform",
        ("Uniforms and work clothes", "制服・作業服"),
        ("recycled-PET polyester", "再生PETポリエステル"),
        _cpv("18110000-3", "Occupational clothing"),
        "piece",
        None,
        "25",
        GPA_UNIFORMS,
        N_(
            "At least 25 percent of the fibre weight, or at least 10 percent with a take-back "
            "and recycling scheme."
        ),
    ),
    _row(
        "kraft-envelope",
        ("Kraft envelopes", "クラフト封筒"),
        ("recovered-paper pulp", "古紙パルプ"),
        _cpv("30199230-1", "Envelopes"),
        "piece",
        None,
        "40",
        GPA_ENVELOPES,
    ),
    # --- Hard-to-recycle streams ----------------------------------------------------------
    _row(
        "mixed-plastics-products",
        ("Products of mixed and multilayer plastics", "混合・多層プラスチック製品"),
        ("mixed and multilayer plastics", "混合・多層プラスチック"),
        _cpv("19520000-7", "Plastic products"),
        "piece",
        None,
        None,
        STREAM_SOURCE,
        SET_PER_TENDER,
        "mixed_plastics",
    ),
    _row(
        "e-scrap-metals",
        (
            "Metals recovered from circuit boards and small e-scrap",
            "廃基板・小型家電スクラップ由来の金属",
        ),
        ("copper and precious metals", "銅・貴金属"),
        _cpv("14700000-8", "Basic metals"),
        "kg",
        None,
        None,
        STREAM_SOURCE,
        SET_PER_TENDER,
        "e_scrap",
    ),
    _row(
        "solar-panel-glass",
        ("Glass recovered from end-of-life solar panels", "使用済み太陽光パネル由来のガラス"),
        ("glass", "ガラス"),
        _cpv("14820000-5", "Glass"),
        "kg",
        None,
        None,
        STREAM_SOURCE,
        SET_PER_TENDER,
        "solar_panels",
    ),
    _row(
        "recycled-textiles",
        ("Textile articles of recycled textile fibre", "再生繊維を使用した繊維製品"),
        ("recycled textile fibre", "再生繊維"),
        _cpv("39500000-7", "Textile articles"),
        "piece",
        None,
        None,
        STREAM_SOURCE,
        SET_PER_TENDER,
        "textiles",
    ),
    _row(
        "lead-acid-battery-lead",
        ("Lead-acid batteries — recycled lead", "鉛蓄電池（再生鉛）"),
        ("lead from used lead-acid batteries", "使用済み鉛蓄電池由来の鉛"),
        _cpv("31431000-6", "Lead-acid accumulators"),
        "piece",
        None,
        "85",
        EU_BATTERIES,
        N_("Lead 85 percent from August 2031 (batteries placed on the EU market)."),
        "lead_acid_batteries",
    ),
    _row(
        "li-ion-battery-cobalt",
        (
            "Vehicle lithium-ion batteries — recycled cobalt",
            "車載用リチウムイオン電池（再生コバルト）",
        ),
        ("cobalt", "コバルト"),
        _cpv("31434000-7", "Lithium accumulators"),
        "piece",
        None,
        "16",
        EU_BATTERIES,
        N_("Cobalt 16 percent from August 2031, 26 percent from August 2036 (EU market)."),
        "li_ion_batteries",
    ),
    _row(
        "li-ion-battery-lithium",
        (
            "Vehicle lithium-ion batteries — recycled lithium",
            "車載用リチウムイオン電池（再生リチウム）",
        ),
        ("lithium", "リチウム"),
        _cpv("31434000-7", "Lithium accumulators"),
        "piece",
        None,
        "6",
        EU_BATTERIES,
        N_("Lithium 6 percent from August 2031, 12 percent from August 2036 (EU market)."),
        "li_ion_batteries",
    ),
    _row(
        "li-ion-battery-nickel",
        (
            "Vehicle lithium-ion batteries — recycled nickel",
            "車載用リチウムイオン電池（再生ニッケル）",
        ),
        ("nickel", "ニッケル"),
        _cpv("31434000-7", "Lithium accumulators"),
        "piece",
        None,
        "6",
        EU_BATTERIES,
        N_("Nickel 6 percent from August 2031, 15 percent from August 2036 (EU market)."),
        "li_ion_batteries",
    ),
]

# Units of the seed rows (what a quantity of the category counts).
UNITS: dict[str, str] = {"piece": N_("piece"), "kg": N_("kg"), "ream": N_("ream")}


class ProcurementCategoryOut(BaseModel):
    """A procurement category: the item, its material, the recommended minimum recycled
    content (per cent; null where the source gives none) and where that comes from."""

    id: int
    code: str = Field(description="stable slug, e.g. park-bench-plastic")
    name_en: str
    name_ja: str
    material_en: str
    material_ja: str
    stream: str = Field(description="the hard-to-recycle stream, or empty")
    classification_scheme: str = Field(description="CPV or UNSPSC")
    classification_id: str
    classification_description: str
    unit: str
    min_post_consumer_pct: str | None
    min_total_pct: str | None
    source: str
    note: str


def category_out(c: ProcurementCategory) -> ProcurementCategoryOut:
    def pct(value: Decimal | None) -> str | None:
        return None if value is None else format(Decimal(value).normalize(), "f")

    return ProcurementCategoryOut(
        id=c.id,
        code=c.code,
        name_en=c.name_en,
        name_ja=c.name_ja,
        material_en=c.material_en,
        material_ja=c.material_ja,
        stream=c.stream,
        classification_scheme=c.classification_scheme,
        classification_id=c.classification_id,
        classification_description=c.classification_description,
        unit=c.unit,
        min_post_consumer_pct=pct(c.min_post_consumer_pct),
        min_total_pct=pct(c.min_total_pct),
        source=c.source,
        note=c.note,
    )


def seed_categories(session: Session) -> int:
    """Insert the categories that are missing (idempotent); the number inserted."""
    known = set(session.exec(select(ProcurementCategory.code)).all())
    added = 0
    for row in CATEGORIES:
        if row["code"] not in known:
            session.add(ProcurementCategory(**row))
            added += 1
    session.flush()
    return added


def categories_query():
    """All categories, by code (a select to page through)."""
    return select(ProcurementCategory).order_by(col(ProcurementCategory.code))


def list_categories(session: Session) -> list[ProcurementCategory]:
    """All categories, by code."""
    return list(session.exec(categories_query()).all())


def get_category(session: Session, category_id: int) -> ProcurementCategory:
    """A category by id, or NotFound (field `category_id`)."""
    category = session.get(ProcurementCategory, category_id) if 1 <= category_id < 2**31 else None
    if category is None:
        raise NotFound(N_("No such procurement category."), "category_id")
    return category
