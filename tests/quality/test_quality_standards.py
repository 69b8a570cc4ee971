"""Joint standard-setting: drafts, consultation, tally by kind, publication, immutability, diff."""

from datetime import UTC, date, datetime, timedelta

import pytest

from quality.catalogue import get_version, latest_published, seed_catalogue, spec_of, spec_to_dict
from quality.errors import ImmutableVersion, InvalidSpec, InvalidTransition, UnknownParameter
from quality.standards import (
    NotPermitted,
    diff_versions,
    edit_version,
    open_consultation,
    propose_revision,
    propose_standard,
    publish_version,
    respond,
    retire_version,
    tally,
    version_spec,
    withdraw_version,
)

BODY = "standards_body"
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _rpet_v2(db, pvc="40"):
    standard, v1 = latest_published(db, "RPET-FLAKE-A")
    data = spec_to_dict(spec_of(v1, standard))
    for limit in data["limits"]:
        if limit["parameter"] == "pvc_ppm":
            limit["max"] = pvc
    return propose_revision(db, 7, True, "RPET-FLAKE-A", "guarded", data, "council", "PVC 40")


@pytest.fixture()
def seeded(db):
    seed_catalogue(db)
    db.commit()
    return db


def test_a_verified_organisation_proposes_a_revision_as_draft_version_2(seeded):
    v2 = _rpet_v2(seeded)
    assert (v2.number, v2.status, v2.proposed_by_org_id) == (2, "draft", 7)


def test_an_unverified_organisation_cannot_propose(seeded):
    with pytest.raises(NotPermitted):
        propose_revision(seeded, 7, False, "RPET-FLAKE-A", "simple", {"limits": []}, "", "x")


def test_proposal_with_unknown_parameter_or_bad_json_is_refused(seeded):
    spec = {"limits": [{"parameter": "unobtainium_pct", "kind": "max", "max": "1"}]}
    with pytest.raises(UnknownParameter):
        propose_standard(seeded, 7, True, "NEW-GRADE", "pet", "New", "新", 3, "simple", spec)
    with pytest.raises(InvalidSpec) as err:
        propose_standard(seeded, 7, True, "NEW-GRADE", "pet", "New", "新", 3, "simple", "{oops")
    assert err.value.message == "The specification is not valid JSON."


def test_consultation_tallies_responses_by_organisation_kind_and_keeps_one_per_org(seeded):
    v2 = _rpet_v2(seeded)
    open_consultation(seeded, v2, BODY, NOW + timedelta(days=30), now=NOW)
    respond(seeded, v2, 11, "recycler", True, None, "object", "cost", now=NOW)
    respond(seeded, v2, 12, "manufacturer", True, None, "endorse", "", now=NOW)
    respond(seeded, v2, 13, "agency", True, None, "comment", "effect on bales?", now=NOW)
    respond(seeded, v2, 14, "recycler", True, None, "endorse", "", now=NOW)
    respond(seeded, v2, 11, "recycler", True, None, "comment", "changed my mind", now=NOW)
    assert tally(seeded, v2.id) == {
        "agency": {"endorse": 0, "object": 0, "comment": 1},
        "manufacturer": {"endorse": 1, "object": 0, "comment": 0},
        "recycler": {"endorse": 1, "object": 0, "comment": 1},
    }


def test_only_a_standards_body_opens_and_publishes(seeded):
    v2 = _rpet_v2(seeded)
    with pytest.raises(NotPermitted):
        open_consultation(seeded, v2, "recycler", NOW + timedelta(days=5), now=NOW)
    open_consultation(seeded, v2, BODY, NOW + timedelta(days=5), now=NOW)
    with pytest.raises(NotPermitted):
        publish_version(seeded, v2, "manufacturer", date(2026, 4, 1))


def test_responses_are_refused_after_the_end_date_and_from_unverified_orgs(seeded):
    v2 = _rpet_v2(seeded)
    with pytest.raises(NotPermitted):
        respond(seeded, v2, 11, "recycler", True, None, "endorse", "", now=NOW)  # still draft
    open_consultation(seeded, v2, BODY, NOW + timedelta(days=5), now=NOW)
    with pytest.raises(NotPermitted):
        respond(seeded, v2, 11, "recycler", False, None, "endorse", "", now=NOW)
    with pytest.raises(NotPermitted):
        respond(seeded, v2, 11, "recycler", True, None, "endorse", "", now=NOW + timedelta(days=5))


def test_publishing_v2_makes_it_latest_while_v1_stays_published(seeded):
    v2 = _rpet_v2(seeded)
    open_consultation(seeded, v2, BODY, NOW + timedelta(days=5), now=NOW)
    publish_version(seeded, v2, BODY, date(2026, 4, 1))
    _, latest = latest_published(seeded, "RPET-FLAKE-A")
    assert latest.number == 2 and latest.effective_from == date(2026, 4, 1)
    _, v1 = get_version(seeded, "RPET-FLAKE-A", 1)
    assert v1.status == "published"
    pvc = [x for x in version_spec(seeded, v2).limits if x.parameter == "pvc_ppm"][0]
    assert str(pvc.max) == "40"


def test_a_published_version_cannot_be_edited_and_illegal_moves_are_refused(seeded):
    _, v1 = latest_published(seeded, "RPET-FLAKE-A")
    with pytest.raises(ImmutableVersion) as err:
        edit_version(seeded, v1, 7, "simple", {"limits": []})
    assert str(err.value) == "Version 1 of RPET-FLAKE-A is published and can no longer be changed."
    with pytest.raises(InvalidTransition):
        publish_version(seeded, v1, BODY, date(2026, 1, 1))
    retire_version(seeded, v1, BODY)
    assert v1.status == "retired"
    with pytest.raises(InvalidTransition):
        withdraw_version(seeded, v1, BODY, 1)


def test_the_proposer_may_edit_and_withdraw_its_own_draft(seeded):
    v2 = _rpet_v2(seeded)
    data = spec_to_dict(version_spec(seeded, v2))
    edit_version(seeded, v2, 7, "guarded", data, change_note="typo")
    with pytest.raises(NotPermitted):
        edit_version(seeded, v2, 8, "guarded", data)
    withdraw_version(seeded, v2, "recycler", 7)
    assert v2.status == "withdrawn"


def test_diff_lists_the_changed_pvc_limit_only(seeded):
    v2 = _rpet_v2(seeded)
    standard, v1 = latest_published(seeded, "RPET-FLAKE-A")
    changes = diff_versions(spec_of(v1, standard), version_spec(seeded, v2))
    assert [(c.what, c.key, c.change, c.before, c.after) for c in changes] == [
        ("limit", "pvc_ppm", "changed", "≤ 50; reject", "≤ 40; reject")
    ]
