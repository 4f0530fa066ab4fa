"""The OpenAPI document, the route table and the configuration docs stay in step.

- openapi.json and lib/base/dp_routes.c agree exactly: the same (METHOD, path) pairs (the greedy tail
  `{x+}` written `{x}`), operationId = handler id, x-scope = the route's scope, security [] on the
  open routes only;
- the module serves the repo's openapi.json at GET /openapi.json (without a key);
- openapi.json is what tools/gen-openapi.py generates;
- every directive of the table handlers/dp_conf.def appears in conf/dockpay.conf (with its
  default) and docs/configuration.md (and conf/ names no directive that does not exist).
Only the served-document test needs httpd; the rest read files.
"""
import json
import os
import re
import subprocess
import sys

import pytest

from harness import read_routes

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ROUTES_C = os.path.join(TOP, "lib", "base", "dp_routes.c")
OPENAPI = os.path.join(TOP, "openapi.json")
CONF_DEF = os.path.join(TOP, "handlers", "dp_conf.def")
CONF = os.path.join(TOP, "conf", "dockpay.conf")
LOAD = os.path.join(TOP, "conf", "dockpay.load")
CONFIG_MD = os.path.join(TOP, "docs", "configuration.md")

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()



def normalise(pattern):
    """`{name+}` (greedy tail) -> `{name}`, as OpenAPI writes it."""
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\+\}", r"{\1}", pattern)


@pytest.fixture(scope="module")
def routes():
    return read_routes(ROUTES_C)


@pytest.fixture(scope="module")
def doc():
    with open(OPENAPI, encoding="utf-8") as f:
        return json.load(f)


def operations(doc):
    """{(METHOD, path): operation} of the document."""
    out = {}
    for path, item in doc["paths"].items():
        for m, op in item.items():
            if m in METHODS:
                out[(m.upper(), path)] = op
    return out


def resolve(doc, obj):
    """Follows a local $ref (one level at a time) to the object it names."""
    seen = 0
    while isinstance(obj, dict) and "$ref" in obj:
        target = doc
        assert obj["$ref"].startswith("#/"), obj["$ref"]
        for part in obj["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        obj = target
        seen += 1
        assert seen < 10, "reference loop"
    return obj


# ---------------------------------------------------------------------------------------------
# document <-> route table

def test_document_basics(doc):
    assert doc["openapi"] == "3.1.0"
    assert doc["servers"] == [{"url": "/api/v1"}]
    bearer = doc["components"]["securitySchemes"]["bearer"]
    assert bearer["type"] == "http" and bearer["scheme"].lower() == "bearer"
    assert doc["security"] == [{"bearer": []}]
    assert doc["info"]["title"] and doc["info"]["version"]


def test_paths_equal_route_table(doc, routes):
    mine = {(m, normalise(pat)) for m, pat, _, _ in routes}
    assert len(mine) == len(routes), "duplicate (method, path) in lib/base/dp_routes.c"
    theirs = set(operations(doc))
    assert not mine - theirs, f"routes missing from openapi.json: {sorted(mine - theirs)}"
    assert not theirs - mine, f"operations in openapi.json without a route: {sorted(theirs - mine)}"


def test_operation_ids_are_handler_ids(doc, routes):
    ops = operations(doc)
    for m, pat, _, hid in routes:
        assert ops[(m, normalise(pat))].get("operationId") == hid, f"{m} {pat}"
    ids = [op["operationId"] for op in ops.values()]
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_scopes_and_security(doc, routes):
    ops = operations(doc)
    for m, pat, scope, _ in routes:
        op = ops[(m, normalise(pat))]
        assert op.get("x-scope") == scope, f"{m} {pat}: x-scope {op.get('x-scope')!r}, route says {scope!r}"
        if scope == "none":
            assert op.get("security") == [], f"{m} {pat} is open: it needs security: []"
        else:
            assert "security" not in op or op["security"] == [{"bearer": []}], f"{m} {pat}"
            assert "401" in op["responses"] and "403" in op["responses"], f"{m} {pat}: 401/403 missing"
    open_routes = {(m, normalise(pat)) for m, pat, scope, _ in routes if scope == "none"}
    assert open_routes == {("GET", "/health"), ("GET", "/openapi.json"), ("POST", "/webhooks/portone")}


def test_path_parameters_match_pattern(doc, routes):
    ops = operations(doc)
    for m, pat, _, _ in routes:
        path = normalise(pat)
        op = ops[(m, path)]
        item = doc["paths"][path]
        params = [resolve(doc, x) for x in item.get("parameters", []) + op.get("parameters", [])]
        declared = {x["name"]: x for x in params if x["in"] == "path"}
        names = re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}", pat)
        assert set(declared) == {n for n, _ in names}, f"{m} {pat}: path parameters {sorted(declared)}"
        for n, plus in names:
            assert declared[n]["required"] is True
            if plus:
                assert declared[n].get("x-greedy") is True, f"{m} {pat}: {{{n}}} is greedy: x-greedy: true"
                assert "/" in declared[n]["description"], f"{m} {pat}: say that {{{n}}} may contain '/'"
            else:
                assert not declared[n].get("x-greedy"), f"{m} {pat}: {{{n}}} is not greedy"


def test_error_responses_are_problems(doc):
    for (m, path), op in operations(doc).items():
        responses = op["responses"]
        assert any(k.startswith("2") for k in responses), f"{m} {path}: no success response"
        for status, r in responses.items():
            r = resolve(doc, r)
            if status == "default" or status.startswith(("4", "5")):
                if path == "/health" and status == "503":
                    continue  # the health object itself, not a problem
                content = r.get("content", {})
                assert list(content) == ["application/problem+json"], f"{m} {path} {status}: {list(content)}"
                assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    problem = doc["components"]["schemas"]["Problem"]
    assert problem["additionalProperties"] is True
    assert {"type", "title", "status", "detail", "code"} <= set(problem["properties"])


def test_document_is_valid_openapi(doc):
    """Full validation when openapi-spec-validator is installed; JSON Schema checks when jsonschema is."""
    try:
        from openapi_spec_validator import validate
    except ImportError:
        validate = None
    if validate is not None:
        validate(doc)
    try:
        import jsonschema
    except ImportError:
        if validate is None:
            pytest.skip("neither openapi-spec-validator nor jsonschema is installed")
        return
    for name, schema in doc["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema)
    # request examples must satisfy their schemas
    resolver = jsonschema.RefResolver.from_schema(doc)
    for (m, path), op in operations(doc).items():
        body = resolve(doc, op.get("requestBody", {}))
        for media in body.get("content", {}).values():
            samples = [e["value"] for e in media.get("examples", {}).values() if "value" in e]
            if "example" in media:
                samples.append(media["example"])
            v = jsonschema.Draft202012Validator(media.get("schema", {}), resolver=resolver)
            for s in samples:
                errors = [e.message for e in v.iter_errors(s)]
                assert not errors, f"{m} {path}: example {s} does not match its schema: {errors}"


def test_nesting_within_server_parser_limit(doc):
    """The module re-parses the file with a depth limit of 32 (lib/base/dp_json.h)."""
    def depth(o):
        if isinstance(o, dict):
            return 1 + max([depth(v) for v in o.values()] + [0])
        if isinstance(o, list):
            return 1 + max([depth(v) for v in o] + [0])
        return 0
    assert depth(doc) < 30
    assert os.path.getsize(OPENAPI) < 4 * 1024 * 1024


def test_generator_output_is_committed():
    gen = os.path.join(TOP, "tools", "gen-openapi.py")
    r = subprocess.run([sys.executable, gen, "--check"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "openapi.json differs from tools/gen-openapi.py's output: " + r.stderr


# ---------------------------------------------------------------------------------------------
# the served document

def test_served_document_equals_repo_file(api, doc):
    r = api.get("/openapi.json", key=None)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers.get("X-Request-Id")
    assert r.json() == doc


# ---------------------------------------------------------------------------------------------
# directives <-> conf/ and docs/

def directives():
    """{name: default as directive arguments, or None} of the table handlers/dp_conf.def, read
    with tools/gen-config-doc.py's parser (the one that generates docs/configuration.md)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("gen_config_doc", os.path.join(TOP, "tools", "gen-config-doc.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    rows = gen.read_rows(CONF_DEF)
    assert len(rows) == _read(CONF_DEF).count("\nDP_CONF("), "a row of handlers/dp_conf.def did not parse"
    return {r["name"]: gen.literal(r["default"]) for r in rows}


def test_every_directive_is_in_the_conf_example():
    conf = _read(CONF)
    for name in directives():
        assert re.search(r"^[ \t]*#?[ \t]*%s\b" % name, conf, re.M), f"{name} is missing from conf/dockpay.conf"


def test_conf_example_names_only_real_directives():
    known = set(directives())
    named = set(re.findall(r"^[ \t]*#?[ \t]*(Dockpay[A-Za-z]+)\b", _read(CONF), re.M))
    assert named <= known, f"conf/dockpay.conf names unknown directives: {sorted(named - known)}"


def test_conf_example_shows_the_defaults():
    conf = _read(CONF)
    shown = 0
    for name, value in directives().items():
        if value is None:
            continue
        words = r"[ \t]+".join('"?%s"?' % re.escape(w) for w in value.split())
        assert re.search(r'^[ \t]*#?[ \t]*%s[ \t]+%s[ \t]*$' % (name, words), conf, re.M | re.I), \
            f"conf/dockpay.conf should show '{name} {value}' (the default)"
        shown += 1
    assert shown >= 25


def test_conf_example_basics():
    conf = _read(CONF)
    assert re.search(r"^<IfModule dockpay_module>", conf, re.M)
    assert re.search(r"^[ \t]*DBDriver[ \t]+mysql", conf, re.M)
    assert re.search(r"^[ \t]*DBDParams[ \t]+.*reconnect=0", conf, re.M)
    assert re.search(r"^[ \t]*SetHandler[ \t]+dockpay", conf, re.M)
    assert re.search(r'^[ \t]*#[ \t]*RewriteRule[ \t]+"\^/api/v1/"[ \t]+"-"[ \t]+\[H=dockpay\]', conf, re.M)
    assert "${PORTONE_API_KEY}" in conf and "${PORTONE_API_SECRET}" in conf
    load = _read(LOAD)
    assert re.search(r"^LoadModule dockpay_module /usr/lib/apache2/modules/mod_dockpay\.so$", load, re.M)


def test_every_directive_is_documented():
    md = _read(CONFIG_MD)
    for name in directives():
        assert re.search(r"`%s`" % name, md), f"{name} is missing from docs/configuration.md"
