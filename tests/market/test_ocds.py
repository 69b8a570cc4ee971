"""OCDS 1.1.5 releases: what each step publishes, what sealed bids keep out of it, that every
release and package validates against the official schemas, and that a release once recorded
never changes."""

import json
from datetime import timedelta

import pytest
from factories import make_org
from proc_ocds_factories import (
    T0,
    VENDORED_DATA,
    make_award,
    make_bid,
    make_category,
    make_contract,
    make_enquiry,
    make_tender,
    schema_errors,
    shared_data_dir,
)
from sqlmodel import select

from market.models import OcdsRelease
from market.ocds import (
    OCID_PREFIX,
    SUSTAINABILITY_EXTENSION,
    ocid,
    record_release,
    release_package_json,
)
from participants.errors import NotFound


@pytest.fixture()
def world(db):
    city = make_org(
        db, kind="agency", name_en="City of Yokohama", name_ja="横浜市", prefecture="14"
    )
    makers = [
        make_org(db, kind="manufacturer", name_en=f"Bench Maker {n}", name_ja=f"ベンチ製造{n}")
        for n in (1, 2, 3)
    ]
    category = make_category(db)
    return city, makers, category


def _record(db, tender, tag, at):
    row = record_release(db, tender, tag, now=at)
    db.commit()
    return json.loads(row.release_json)


def test_the_prefix_has_the_registered_shape_and_the_ocid_names_the_tender():
    assert OCID_PREFIX.startswith("ocds-") and len(OCID_PREFIX) == len("ocds-") + 6
    assert ocid(12) == f"{OCID_PREFIX}-tender-12"


def test_tender_release_says_what_the_published_tender_says(db, world):
    city, _makers, category = world
    tender = make_tender(db, city, category)
    release = _record(db, tender, "tender", T0 + timedelta(hours=1))

    assert schema_errors(release) == []
    oc = f"{OCID_PREFIX}-tender-{tender.id}"
    assert release["ocid"] == oc
    assert release["id"] == f"{oc}-001-tender"
    assert release["date"] == "2026-06-01T01:00:00Z"
    assert release["tag"] == ["tender"]
    assert release["initiationType"] == "tender"
    assert release["language"] == "en"
    buyer_id = f"JP-JCN-{city.corporate_number}"
    assert release["buyer"] == {"id": buyer_id, "name": "City of Yokohama"}
    assert release["parties"] == [
        {
            "id": buyer_id,
            "name": "City of Yokohama",
            "name_ja": "横浜市",
            "identifier": {
                "scheme": "JP-JCN",
                "id": city.corporate_number,
                "legalName": "City of Yokohama",
                "legalName_ja": "横浜市",
            },
            "address": {"region": "Kanagawa", "countryName": "Japan", "countryName_ja": "日本"},
            "roles": ["buyer", "procuringEntity"],
        }
    ]
    t = release["tender"]
    assert t["id"] == f"tender-{tender.id}"
    assert (t["title"], t["title_ja"]) == (
        "Recycled-plastic park benches",
        "再生プラスチック製公園ベンチ",
    )
    assert (t["description"], t["description_ja"]) == (
        "Benches for the city parks.",
        "市内公園用のベンチ。",
    )
    assert t["status"] == "active"
    assert t["procuringEntity"] == {"id": buyer_id, "name": "City of Yokohama"}
    assert t["items"] == [
        {
            "id": "1",
            "description": "Park bench, 1.8 m",
            "description_ja": "公園ベンチ 1.8m",
            "classification": {"scheme": "UNSPSC", "id": "56101500", "description": "Furniture"},
            "quantity": 20,
            "unit": {"scheme": "UNCEFACT", "id": "H87", "name": "piece"},
        }
    ]
    assert t["value"] == {"amount": 4_000_000, "currency": "JPY"}
    assert t["procurementMethod"] == "open"
    assert t["mainProcurementCategory"] == "goods"
    assert t["awardCriteria"] == "ratedCriteria"
    assert t["awardCriteriaDetails"].startswith(
        "Rated criteria, 100 points: price 50, recycled content 40, evidence and data quality 10."
    )
    assert "価格 50点、再生材含有率 40点" in t["awardCriteriaDetails_ja"]
    assert t["submissionMethod"] == ["electronicSubmission"]
    assert t["tenderPeriod"] == {
        "startDate": "2026-06-01T00:00:00Z",
        "endDate": "2026-06-21T00:00:00Z",
    }
    assert t["enquiryPeriod"] == {
        "startDate": "2026-06-01T00:00:00Z",
        "endDate": "2026-06-11T00:00:00Z",
    }
    assert t["hasEnquiries"] is False
    assert t["eligibilityCriteria"].startswith(
        "Minimum recycled content: 90 percent post-consumer and 100 percent in total (by mass)."
    )
    assert t["hasSustainability"] is True
    assert [(s["goal"], s["strategies"]) for s in t["sustainability"]] == [
        ("environmental.recycling", ["technicalSpecifications", "awardCriteria"]),
        ("environmental.circularEconomy", ["technicalSpecifications", "awardCriteria"]),
    ]
    assert t["sustainability"][0]["description"] == (
        "Minimum recycled content 90 percent post-consumer and 100 percent in total (by mass); "
        "the recycled content claimed scores 40 of the 100 points."
    )
    assert "'mixed plastics'" in t["sustainability"][1]["description"]
    assert "awards" not in release and "contracts" not in release


def test_the_sustainability_entries_follow_the_extension_fields_and_codelists(db, world):
    # The extension (ocds_sustainability_extension, release-schema.json): Sustainability has
    # description, goal (sustainabilityGoal codes) and strategies (sustainabilityStrategy
    # codes, unique, at least one); the entries are unique and there is at least one.
    city, _makers, category = world
    tender = make_tender(db, city, category, weight_recycled=0, weight_price=90)
    t = _record(db, tender, "tender", T0)["tender"]
    goals = {"environmental.recycling", "environmental.circularEconomy"}
    strategies = {"technicalSpecifications", "awardCriteria"}
    for entry in t["sustainability"]:
        assert set(entry) <= {"description", "goal", "strategies"}
        assert entry["goal"] in goals
        assert entry["strategies"] and set(entry["strategies"]) <= strategies
        assert len(set(entry["strategies"])) == len(entry["strategies"])
    assert t["sustainability"][0]["strategies"] == ["technicalSpecifications"]  # no points


def test_sealed_bids_no_bidder_or_bid_count_before_the_tender_period_ends(db, world):
    city, (a, b, c), category = world
    tender = make_tender(db, city, category)
    make_enquiry(db, tender, a)
    make_bid(db, tender, a)
    make_bid(db, tender, b, price_jpy=3_900_000)
    make_bid(db, tender, c, status="withdrawn")

    during = record_release(db, tender, "tenderUpdate", now=T0 + timedelta(days=19))
    db.commit()
    release = json.loads(during.release_json)
    assert schema_errors(release) == []
    assert "numberOfTenderers" not in release["tender"]
    assert "tenderers" not in release["tender"]
    assert "bids" not in release
    assert release["tender"]["hasEnquiries"] is True
    assert [p["roles"] for p in release["parties"]] == [["buyer", "procuringEntity"]]
    for maker in (a, b, c):  # neither a name nor a number of a bidder, anywhere
        assert maker.name_en not in during.release_json
        assert maker.corporate_number not in during.release_json
    assert "3900000" not in during.release_json and "3600000" not in during.release_json

    # One second before the end the bids are still sealed; at the end they open.
    still = _record(db, tender, "tenderUpdate", tender.tender_end - timedelta(seconds=1))
    assert "tenderers" not in still["tender"]
    tender.status = "evaluation"
    db.add(tender)
    db.commit()
    opened = _record(db, tender, "tenderUpdate", tender.tender_end)
    assert schema_errors(opened) == []
    assert opened["tender"]["numberOfTenderers"] == 2  # the withdrawn bid is not a tender
    assert [o["name"] for o in opened["tender"]["tenderers"]] == ["Bench Maker 1", "Bench Maker 2"]
    assert [(p["name"], p["roles"]) for p in opened["parties"]] == [
        ("City of Yokohama", ["buyer", "procuringEntity"]),
        ("Bench Maker 1", ["tenderer"]),
        ("Bench Maker 2", ["tenderer"]),
    ]
    assert "3900000" not in json.dumps(opened)  # a losing bid's price is never published


def test_a_bid_left_unconfirmed_after_an_amendment_is_not_a_tender(db, world):
    city, (a, b, _c), category = world
    tender = make_tender(db, city, category, status="evaluation")
    make_bid(db, tender, a, status="qualified")
    make_bid(db, tender, b, status="unconfirmed")
    release = _record(db, tender, "tenderUpdate", tender.tender_end + timedelta(hours=1))
    assert release["tender"]["numberOfTenderers"] == 1


def test_tender_update_lists_the_amendment_and_what_it_changed(db, world):
    city, _makers, category = world
    tender = make_tender(db, city, category)
    first = _record(db, tender, "tender", T0)
    tender.budget_jpy = 4_500_000
    tender.tender_end = T0 + timedelta(days=27)
    tender.amendment_count = 1
    db.add(tender)
    db.commit()
    update = _record(db, tender, "tenderUpdate", T0 + timedelta(days=3))

    assert schema_errors(update) == []
    assert update["tag"] == ["tenderUpdate"]
    assert update["id"] == f"{first['ocid']}-002-tenderUpdate"
    assert update["tender"]["value"] == {"amount": 4_500_000, "currency": "JPY"}
    assert update["tender"]["amendments"] == [
        {
            "id": "amendment-1",
            "date": "2026-06-04T00:00:00Z",
            "rationale": (
                "The buyer amended the tender during the tendering period; bids submitted "
                "before the amendment must be re-confirmed."
            ),
            "rationale_ja": (
                "入札期間中に発注者が入札公告を変更した。変更前に提出された入札は再確認が必要となる。"
            ),
            "description": "Changed: tender.value, tender.tenderPeriod",
            "amendsReleaseID": first["id"],
            "releaseID": update["id"],
        }
    ]
    assert "amendments" not in first["tender"]

    # A later step repeats the amendments; a tenderUpdate that amends nothing adds none.
    tender.status = "unsuccessful"
    tender.closing_reason = "No bid met the minimum recycled content."
    db.add(tender)
    db.commit()
    closing = _record(db, tender, "tenderUpdate", T0 + timedelta(days=28))
    assert schema_errors(closing) == []
    assert closing["tender"]["status"] == "unsuccessful"
    assert closing["tender"]["amendments"] == update["tender"]["amendments"]
    assert closing["tender"]["documents"] == [
        {
            "id": "closing-reason",
            "title": "Why the tender was unsuccessful",
            "title_ja": "不調の理由",
            "description": "No bid met the minimum recycled content.",
            "datePublished": "2026-06-29T00:00:00Z",
        }
    ]


def test_tender_cancellation_says_cancelled_and_why(db, world):
    city, (a, _b, _c), category = world
    tender = make_tender(db, city, category)
    make_bid(db, tender, a)
    _record(db, tender, "tender", T0)
    tender.status = "cancelled"
    tender.closing_reason = "The park renovation was postponed."
    db.add(tender)
    db.commit()
    release = _record(db, tender, "tenderCancellation", T0 + timedelta(days=5))
    assert schema_errors(release) == []
    assert release["tag"] == ["tenderCancellation"]
    assert release["tender"]["status"] == "cancelled"
    assert release["tender"]["documents"][0]["documentType"] == "cancellationDetails"
    assert release["tender"]["documents"][0]["description"] == "The park renovation was postponed."
    assert "tenderers" not in release["tender"]  # cancelled while the bids were sealed


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("planning", "planning"),
        ("active", "active"),
        ("evaluation", "active"),
        ("awarded", "active"),
        ("complete", "complete"),
        ("cancelled", "cancelled"),
        ("unsuccessful", "unsuccessful"),
    ],
)
def test_tender_states_map_to_the_ocds_tender_status(db, world, ours, theirs):
    city, _makers, category = world
    tender = make_tender(db, city, category, status=ours)
    release = _record(db, tender, "tenderUpdate", T0)
    assert release["tender"]["status"] == theirs
    assert schema_errors(release) == []


def _awarded(db, world):
    city, (a, b, _c), category = world
    tender = make_tender(
        db, city, category, status="awarded", standstill_until=T0 + timedelta(days=32)
    )
    winner = make_bid(db, tender, a, status="awarded")
    make_bid(db, tender, b, status="disqualified", price_jpy=3_100_000)
    award = make_award(db, tender, winner)
    return tender, award, a


def test_award_release_names_the_supplier_the_value_and_the_items(db, world):
    tender, award, maker = _awarded(db, world)
    release = _record(db, tender, "award", T0 + timedelta(days=22))

    assert schema_errors(release) == []
    assert release["tag"] == ["award"]
    assert release["tender"]["status"] == "active"
    assert release["tender"]["numberOfTenderers"] == 2
    assert release["tender"]["awardPeriod"] == {
        "startDate": "2026-06-21T00:00:00Z",
        "endDate": "2026-07-03T00:00:00Z",
    }
    supplier = {"id": f"JP-JCN-{maker.corporate_number}", "name": "Bench Maker 1"}
    assert release["awards"] == [
        {
            "id": f"award-{award.id}",
            "title": "Award: Recycled-plastic park benches",
            "title_ja": "落札：再生プラスチック製公園ベンチ",
            "description": "Highest score: lowest price with 95 percent post-consumer content.",
            "status": "pending",
            "date": "2026-06-23T00:00:00Z",
            "value": {"amount": 3_600_000, "currency": "JPY"},
            "suppliers": [supplier],
            "items": release["tender"]["items"],
        }
    ]
    roles = {p["name"]: p["roles"] for p in release["parties"]}
    assert roles == {
        "City of Yokohama": ["buyer", "procuringEntity"],
        "Bench Maker 1": ["tenderer", "supplier"],
        "Bench Maker 2": ["tenderer"],
    }
    assert "3100000" not in json.dumps(release)
    assert "contracts" not in release


def test_contract_release_has_the_contract_of_the_active_award(db, world):
    tender, award, _maker = _awarded(db, world)
    _record(db, tender, "award", T0 + timedelta(days=22))
    award.status = "active"
    tender.status = "complete"
    db.add_all([award, tender])
    db.commit()
    contract = make_contract(db, tender, award)
    release = _record(db, tender, "contract", T0 + timedelta(days=33))

    assert schema_errors(release) == []
    assert release["tag"] == ["contract"]
    assert release["tender"]["status"] == "complete"
    assert release["awards"][0]["status"] == "active"
    assert release["contracts"] == [
        {
            "id": f"contract-{contract.id}",
            "awardID": f"award-{award.id}",
            "title": "Contract: Recycled-plastic park benches",
            "title_ja": "契約：再生プラスチック製公園ベンチ",
            "status": "active",
            "period": {"startDate": "2026-07-04T00:00:00Z", "endDate": "2026-09-30T14:59:59Z"},
            "value": {"amount": 3_600_000, "currency": "JPY"},
            "items": release["tender"]["items"],
            "dateSigned": "2026-07-04T00:00:00Z",
        }
    ]


def test_a_recorded_release_never_changes(db, world):
    city, _makers, category = world
    tender = make_tender(db, city, category)
    first = record_release(db, tender, "tender", now=T0)
    db.commit()
    stored = first.release_json
    tender.title_en = "Recycled-plastic park benches and tables"
    tender.amendment_count = 1
    db.add(tender)
    db.commit()
    record_release(db, tender, "tenderUpdate", now=T0 + timedelta(days=2))
    db.commit()

    db.expire_all()
    rows = db.exec(select(OcdsRelease).order_by(OcdsRelease.id)).all()
    assert rows[0].release_json == stored
    assert json.loads(rows[0].release_json)["tender"]["title"] == "Recycled-plastic park benches"
    assert json.loads(rows[1].release_json)["tender"]["title"] == (
        "Recycled-plastic park benches and tables"
    )
    rows[0].release_json = "{}"
    with pytest.raises(RuntimeError, match="immutable"):
        db.flush()
    db.rollback()
    db.expire_all()
    assert db.get(OcdsRelease, rows[0].id).release_json == stored


def test_an_unknown_tag_is_refused(db, world):
    city, _makers, category = world
    tender = make_tender(db, city, category)
    with pytest.raises(ValueError, match="tag"):
        record_release(db, tender, "implementation")


# ---------------------------------------------------------------------------------------------
# Packages


def test_the_package_holds_every_published_release_newest_tender_first_and_validates(db, world):
    city, (a, _b, _c), category = world
    operator = make_org(db, kind="operator", name_en="Junkan Market Operations K.K.")
    older = make_tender(db, city, category, published_at=T0)
    newer = make_tender(db, city, category, published_at=T0 + timedelta(days=1))
    draft = make_tender(db, city, category, status="planning")
    _record(db, older, "tender", T0)
    _record(db, newer, "tender", T0 + timedelta(days=1))
    older.status = "cancelled"
    db.add(older)
    db.commit()
    _record(db, older, "tenderCancellation", T0 + timedelta(days=2))
    _record(db, draft, "tender", T0 + timedelta(days=3))  # a step called too early: not shown

    text = release_package_json(
        db, uri="https://junkan.example/ocds/releases.json", publisher_uri="https://junkan.example/"
    )
    package = json.loads(text)
    assert schema_errors(package, package=True) == []
    assert package["version"] == "1.1"
    assert package["uri"] == "https://junkan.example/ocds/releases.json"
    assert package["publisher"] == {
        "name": "Junkan Market Operations K.K.",
        "scheme": "JP-JCN",
        "uid": operator.corporate_number,
        "uri": "https://junkan.example/",
    }
    assert package["extensions"] == [SUSTAINABILITY_EXTENSION]
    assert SUSTAINABILITY_EXTENSION.endswith("/ocds_sustainability_extension/master/extension.json")
    assert package["publishedDate"] == "2026-06-03T00:00:00Z"  # the newest shown release
    assert [(r["ocid"], r["tag"]) for r in package["releases"]] == [
        (ocid(newer.id), ["tender"]),
        (ocid(older.id), ["tender"]),
        (ocid(older.id), ["tenderCancellation"]),
    ]
    # Served byte for byte as stored.
    stored = db.exec(
        select(OcdsRelease.release_json).where(OcdsRelease.tender_id == newer.id)
    ).one()
    assert stored in text

    one = json.loads(release_package_json(db, uri="https://junkan.example/x", tender_id=older.id))
    assert schema_errors(one, package=True) == []
    assert [r["tag"] for r in one["releases"]] == [["tender"], ["tenderCancellation"]]
    with pytest.raises(NotFound):
        release_package_json(db, uri="https://junkan.example/x", tender_id=draft.id)
    with pytest.raises(NotFound):
        release_package_json(db, uri="https://junkan.example/x", tender_id=10**12)


def test_no_package_without_a_release(db):
    # The schema asks for one or more releases: an empty package would not be valid OCDS.
    assert schema_errors(
        {
            "uri": "https://x.example/",
            "publisher": {"name": "X"},
            "publishedDate": "2026-06-01T00:00:00Z",
            "version": "1.1",
            "releases": [],
        },
        package=True,
    ) == ["releases: [] should be non-empty"]
    with pytest.raises(NotFound, match="No OCDS releases"):
        release_package_json(db, uri="https://junkan.example/ocds/releases.json")


def test_the_validators_can_fail(db, world):
    # The checks are real: a wrong tag, a missing ocid inside a package (the package schema's
    # reference to the release schema is resolved locally), a date that is not a date.
    city, _makers, category = world
    release = _record(db, make_tender(db, city, category), "tender", T0)
    bad = {**release, "tag": ["bidOpening"], "date": "yesterday"}
    errors = schema_errors(bad)
    assert any(e.startswith("tag/0:") for e in errors)
    assert any(e.startswith("date:") for e in errors)
    package = {
        "uri": "https://x.example/p.json",
        "publisher": {"name": "X"},
        "publishedDate": "2026-06-01T00:00:00Z",
        "version": "1.1",
        "releases": [{k: v for k, v in release.items() if k != "ocid"}],
    }
    assert schema_errors(package, package=True) == ["releases/0: 'ocid' is a required property"]
    assert "uri: 'not a url' is not a 'uri'" in schema_errors({**package, "uri": "not a url"}, True)


def test_the_schemas_are_the_official_ones_of_the_shared_data():
    # The tests validate against ../shared/data/ocds; a checkout without that folder uses the
    # copy in tests/data/ocds, which must stay byte-identical to it.
    shared = shared_data_dir() / "ocds"
    for name in ("release-schema.json", "release-package-schema.json"):
        vendored = (VENDORED_DATA / "ocds" / name).read_bytes()
        assert (shared / name).read_bytes() == vendored
        assert b'"id": "https://standard.open-contracting.org/schema/1__1__5/' in vendored
