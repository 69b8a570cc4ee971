"""Split-assay rule through the API: average within the splitting limit, else the umpire."""

import pytest
from factories import make_member, make_org

from quality.catalogue import seed_catalogue


@pytest.fixture()
def headers(db, api_token):
    seed_catalogue(db)
    db.commit()
    return api_token(make_member(db, make_org(db, kind="manufacturer")).email)


def test_assays_within_the_splitting_limit_are_averaged(client, headers):
    body = {"parameter": "cu_pct", "seller": "93.6", "buyer": "93.3", "splitting_limit": "0.3"}
    r = client.post("/api/v1/assay-settlements", json=body, headers=headers)
    assert r.status_code == 200
    assert r.get_json() == {
        "parameter": "cu_pct",
        "difference": "0.3",
        "within_splitting_limit": True,
        "settled_value": "93.45",
        "umpire_used": False,
        "umpire_fee_payer": None,
    }


def test_beyond_the_splitting_limit_an_umpire_decides_and_the_farther_party_pays(client, headers):
    body = {"parameter": "cu_pct", "seller": "94.1", "buyer": "93.2", "splitting_limit": "0.3"}
    r = client.post("/api/v1/assay-settlements", json=body, headers=headers)
    assert r.status_code == 422
    assert "umpire assay is required" in r.get_json()["detail"]
    r = client.post("/api/v1/assay-settlements", json={**body, "umpire": "93.4"}, headers=headers)
    assert r.get_json()["settled_value"] == "93.4"
    assert r.get_json()["umpire_fee_payer"] == "seller"


def test_settlement_refuses_unknown_parameter_and_negative_values(client, headers):
    body = {"parameter": "gold_pct", "seller": "1", "buyer": "1", "splitting_limit": "0.1"}
    assert client.post("/api/v1/assay-settlements", json=body, headers=headers).status_code == 422
    body = {"parameter": "cu_pct", "seller": "-1", "buyer": "1", "splitting_limit": "0.1"}
    r = client.post("/api/v1/assay-settlements", json=body, headers=headers)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "seller"
