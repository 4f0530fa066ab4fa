"""README.md and README.ko.md stay in step with the route table (lib/base/dp_routes.c): both hold the
same route index (method, path, scope), and README.ko.md has a curl example for every route whose
method, path and key header match the route. Reads files only; no request is made."""
import os
import re
import shlex

from harness import TOP, read_routes

ROUTES = [(m, p, s) for m, p, s, _ in read_routes()]
INDEX_ROW = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE|HEAD) \| `(/[^`]*)` \| ([a-z:]+) \|$")
EXAMPLE = re.compile(r"^# (GET|POST|PUT|PATCH|DELETE|HEAD) (/\S+)(?: |$)")


def read(name):
    with open(os.path.join(TOP, name), encoding="utf-8") as f:
        return f.read()


def route_index(text, name):
    """The rows between <!-- routes ... --> and <!-- /routes -->; every row must parse."""
    m = re.search(r"<!-- routes\b[^>]*-->\n(.*?)<!-- /routes -->", text, re.S)
    assert m, f"{name}: no <!-- routes --> ... <!-- /routes --> block"
    rows = []
    for line in m.group(1).splitlines():
        if not line.startswith("| ") or line.startswith("| Method ") or line.startswith("|---"):
            continue
        r = INDEX_ROW.match(line)
        assert r, f"{name}: route index row does not parse: {line!r}"
        rows.append(r.groups())
    return rows


def pattern_regex(pat):
    """A route pattern as a regex over a concrete path: {x} is one segment, {x+} one or more."""
    out = ""
    for part in re.split(r"(\{[a-z_]+\+?\})", pat):
        if part.startswith("{"):
            out += ".+" if part.endswith("+}") else "[^/]+"
        elif part:
            out += re.escape(part)
    return re.compile(out + "$")


def curl_examples(text):
    """{(METHOD, pattern): [curl argv, ...]} from ```sh blocks: a '# METHOD /path' comment line,
    then the command lines up to the next comment (a line ending in \\ continues)."""
    found = {}
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        current = None
        for line in block.replace("\\\n", " ").splitlines():
            m = EXAMPLE.match(line)
            if m:
                current = found.setdefault(m.groups(), [])
                assert current == [], f"README.ko.md: two examples for {m.group(1)} {m.group(2)}"
            elif current is not None and "curl " in line:
                cmd = shlex.split(line.split("curl ", 1)[1])
                current.append(cmd)
    return found


def curl_method_and_path(argv):
    """(method, path below $B, has Authorization) of a curl argv as curl would send it."""
    method, url, auth, body = None, None, False, False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-X":
            method = argv[i + 1]
            i += 1
        elif a in ("-H", "--header"):
            auth = auth or argv[i + 1].startswith("Authorization: Bearer ")
            i += 1
        elif a in ("-d", "--data", "--data-binary", "-T", "--upload-file"):
            body = body or a
            i += 1
        elif "$B/" in a:
            url = a
        i += 1
    assert url, f"no $B/ URL in curl {' '.join(argv)}"
    if method is None:   # what curl sends without -X: -T uploads with PUT, -d posts
        method = "PUT" if body in ("-T", "--upload-file") else ("POST" if body else "GET")
    path = url.split("$B", 1)[1].split("?", 1)[0]
    return method, path, auth


def test_readme_route_index_is_the_route_table():
    assert route_index(read("README.md"), "README.md") == ROUTES


def test_korean_readme_route_index_is_the_route_table():
    assert route_index(read("README.ko.md"), "README.ko.md") == ROUTES


def test_korean_readme_has_a_matching_curl_example_for_every_route():
    examples = curl_examples(read("README.ko.md"))
    wanted = {(m, p) for m, p, _ in ROUTES}
    assert set(examples) == wanted, (f"missing: {sorted(wanted - set(examples))}, "
                                     f"not routes: {sorted(set(examples) - wanted)}")
    for m, p, scope in ROUTES:
        cmds = examples[(m, p)]
        assert cmds, f"README.ko.md: no curl line under '# {m} {p}'"
        for argv in cmds:
            method, path, auth = curl_method_and_path(argv)
            assert pattern_regex(p).match(path), f"{m} {p}: example path {path}"
            assert auth == (scope != "none"), \
                f"{m} {p}: Authorization header {'missing' if not auth else 'sent to a route without keys'}"
            assert method == m, f"{m} {p}: the example sends {method}"
