"""Joint standard-setting: drafts, consultation, tally by kind, publication, immutability, diff,
and who may take each step (verified organisations, the proposer, a standards body)."""

import json
from datetime import UTC, date, datetime

import pytest
from factories import as_actor, make_member, make_org
from pydantic import ValidationError
from sqlmodel import select

from participants.actors import UNVERIFIED_MESSAGE
from participants.errors import PermissionDenied
from participants.models import Organization
from quality.catalogue import get_version, latest_published, seed_catalogue, spec_of, spec_to_dict
from quality.errors import (
    ConsultationClosed,
    ImmutableVersion,
    InvalidSpec,
    InvalidTransition,
    UnknownParameter,
)
from quality.models import ConsultationResponse, GradeStandard, StandardVersion
from quality.standards import (
    ConsultationOpening,
    Publication,
    ResponseInput,
    StandardProposal,
    StandardRevision,
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

NOW = datetime(2026, 3, 1, tzinfo=UTC)
IN_30_DAYS = ConsultationOpening(ends_on=date(2026, 3, 31))
IN_5_DAYS = ConsultationOpening(ends_on=date(2026, 3, 6))
END_OF_5_DAYS = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # 24:00 Japan time on 6 March


def _actor(db, kind="recycler", status="verified", roles="admin"):
    return as_actor(db, make_member(db, make_org(db, kind=kind, status=status), roles=roles))


@pytest.fixture()
def seeded(db):
    seed_catalogue(db)
    db.commit()
    return db


@pytest.fixture()
def proposer(seeded):
    return _actor(seeded, roles="trader")


@pytest.fixture()
def body(seeded):
    return _actor(seeded, kind="standards_body")


def _revision(db, pvc="40", **fields):
    standard, v1 = latest_published(db, "RPET-FLAKE-A")
    data = spec_to_dict(spec_of(v1, standard))
    for limit in data["limits"]:
        if limit["parameter"] == "pvc_ppm":
            limit["max"] = pvc
    values = {
        "decision_rule": "guarded",
        "spec": data,
        "source": "council",
        "change_note": "PVC 40",
        **fields,
    }
    return StandardRevision.model_validate(values)


def _rpet_v2(db, actor, pvc="40"):
    return propose_revision(db, actor, "RPET-FLAKE-A", _revision(db, pvc))


def _proposal(**fields):
    spec = {"limits": [{"parameter": "pvc_ppm", "kind": "max", "max": "30"}]}
    values = {
        "code": "NEW-GRADE",
        "material": "pet",
        "name_en": "New",
        "name_ja": "新",
        "rank": 3,
        "decision_rule": "simple",
        "spec": spec,
        **fields,
    }
    return StandardProposal.model_validate(values)


def test_a_verified_organisation_proposes_a_revision_as_draft_version_2(seeded, proposer):
    v2 = _rpet_v2(seeded, proposer)
    assert (v2.number, v2.status, v2.proposed_by_org_id) == (2, "draft", proposer.organization_id)


def test_a_verified_organisation_proposes_a_new_standard_with_the_spec_as_json_text(
    seeded, proposer
):
    spec = json.dumps({"limits": [{"parameter": "pvc_ppm", "kind": "max", "max": "30"}]})
    v1 = propose_standard(seeded, proposer, _proposal(code="new-grade", spec=spec))
    standard = seeded.get(GradeStandard, v1.standard_id)
    assert (standard.code, standard.material_code, standard.rank) == ("NEW-GRADE", "pet", 3)
    assert (v1.number, v1.status, v1.proposed_by_org_id) == (1, "draft", proposer.organization_id)
    assert [str(x.max) for x in version_spec(seeded, v1).limits] == ["30"]


@pytest.mark.parametrize("status", ["unverified", "suspended"])
def test_an_unverified_or_suspended_organisation_cannot_propose(seeded, status):
    actor = _actor(seeded, status=status)
    with pytest.raises(PermissionDenied):
        propose_revision(seeded, actor, "RPET-FLAKE-A", _revision(seeded))
    with pytest.raises(PermissionDenied):
        propose_standard(seeded, actor, _proposal())
    assert seeded.exec(select(StandardVersion).where(StandardVersion.number == 2)).all() == []


def test_proposal_with_unknown_parameter_or_bad_json_is_refused(seeded, proposer):
    spec = {"limits": [{"parameter": "unobtainium_pct", "kind": "max", "max": "1"}]}
    with pytest.raises(UnknownParameter):
        propose_standard(seeded, proposer, _proposal(spec=spec))
    with pytest.raises(ValidationError) as err:
        _proposal(spec="{oops")
    assert err.value.errors()[0]["msg"] == "The specification is not valid JSON."


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name_en": "evil\u202etxt"}, "name_en"),
        ({"name_ja": "名\x00前"}, "name_ja"),
        ({"code": "X" * 41}, "code"),
        ({"source": "s" * 301}, "source"),
        ({"change_note": "bidi \u2066 isolate"}, "change_note"),
        ({"rank": True}, "rank"),
        ({"rank": 100}, "rank"),
        ({"spec": {"limits": [{"parameter": "pvc_ppm", "kind": "max", "max": "1e99999"}]}}, "spec"),
        ({"spec": {"limits": [{"parameter": "pvc_ppm", "kind": "max", "max": True}]}}, "spec"),
        ({"spec": {"limits": [{"parameter": "pvc\u202e", "kind": "max", "max": "1"}]}}, "spec"),
        ({"spec": {"limits": [], "requirements": [{"code": "x", "text_en": "a\x07"}]}}, "spec"),
        ({"spec": "[" * 100_000}, "spec"),
    ],
)
def test_odd_text_and_numbers_in_a_proposal_are_refused_before_anything_is_written(
    seeded, fields, field
):
    with pytest.raises(ValidationError) as err:
        _proposal(**fields)
    assert err.value.errors()[0]["loc"][0] == field


def test_a_spec_bound_out_of_the_measurement_range_is_refused_by_the_catalogue(seeded, proposer):
    spec = {"limits": [{"parameter": "pvc_ppm", "kind": "max", "max": "1e99999"}]}
    with pytest.raises(ValidationError):
        _proposal(spec=spec)
    from quality.catalogue import build_spec

    with pytest.raises(InvalidSpec) as err:
        build_spec(spec, "X-1", 1, "pet", 1, "simple")
    assert str(err.value) == "max is out of range (at most 10^9, twelve decimals)."


def test_consultation_tallies_responses_by_organisation_kind_and_keeps_one_per_org(
    seeded, proposer, body
):
    v2 = _rpet_v2(seeded, proposer)
    open_consultation(seeded, body, v2, IN_30_DAYS, now=NOW)
    recycler = _actor(seeded, "recycler")
    respond(seeded, recycler, v2, ResponseInput(position="object", comment="cost"), now=NOW)
    respond(seeded, _actor(seeded, "manufacturer"), v2, ResponseInput(position="endorse"), now=NOW)
    agency = _actor(seeded, "agency", roles="officer")
    respond(
        seeded, agency, v2, ResponseInput(position="comment", comment="effect on bales?"), now=NOW
    )
    respond(seeded, _actor(seeded, "recycler"), v2, ResponseInput(position="endorse"), now=NOW)
    changed = ResponseInput(position="comment", comment="changed my mind")
    response = respond(seeded, recycler, v2, changed, now=NOW)
    assert (response.organization_id, response.member_id) == (
        recycler.organization_id,
        recycler.member_id,
    )
    assert tally(seeded, v2.id) == {
        "agency": {"endorse": 0, "object": 0, "comment": 1},
        "manufacturer": {"endorse": 1, "object": 0, "comment": 0},
        "recycler": {"endorse": 1, "object": 0, "comment": 1},
    }


def test_only_a_verified_standards_body_opens_and_publishes(seeded, proposer, body):
    v2 = _rpet_v2(seeded, proposer)
    with pytest.raises(PermissionDenied) as err:
        open_consultation(seeded, proposer, v2, IN_5_DAYS, now=NOW)
    assert err.value.message == "Only a standards body may do this."
    unverified_body = _actor(seeded, "standards_body", status="unverified")
    with pytest.raises(PermissionDenied) as err:
        open_consultation(seeded, unverified_body, v2, IN_5_DAYS, now=NOW)
    assert err.value.message == UNVERIFIED_MESSAGE
    assert v2.status == "draft"
    open_consultation(seeded, body, v2, IN_5_DAYS, now=NOW)
    assert v2.consultation_ends_at == END_OF_5_DAYS
    with pytest.raises(PermissionDenied):
        publish_version(
            seeded, _actor(seeded, "manufacturer"), v2, Publication(effective_from="2026-04-01")
        )
    assert v2.status == "consultation"


def test_a_consultation_must_end_in_the_future(seeded, proposer, body):
    v2 = _rpet_v2(seeded, proposer)
    with pytest.raises(InvalidSpec) as err:
        open_consultation(seeded, body, v2, ConsultationOpening(ends_on="2026-02-28"), now=NOW)
    assert (err.value.field, v2.status) == ("ends_on", "draft")


def test_responses_are_refused_after_the_end_date_and_from_unverified_orgs(seeded, proposer, body):
    v2 = _rpet_v2(seeded, proposer)
    recycler = _actor(seeded, "recycler")
    endorse = ResponseInput(position="endorse")
    with pytest.raises(ConsultationClosed):
        respond(seeded, recycler, v2, endorse, now=NOW)  # still draft
    open_consultation(seeded, body, v2, IN_5_DAYS, now=NOW)
    with pytest.raises(PermissionDenied):
        respond(seeded, _actor(seeded, "recycler", status="unverified"), v2, endorse, now=NOW)
    with pytest.raises(ConsultationClosed):
        respond(seeded, recycler, v2, endorse, now=END_OF_5_DAYS)
    with pytest.raises(InvalidSpec) as err:
        respond(seeded, recycler, v2, ResponseInput(position="object"), now=NOW)
    assert err.value.message == "Give your reasons in a comment."
    assert seeded.exec(select(ConsultationResponse)).all() == []


def test_publishing_v2_makes_it_latest_while_v1_stays_published(seeded, proposer, body):
    v2 = _rpet_v2(seeded, proposer)
    open_consultation(seeded, body, v2, IN_5_DAYS, now=NOW)
    publish_version(seeded, body, v2, Publication(effective_from="2026-04-01"))
    _, latest = latest_published(seeded, "RPET-FLAKE-A")
    assert latest.number == 2 and latest.effective_from == date(2026, 4, 1)
    _, v1 = get_version(seeded, "RPET-FLAKE-A", 1)
    assert v1.status == "published"
    pvc = [x for x in version_spec(seeded, v2).limits if x.parameter == "pvc_ppm"][0]
    assert str(pvc.max) == "40"


def test_a_published_version_cannot_be_edited_and_illegal_moves_are_refused(seeded, proposer, body):
    _, v1 = latest_published(seeded, "RPET-FLAKE-A")
    empty = StandardRevision(decision_rule="simple", spec={"limits": []})
    with pytest.raises(ImmutableVersion) as err:
        edit_version(seeded, proposer, v1, empty)
    assert str(err.value) == "Version 1 of RPET-FLAKE-A is published and can no longer be changed."
    with pytest.raises(InvalidTransition):
        publish_version(seeded, body, v1, Publication(effective_from="2026-01-01"))
    with pytest.raises(PermissionDenied):
        retire_version(seeded, proposer, v1)
    retire_version(seeded, body, v1)
    assert v1.status == "retired"
    with pytest.raises(InvalidTransition):
        withdraw_version(seeded, body, v1)


def test_the_proposer_may_edit_and_withdraw_its_own_draft_and_no_one_else(seeded, proposer):
    v2 = _rpet_v2(seeded, proposer)
    data = spec_to_dict(version_spec(seeded, v2))
    edit_version(
        seeded,
        proposer,
        v2,
        StandardRevision(decision_rule="guarded", spec=data, change_note="typo"),
    )
    assert (v2.change_note, v2.source) == ("typo", "council")
    colleague = as_actor(
        seeded,
        make_member(seeded, seeded.get(Organization, proposer.organization_id), roles="inspector"),
    )
    edit_version(seeded, colleague, v2, StandardRevision(decision_rule="guarded", spec=data))
    stranger = _actor(seeded, "recycler")
    with pytest.raises(PermissionDenied) as err:
        edit_version(seeded, stranger, v2, StandardRevision(decision_rule="guarded", spec=data))
    assert err.value.message == "Only the proposing organisation may edit its draft."
    with pytest.raises(PermissionDenied):
        withdraw_version(seeded, stranger, v2)
    assert v2.status == "draft"
    withdraw_version(seeded, proposer, v2)
    assert v2.status == "withdrawn"


def test_a_standards_body_withdraws_a_version_under_consultation_but_the_proposer_cannot(
    seeded, proposer, body
):
    v2 = _rpet_v2(seeded, proposer)
    open_consultation(seeded, body, v2, IN_5_DAYS, now=NOW)
    with pytest.raises(PermissionDenied):
        withdraw_version(seeded, proposer, v2)
    withdraw_version(seeded, body, v2)
    assert v2.status == "withdrawn"


def test_diff_lists_the_changed_pvc_limit_only(seeded, proposer):
    v2 = _rpet_v2(seeded, proposer)
    standard, v1 = latest_published(seeded, "RPET-FLAKE-A")
    changes = diff_versions(spec_of(v1, standard), version_spec(seeded, v2))
    assert [(c.what, c.key, c.change, c.before, c.after) for c in changes] == [
        ("limit", "pvc_ppm", "changed", "≤ 50; reject", "≤ 40; reject")
    ]
