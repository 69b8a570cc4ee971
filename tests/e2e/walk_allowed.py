"""ASCII words that may stand in Japanese text (the walk, tests/e2e/test_e2e_walk.py).

Only proper nouns, units, currency and trade abbreviations, standards and their code words: a
Japanese reader meets them in Japanese business documents as they are. What the demo's people
wrote themselves (names, addresses, titles, messages) is read from the demo data by the walk,
from the tables of USER_CONTENT_TABLES. A word that is English prose (Open, Draft, road, limit …) must never be added: translate it instead."""

ALLOWED = frozenset(
    # The product and its marks.
    {"Junkan"}
    # Currencies, units and number words.
    | {"JPY", "USD", "EUR", "CNY", "KRW", "kWh", "MWh", "GWh", "ppm", "ppb", "kgCO", "CO2e"}
    # Standards bodies, schemes and their documents.
    | {"ISO", "JIS", "ISRI", "IEC", "OECD", "METI", "MOE", "EU", "EOW", "NEDO", "JOGMEC"}
    | {"OCDS", "UNSPSC", "CPV", "GHG", "LCA", "PPWR", "REACH", "RoHS", "WEEE", "BATT"}
    # Trade terms (Incoterms 2020) and documents.
    | {"EXW", "FCA", "FAS", "FOB", "CFR", "CIF", "CPT", "CIP", "DAP", "DPU", "DDP", "HS"}
    # Materials and grades by their trade abbreviations.
    | {"HDPE", "LDPE", "PET", "RPET", "NCM", "LFP", "PCB", "SCRAP", "FLAKE", "BALE", "NAT"}
    # ISRI Scrap Specifications code words (names of grades, not English prose).
    | {"Barley", "Berry", "Birch", "Candy", "Cliff", "Clove", "Cobra", "Cocoa", "Druid"}
    | {"Taboo", "Tabor", "Taint", "Telic", "Twire", "Talon", "Tense", "Tepid", "Ocean"}
    # Japanese iron and steel scrap grades (JIS G and the Japan Ferrous Raw Materials
    # Association's codes: ヘビー H1, H2, HS, shredder A …).
    | {"LCU", "LPSCU", "EMN", "TAINT", "TABOR", "TABOO", "TELIC", "TWIRE", "BIRCH", "CLIFF"}
    # Country and place codes that the pages show beside their names.
    | {"JP", "KR", "CN", "DE", "US", "TW", "VN", "TH", "BE"}
    # Payment, identifiers and formats people type or read as they are.
    | {"Stripe", "PDF", "CSV", "JSON", "API", "URL", "QR", "ID", "XML", "SVG", "PNG", "JPEG"}
    # Recycling abbreviations used as they are in Japanese trade: plastics (ABS), recycled
    # content (PCR post-consumer, PIR post-industrial), chain of custody (CoC), the US EPA's
    # procurement guidelines, test methods (DSC), Japan Standard Time.
    | {"ABS", "PCR", "PIR", "CoC", "EPA", "DSC", "JST", "PVC", "PP", "PS"}
    # Legal citations: the US Code of Federal Regulations (40 CFR Part 247), EPA CPG/RMAN.
    | {"Part", "CPG", "RMAN"}
    # The API description format.
    | {"OpenAPI"}
    # Chemical element symbols written as words (Cu, Al …) are two letters and pass anyway.
)

# Tables whose text columns hold what people typed (kept in their author's language). Never
# add a table whose texts the marketplace writes (invoice lines, custody entries, notifications,
# audit entries, contract events) or reference data (materials, parameters, categories): those
# must read in the page's language.
USER_CONTENT_TABLES = frozenset(
    {"organization", "member", "supplylisting", "offtakerequest", "contractterms"}
    | {"contractcomment", "consultationresponse", "assay", "delivery", "deliverydocument"}
    | {"savedsearch", "movementrecord", "tender", "tenderitem", "enquiry", "bid", "award"}
    | {"catalogueproduct", "purchaseorder", "standardversion"}
)
