"""Helpers for the attack tests (test_attacks*.py): a snapshot of everything the engine holds,
so a refused request can be shown to have created or changed nothing, and a refusal check."""
import json

from conftest import assert_problem


def engine_snapshot(stack):
    """Containers (id -> state, labels, networks, mounts), volumes (name -> labels),
    networks (id -> name, attached container ids) and images (id -> sorted tags)."""
    st, cs = stack.docker_api("GET", "/containers/json?all=true")
    assert st == 200, cs
    containers = {}
    for c in cs:
        nets = sorted((c.get("NetworkSettings") or {}).get("Networks") or {})
        mounts = sorted(json.dumps(m, sort_keys=True) for m in c.get("Mounts") or [])
        containers[c["Id"]] = (c.get("State"), json.dumps(c.get("Labels") or {}, sort_keys=True),
                               tuple(nets), tuple(mounts))
    st, vs = stack.docker_api("GET", "/volumes")
    assert st == 200, vs
    volumes = {v["Name"]: json.dumps(v.get("Labels") or {}, sort_keys=True) for v in vs.get("Volumes") or []}
    st, ns = stack.docker_api("GET", "/networks")
    assert st == 200, ns
    networks = {}
    for n in ns:
        st, full = stack.docker_api("GET", f"/networks/{n['Id']}")
        attached = tuple(sorted((full.get("Containers") or {}) if st == 200 else {}))
        networks[n["Id"]] = (n["Name"], attached)
    st, ims = stack.docker_api("GET", "/images/json?all=true")
    assert st == 200, ims
    images = {i["Id"]: tuple(sorted(i.get("RepoTags") or [])) for i in ims}
    return {"containers": containers, "volumes": volumes, "networks": networks, "images": images}


def assert_engine_unchanged(stack, before):
    """Asserts the engine holds exactly what the snapshot `before` saw: no new or removed
    container, volume, network or image, and none of them changed state, labels, attachments
    or tags."""
    after = engine_snapshot(stack)
    for kind in ("containers", "volumes", "networks", "images"):
        b, a = before[kind], after[kind]
        added = sorted(set(a) - set(b))
        removed = sorted(set(b) - set(a))
        changed = sorted(k for k in set(a) & set(b) if a[k] != b[k])
        assert not added and not removed and not changed, \
            f"{kind} changed: added={added} removed={removed} changed={[(k, b[k], a[k]) for k in changed]}"


def refused(stack, resp, status, code, field=None):
    """Asserts a problem+json refusal with status and code (and, when given, that the problem
    names field in its `field` member or detail); returns the problem body."""
    body = assert_problem(resp, status, code)
    if field is not None:
        named = body.get("field") or ""
        assert field in named or field in (body.get("detail") or ""), body
    return body
