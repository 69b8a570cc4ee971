"""The API keeps its contract: a valid OpenAPI 3.1 document, a client generated from it works,
and schemathesis (all its default checks) finds nothing against the demo data.

The document is built from what each endpoint declares in code (web.api.openapi.operation),
so these tests are what stops page, API and document from drifting apart.
"""

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import schemathesis
import schemathesis.pytest._test_builder as schemathesis_builder
from factories import demo_token
from hypothesis import HealthCheck, settings
from openapi_spec_validator import OpenAPIV31SpecValidator
from schemathesis.config import SchemathesisConfig

from web import create_app
from web.config import ROOT

MAX_EXAMPLES = 20  # per operation and phase; the budget that keeps the suite under its minutes


def _document() -> dict:
    app = create_app({"DATABASE_URL": "sqlite://", "TESTING": True, "LOG_JSON": False})
    return app.test_client().get("/api/v1/openapi.json").get_json()


DOCUMENT = _document()


def test_the_openapi_document_is_valid_openapi_3_1_and_describes_every_response():
    errors = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in OpenAPIV31SpecValidator(DOCUMENT).iter_errors()
    ]
    assert errors == []
    for path, item in DOCUMENT["paths"].items():
        for method, op in item.items():
            assert op.get("summary"), (method, path)
            for status, response in op["responses"].items():
                assert response.get("description"), (method, path, status)


def test_every_api_endpoint_is_declared_in_code(demo_app):
    undeclared = [
        rule.rule
        for rule in demo_app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        and rule.endpoint != "api.openapi_document"
        and not hasattr(demo_app.view_functions[rule.endpoint], "openapi")
    ]
    assert undeclared == []


def test_a_generated_python_client_gets_a_token_and_lists_listings(demo_app, tmp_path):
    (tmp_path / "openapi.json").write_text(json.dumps(DOCUMENT))
    (tmp_path / "config.yml").write_text("post_hooks: []\n")
    bin_dir = Path(sys.executable).parent
    run = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            "openapi.json",
            "--config",
            "config.yml",
            "--meta",
            "none",
            "--output-path",
            "junkan_client",
            "--fail-on-warning",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        client_mod = importlib.import_module("junkan_client")
        post_tokens = importlib.import_module("junkan_client.api.account.post_tokens")
        get_listings = importlib.import_module("junkan_client.api.listings.get_listings")
        token_request = importlib.import_module("junkan_client.models.token_request")
        transport = httpx.WSGITransport(app=demo_app)
        anonymous = client_mod.Client(
            base_url="http://junkan.test/api/v1", httpx_args={"transport": transport}
        )
        token = post_tokens.sync(
            client=anonymous,
            body=token_request.TokenRequest(
                email="manufacturer@demo.junkan.jp", password="junkan-demo"
            ),
        )
        assert token.token.startswith("jk_")
        client = client_mod.AuthenticatedClient(
            base_url="http://junkan.test/api/v1",
            token=token.token,
            httpx_args={"transport": transport},
        )
        page = get_listings.sync(client=client, material="copper_scrap", near="27", sort="distance")
        assert page.total >= 2 and page.items
        saitama = next(
            i
            for i in page.items
            if i.grade_code == "ISRI-BIRCH-CLIFF" and i.origin_prefecture == "11"
        )
        assert saitama.material == "copper_scrap"
        distances = [i.distance_km for i in page.items]
        assert distances == sorted(distances)  # nearest to Osaka first
        assert saitama.monthly_t == "120.000"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("junkan_client")]:
            del sys.modules[name]


# ---------------------------------------------------------------------------------------------
# Schemathesis: every operation, positive and negative data, all default checks.


def _built_when_run(build):
    """schemathesis builds each operation's Hypothesis test (with the coverage phase's cases,
    about 0.2 s an operation) when pytest collects it, and every xdist worker collects every
    operation: about 25 s a worker spent on tests that another worker runs. Built on the first
    call instead, in the worker that runs it: the same test, the same cases, the same checks."""

    def lazy(*, test_func, given_kwargs, **options):
        built = None

        def run(*args, **fixtures):
            nonlocal built
            if built is None:
                built = build(test_func=test_func, given_kwargs=given_kwargs, **options)
            return built(*args, **fixtures)

        # pytest reads the fixtures from the signature: the test's own, less what Hypothesis
        # draws (`case` and any given arguments), as on the built test.
        parameters = inspect.signature(test_func).parameters
        run.__signature__ = inspect.Signature(
            [p for name, p in parameters.items() if name != "case" and name not in given_kwargs]
        )
        return run

    return lazy


schemathesis_builder.build_operation_test = _built_when_run(
    schemathesis_builder.build_operation_test
)

SCHEMA = schemathesis.openapi.from_dict(
    DOCUMENT, config=SchemathesisConfig.from_path(ROOT / "schemathesis.toml")
)

# Who calls which operation: the side of the market that may use it, so that the generated
# requests reach the domain rules and not only the permission check.
CALLERS = [
    ("POST", "/listings", "recycler@demo.junkan.jp"),
    ("PATCH", "/listings", "recycler@demo.junkan.jp"),
    ("POST", "/requests/", "recycler@demo.junkan.jp"),
    ("POST", "/indices", "operator@demo.junkan.jp"),
    ("POST", "/matching", "operator@demo.junkan.jp"),
    ("POST", "/certificates", "recycler@demo.junkan.jp"),
    ("POST", "/assays", "recycler@demo.junkan.jp"),
    ("POST", "/tenders/{tender_id}/bid", "bench@demo.junkan.jp"),
    ("PUT", "/tenders/{tender_id}/bid", "bench@demo.junkan.jp"),
    ("POST", "/tenders", "officer@demo.junkan.jp"),
    ("PUT", "/tenders", "officer@demo.junkan.jp"),
    ("POST", "/catalogue/orders", "officer@demo.junkan.jp"),
    ("PUT", "/procurement/policy", "officer@demo.junkan.jp"),
    ("POST", "/catalogue/products", "bench@demo.junkan.jp"),
    ("PUT", "/catalogue/products", "bench@demo.junkan.jp"),
]


def _caller(method: str, path: str) -> str:
    for m, prefix, email in CALLERS:
        if method == m and path.startswith(prefix):
            return email
    return "manufacturer@demo.junkan.jp"


TOKENS: dict[str, str] = {}  # e-mail → "Bearer …", filled by the `tokens` fixture


@SCHEMA.auth(refresh_interval=None)
class DemoBearer:
    """The bearer token of the demo member who calls the operation; schemathesis leaves it out
    where a check probes what happens without credentials."""

    def get(self, case, _ctx):
        return TOKENS.get(_caller(case.method, case.path), "Bearer none")

    def set(self, case, data, _ctx):
        case.headers = {**(case.headers or {}), "Authorization": data}


@pytest.fixture(scope="module")
def tokens(demo_app):
    emails = {email for _m, _p, email in CALLERS} | {"manufacturer@demo.junkan.jp"}
    TOKENS.update({e: demo_token(demo_app, e)["Authorization"] for e in emails})
    yield TOKENS
    TOKENS.clear()


@SCHEMA.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    derandomize=True,
)
def test_schemathesis_finds_nothing(case, demo_app, tokens):
    # Every probe of every check (ignored_auth re-sends without credentials) goes to the app.
    case.operation.schema.app = case.operation.app = demo_app
    case.call_and_validate()
