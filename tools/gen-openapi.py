#!/usr/bin/env python3
"""gen-openapi.py: writes openapi.json (OpenAPI 3.1.0) for mod_dockpay.

The paths, methods, scopes and operationIds come from the route table in lib/base/dp_routes.c (the
source of truth); everything else (parameters, bodies, responses) comes from the tables below,
which follow docs/api.md (the contract). A route without an entry in OPS, or an entry without
a route, is an error, so the document cannot silently drift from the routes.

    tools/gen-openapi.py            rewrite openapi.json in the top folder
    tools/gen-openapi.py --check    exit 1 if openapi.json is not what this script generates
    tools/gen-openapi.py --stdout   print the document

No network, no third-party modules. t/integration/test_openapi.py checks the result against the
route table and against what the module serves at GET /api/v1/openapi.json.
"""
import json
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUTES_C = os.path.join(TOP, "lib", "base", "dp_routes.c")
OUT = os.path.join(TOP, "openapi.json")
VERSION = "0.1.0"

SCOPES = {
    "DR": "docker:read", "DP_SCOPE_DOCKER_READ": "docker:read",
    "DW": "docker:write", "DP_SCOPE_DOCKER_WRITE": "docker:write",
    "PR": "payments:read", "DP_SCOPE_PAYMENTS_READ": "payments:read",
    "PW": "payments:write", "DP_SCOPE_PAYMENTS_WRITE": "payments:write",
    "AD": "admin", "DP_SCOPE_ADMIN": "admin",
    "DP_SCOPE_NONE": "none",
}
ROUTE_RE = re.compile(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,\s*([A-Z_]+)\s*,\s*"([^"]+)"\s*\}')


def read_routes(path=ROUTES_C):
    """[(method, pattern, scope name, handler id)] in table order, comments stripped."""
    with open(path, encoding="utf-8") as f:
        src = f.read()
    # drop comments, not string literals (which may hold "//")
    src = re.sub(r'("(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\')|/\*.*?\*/|//[^\n]*', lambda m: m.group(1) or " ", src, flags=re.S)
    return [(m, p, SCOPES[s], i) for m, p, s, i in ROUTE_RE.findall(src)]


def oas_path(pattern):
    """/images/{name+} -> /images/{name}."""
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\+\}", r"{\1}", pattern)


# ------------------------------------------------------------------------------------------------
# small builders

def ref(name):
    return {"$ref": "#/components/schemas/" + name}


def s_str(desc=None, **kw):
    d = {"type": "string"}
    if desc:
        d["description"] = desc
    d.update(kw)
    return d


def s_int(desc=None, **kw):
    d = {"type": "integer"}
    if desc:
        d["description"] = desc
    d.update(kw)
    return d


def s_bool(desc=None, **kw):
    d = {"type": "boolean"}
    if desc:
        d["description"] = desc
    d.update(kw)
    return d


def s_obj(props, required=(), desc=None, extra=False, **kw):
    d = {"type": "object"}
    if desc:
        d["description"] = desc
    if required:
        d["required"] = list(required)
    d["properties"] = props
    d["additionalProperties"] = extra
    d.update(kw)
    return d


def s_arr(items, desc=None, **kw):
    d = {"type": "array", "items": items}
    if desc:
        d["description"] = desc
    d.update(kw)
    return d


def s_items(item, desc=None):
    return s_obj({"items": s_arr(item)}, ["items"], desc, extra=False)


RID = {"$ref": "#/components/headers/X-Request-Id"}


def ok(desc, schema=None, media="application/json", headers=None, content=None):
    r = {"description": desc, "headers": {"X-Request-Id": RID}}
    if headers:
        r["headers"].update(headers)
    if content is not None:
        r["content"] = content
    elif schema is not None:
        r["content"] = {media: {"schema": schema}}
    return r


def no_content(desc):
    return {"description": desc, "headers": {"X-Request-Id": RID}}


ERR_NAMES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
             409: "Conflict", 413: "PayloadTooLarge", 415: "UnsupportedMediaType",
             422: "UnprocessableContent", 502: "BadGateway", 503: "ServiceUnavailable",
             504: "GatewayTimeout"}


def err(status, desc):
    """A problem response: a reference to the shared response with a route-specific description."""
    return {"$ref": "#/components/responses/" + ERR_NAMES[status], "description": desc}


def q(name, schema, desc, required=False, **kw):
    d = {"name": name, "in": "query", "description": desc, "required": required, "schema": schema}
    d.update(kw)
    return d


def qbool(name, default, desc):
    return q(name, {"type": "boolean", "default": default}, desc + " (`true`/`false`, also `1`/`0`)")


def p(name, desc, greedy=False, pattern=None, max_len=None):
    schema = {"type": "string", "minLength": 1}
    if pattern:
        schema["pattern"] = pattern
    if max_len:
        schema["maxLength"] = max_len
    d = {"name": name, "in": "path", "required": True, "description": desc, "schema": schema}
    if greedy:
        d["description"] += (" The value is the rest of the path: it may contain `/` and `:` "
                             "(e.g. `localhost:5000/team/app:1.2`), sent unencoded.")
        d["x-greedy"] = True
    return d


def body_json(schema, desc=None, required=True, examples=None):
    media = {"schema": schema}
    if examples:
        media["examples"] = examples
    d = {"required": required, "content": {"application/json": media}}
    if desc:
        d["description"] = desc
    return d


# common error descriptions
E401 = err(401, "No `Authorization: Bearer <key>` header, or an unknown key (`unauthorized`); "
                "the answer carries `WWW-Authenticate: Bearer`.")


def e403(scope, more=""):
    return err(403, "The key lacks the `%s` scope (`insufficient_scope`)%s." % (scope, more))


E400_Q = err(400, "A query parameter is malformed, of the wrong type or out of range, or the query "
                  "string is not correctly %-encoded (`bad_query`).")
E400_B = err(400, "The body is not JSON (`malformed_json`), not an object, has a field of the wrong type "
                  "(`wrong_type`), lacks a required field (`missing_field`) or has an unknown field "
                  "(`unknown_field`); `detail` names the field. Malformed query parameters too (`bad_query`).")
E413 = err(413, "The body is larger than `DockpayMaxBody` (default 1 MiB) (`body_too_large`).")
E415 = err(415, "The body is not `application/json` (`unsupported_media_type`).")
D502 = err(502, "Docker answered with an error the client cannot fix (`docker_error`, `docker_bad_response`).")
D503 = err(503, "The Docker socket cannot be reached (`docker_unavailable`); `Retry-After` is sent.")
D504 = err(504, "Docker did not answer within `DockpayDockerTimeout` (`docker_timeout`).")
P502 = err(502, "PortOne failed or answered with something unusable (`portone_error`, "
                "`portone_auth_failed` for a bad key/secret, `portone_bad_response`); PortOne's message is in "
                "`detail`.")
P409 = err(409, "PortOne refused the request as conflicting with the payment's state, e.g. a duplicate "
                "merchant_uid (`portone_conflict`, PortOne's message in `detail`).")
P422 = err(422, "PortOne refused the request (`portone_rejected`, PortOne's message in `detail`).")
P503 = err(503, "PortOne is not configured (`portone_not_configured`) or cannot be reached "
                "(`portone_unavailable`), or the database is down (`database_unavailable`); `Retry-After` "
                "is sent.")
P504 = err(504, "PortOne did not answer within `DockpayPortOneTimeout` (`portone_timeout`).")
DB503 = err(503, "The database cannot be reached (`database_unavailable`); `Retry-After` is sent.")

Q503 = err(503, "The Docker socket cannot be reached (`docker_unavailable`); or, for a key with a quota, the "
                "database is down (`database_unavailable`: the usage cannot be counted safely) or another "
                "create by the key held its quota lock too long (`quota_busy`). `Retry-After` is sent.")
DOCKER_ERRS = {502: D502, 503: D503, 504: D504}
PORTONE_ERRS = {409: P409, 422: P422, 502: P502, 503: P503, 504: P504}


def errs(*pairs, docker=False, portone=False):
    d = {}
    for st, r in pairs:
        d[st] = r
    if docker:
        d.update({k: v for k, v in DOCKER_ERRS.items() if k not in d})
    if portone:
        d.update({k: v for k, v in PORTONE_ERRS.items() if k not in d})
    return d


def container_id(desc="Container id (full or unique prefix) or name."):
    return p("id", desc, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_len=128)


C404 = err(404, "No such container, an id that is not a valid container id or name, or (with "
                "`DockpayManagedOnly On`) a container not created through this API (`container_not_found`).")

# ------------------------------------------------------------------------------------------------
# schemas

UID_PATTERN = r"^[A-Za-z0-9_.:-]+$"

SCHEMAS = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details, sent as `application/problem+json` for every error. "
                       "`code` is a stable snake_case string to switch on (e.g. `unauthorized`, "
                       "`insufficient_scope`, `not_found`, `method_not_allowed`, `bad_query`, "
                       "`malformed_json`, `wrong_type`, `missing_field`, `unknown_field`, "
                       "`invalid_value`, `policy_denied`, `body_too_large`, `unsupported_media_type`, "
                       "`container_not_found`, `image_not_found`, `network_not_found`, "
                       "`volume_not_found`, `project_not_found`, `order_not_found`, `prepare_conflict`, "
                       "`amount_mismatch`, `currency_mismatch`, `payment_order_mismatch`, `docker_unavailable`, `docker_timeout`, `portone_error`, "
                       "`portone_rejected`, `portone_conflict`, `portone_unavailable`, `database_unavailable`, "
                       "`too_many_streams`). Some "
                       "problems add members of their own (`field`, `expected`, `actual`, `output`, ...).",
        "required": ["type", "title", "status", "code"],
        "properties": {
            "type": s_str("`about:blank` or a stable URI identifying the problem type.",
                          format="uri-reference"),
            "title": s_str("Short summary of the status (the HTTP reason phrase)."),
            "status": s_int("The HTTP status code.", minimum=400, maximum=599),
            "detail": s_str("Human-readable explanation; names the offending field or value. Never "
                            "contains secrets."),
            "code": s_str("Stable machine-readable snake_case error code.", pattern="^[a-z][a-z0-9_]*$"),
            "field": s_str("The request field a validation or policy problem is about, where known."),
        },
        "additionalProperties": True,
        "examples": [{"type": "about:blank", "title": "Not Found", "status": 404,
                      "detail": "no such container: web", "code": "container_not_found"}],
    },
    "DockerObject": {
        "type": "object",
        "description": "An object of the Docker Engine API, passed through unchanged with Docker's own "
                       "field names (`Id`, `Names`, `State`, ...); see Docker's Engine API reference for "
                       "the engine's API version.",
        "additionalProperties": True,
    },
    "DockerItems": s_items(ref("DockerObject"), "A Docker list: `items` holds Docker's objects with "
                                                "Docker's field names."),
    "VolumeItems": s_obj({"items": s_arr(ref("DockerObject")), "warnings": s_arr(s_str())}, ["items"],
                         "Docker's volume list: `items` holds Docker's volume objects, `warnings` Docker's "
                         "warnings."),
    "Changed": s_obj({"changed": s_bool("False when the container or network was already in the "
                                        "requested state (nothing was done).")}, ["changed"]),
    "ContainerCreated": s_obj({
        "id": s_str("The new container's id."),
        "name": s_str("The container's name (Docker's generated one if none was asked for)."),
        "warnings": s_arr(s_str(), "Docker's warnings, possibly empty."),
        "started": s_bool("Present (true) when `start=true` started the container."),
    }, ["id", "name", "warnings"]),
    "ContainerCreateSimple": s_obj({
        "image": s_str("Image reference, e.g. `nginx:latest`.", maxLength=512),
        "name": s_str("Container name.", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$", maxLength=128),
        "ports": s_arr(s_str(examples=["8080:80", "127.0.0.1:8443:443/tcp"]),
                       "Port publications `[IP:][HOST:]CONTAINER[/PROTO]`; an invalid spec is 422."),
        "env": {"description": "Environment: an object of strings or an array of `KEY=VALUE` strings.",
                "oneOf": [{"type": "object", "additionalProperties": {"type": "string"}},
                          s_arr(s_str(pattern="^[^=]+=.*$"))]},
        "cmd": s_arr(s_str(), "Command (Docker's `Cmd`)."),
        "entrypoint": s_arr(s_str(), "Entrypoint (Docker's `Entrypoint`)."),
        "volumes": s_arr(s_str(examples=["vol:/data", "/host/path:/data:ro"]),
                         "`VOLUME:/path[:ro]` or `/host/path:/path[:ro]`; host paths must be below a "
                         "`DockpayBindAllow` prefix (else 403 `policy_denied`); the Docker socket is "
                         "never allowed; an invalid spec is 422."),
        "labels": {"type": "object", "additionalProperties": {"type": "string"},
                   "description": "Labels; `dockpay.managed` and `dockpay.key` are always set by the server."},
        "restart": s_str("Restart policy.", pattern=r"^(no|always|unless-stopped|on-failure(:[0-9]+)?)$"),
        "network": s_str("Network to attach (Docker's `NetworkMode`); `host` needs "
                         "`DockpayPolicyAllow host-namespaces`.", maxLength=256),
        "memory": {"description": "Memory limit: a size such as `256m`, `1g`, or a number of bytes "
                                  "(at least 6m); invalid is 422.",
                   "oneOf": [s_str(examples=["256m"]), s_int(minimum=6291456)]},
        "cpus": {"type": "number", "minimum": 0.01, "maximum": 1024, "description": "CPUs (e.g. 0.5)."},
        "workdir": s_str("Working directory (absolute path).", pattern="^/"),
        "user": s_str("User (`name`, `uid` or `uid:gid`).", maxLength=256),
        "hostname": s_str("Host name.", maxLength=253),
        "customer_uid": s_str("Binds the new object to this subscription customer (billing-aware containers: "
                              "needs docker:write and payments:write; the customer must have a live billing "
                              "key, else 422 `customer_not_found`).", pattern=r"^[A-Za-z0-9_.:-]+$", maxLength=80),
    }, ["image"], "The simple create body; translated to Docker's create body by the server."),
    "ContainerCreateRaw": s_obj({
        "docker": {"type": "object", "additionalProperties": True,
                   "description": "Docker's own container create body (`Image`, `Cmd`, `HostConfig`, ...), "
                                  "checked by the create policy before Docker sees it: `Privileged`, host "
                                  "namespaces, `CapAdd`, devices, bind mounts (`Binds` and `Mounts`) outside "
                                  "`DockpayBindAllow`, `SecurityOpt` and `Sysctls` are 403 `policy_denied` "
                                  "unless relaxed by `DockpayPolicyAllow`/`DockpayCapAllow`."},
        "name": s_str("Container name.", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$", maxLength=128),
        "customer_uid": s_str("Binds the new object to this subscription customer (billing-aware containers: "
                              "needs docker:write and payments:write; the customer must have a live billing "
                              "key, else 422 `customer_not_found`).", pattern=r"^[A-Za-z0-9_.:-]+$", maxLength=80),
    }, ["docker"], "The raw alternative: Docker's create body under `docker`."),
    "LogLine": s_obj({
        "stream": s_str("Which stream the line came from.", enum=["stdout", "stderr"]),
        "time": s_str("Docker's RFC 3339 timestamp of the line; only with `timestamps=true`."),
        "text": s_str("The line without its newline."),
    }, ["stream", "text"]),
    "Logs": s_obj({"lines": s_arr(ref("LogLine"))}, ["lines"],
                  "The container's log lines, the 8-byte stream framing of non-TTY containers decoded."),
    "StatsSummary": s_obj({
        "cpu_percent": {"type": "number", "description": "CPU use in percent, computed as `docker stats` "
                                                         "does (may exceed 100 on several CPUs)."},
        "memory_usage": s_int("Memory in use in bytes, without the page cache (as `docker stats`)."),
        "memory_limit": s_int("Memory limit in bytes."),
        "memory_percent": {"type": "number", "description": "memory_usage / memory_limit in percent."},
        "net_rx": s_int("Bytes received over all networks."),
        "net_tx": s_int("Bytes sent over all networks."),
        "block_read": s_int("Bytes read from block devices."),
        "block_write": s_int("Bytes written to block devices."),
        "pids": s_int("Number of processes."),
    }, ["cpu_percent", "memory_usage", "memory_limit", "memory_percent", "net_rx", "net_tx",
        "block_read", "block_write", "pids"]),
    "Stats": {
        "type": "object",
        "description": "One stats sample: Docker's stats object (Docker's field names) plus `summary`.",
        "required": ["summary"],
        "properties": {"summary": ref("StatsSummary")},
        "additionalProperties": True,
    },
    "ImagePullRequest": s_obj({
        "image": s_str("Image name, optionally with `:tag` or `@digest` (e.g. `redis:latest`).",
                       maxLength=255),
        "tag": s_str("Tag, when `image` has none (default `latest`).", maxLength=128),
        "auth": s_obj({
            "username": s_str(maxLength=256),
            "password": s_str("Sent to Docker as `X-Registry-Auth`; never logged or returned.",
                              writeOnly=True, maxLength=4096),
            "serveraddress": s_str("Registry address.", maxLength=256),
        }, desc="Registry credentials."),
    }, ["image"]),
    "ImagePullResult": s_obj({
        "image": s_str("The reference pulled."),
        "status": s_str("Docker's final progress status."),
        "id": s_str("The local image id (`sha256:...`)."),
        "digest": {"type": ["string", "null"], "description": "The repository digest, when Docker reports one."},
    }, ["image", "status", "id"]),
    "ImageBuildResult": s_obj({
        "id": s_str("The built image's id."),
        "tags": s_arr(s_str(), "The tags given with `t`."),
        "log": s_arr(s_str(), "The build output (the last lines when it is long)."),
    }, ["id", "log"]),
    "VolumeCreateRequest": s_obj({
        "name": s_str("Volume name (Docker generates one if absent).",
                      pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$", maxLength=255),
        "driver": s_str("Volume driver (default `local`).", maxLength=64),
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "driver_opts": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "Driver options; a `local` bind (`type=none`, `o=bind`, `device=`) "
                                       "must be below a `DockpayBindAllow` prefix (else 403 `policy_denied`)."},
    }),
    "NetworkCreateRequest": s_obj({
        "name": s_str("Network name.", maxLength=255),
        "driver": s_str("Network driver (default `bridge`); `host`, `macvlan`, `ipvlan` and `null` are "
                        "403 `policy_denied`.", maxLength=64),
        "internal": s_bool("No external connectivity.", default=False),
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "subnet": s_str("IPAM subnet in CIDR form, e.g. `10.42.0.0/24`.", maxLength=64),
        "gateway": s_str("IPAM gateway inside `subnet`.", maxLength=64),
    }, ["name"]),
    "NetworkCreated": s_obj({
        "id": s_str("The new network's id."),
        "warning": {"type": ["string", "null"], "description": "Docker's warning, if any."},
    }, ["id"]),
    "NetworkConnectRequest": s_obj({
        "container": s_str("Container id or name.", maxLength=255),
        "aliases": s_arr(s_str(), "DNS aliases on this network."),
        "ipv4_address": s_str("Static IPv4 address (the network needs a user-defined subnet).", maxLength=64),
    }, ["container"]),
    "NetworkDisconnectRequest": s_obj({
        "container": s_str("Container id or name.", maxLength=255),
        "force": s_bool("Disconnect even if the container is not running.", default=False),
    }, ["container"]),
    "PruneRequest": s_obj({
        "containers": s_bool("Remove stopped containers.", default=True),
        "images": s_bool("Remove dangling images.", default=True),
        "volumes": s_bool("Remove unused volumes.", default=False),
        "networks": s_bool("Remove unused networks.", default=True),
        "build_cache": s_bool("Remove the build cache.", default=False),
    }, desc="What to prune; absent fields take the defaults shown; an empty body prunes the defaults."),
    "PruneResult": {
        "type": "object",
        "description": "Docker's prune report of each kind pruned (Docker's field names, e.g. "
                       "`ContainersDeleted`, `SpaceReclaimed`) under the kind's name, plus the total.",
        "required": ["space_reclaimed"],
        "properties": {
            "containers": ref("DockerObject"), "images": ref("DockerObject"),
            "volumes": ref("DockerObject"), "networks": ref("DockerObject"),
            "build_cache": ref("DockerObject"),
            "space_reclaimed": s_int("Total bytes reclaimed."),
        },
        "additionalProperties": False,
    },
    "ComposeProject": s_obj({
        "name": s_str("Project name (`com.docker.compose.project`)."),
        "status": s_str("Summary of its containers' states, e.g. `running(2)` or `exited(1), running(1)`."),
        "services": s_arr(s_str(), "Service names."),
        "container_count": s_int("Number of containers."),
        "working_dir": {"type": ["string", "null"], "description": "`com.docker.compose.project.working_dir`."},
        "config_files": s_arr(s_str(), "`com.docker.compose.project.config_files`."),
    }, ["name", "status", "services", "container_count"], extra=True),
    "ComposeProjectDetail": {
        "allOf": [ref("ComposeProject"), {
            "type": "object",
            "properties": {
                "containers": s_arr(ref("DockerObject"), "The project's containers (Docker's list objects)."),
                "networks": s_arr(ref("DockerObject"), "The project's networks (Docker's objects)."),
                "volumes": s_arr(ref("DockerObject"), "The project's volumes (Docker's objects)."),
            },
            "required": ["containers", "networks", "volumes"],
        }],
    },
    "ComposeUpRequest": s_obj({
        "project": s_str("Project name.", pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$"),
        "compose": s_str("The compose file (YAML text)."),
        "customer_uid": s_str("Binds the new object to this subscription customer (billing-aware containers: "
                              "needs docker:write and payments:write; the customer must have a live billing "
                              "key, else 422 `customer_not_found`).", pattern=r"^[A-Za-z0-9_.:-]+$", maxLength=80),
    }, ["project", "compose"]),
    "ComposeUpResult": {
        "type": "object",
        "description": "The project as `GET /compose/{project}` returns it, plus the command's output "
                       "(only `name` and `output` when the file started nothing).",
        "required": ["name", "output"],
        "properties": {"name": s_str(), "output": s_str("Output of the compose command.")},
        "additionalProperties": True,
    },
    "ComposeActionResult": s_obj({
        "project": s_str(),
        "results": s_arr(s_obj({"id": s_str(), "name": s_str(), "changed": s_bool()},
                               ["id", "changed"], extra=True), "One entry per container."),
    }, ["project", "results"]),
    "ComposeDownResult": s_obj({
        "project": s_str(),
        "containers": s_arr({"type": "object", "additionalProperties": True}, "Containers removed."),
        "networks": s_arr({"type": "object", "additionalProperties": True}, "Networks removed."),
        "volumes": s_arr({"type": "object", "additionalProperties": True},
                         "Volumes removed (only with `volumes=true`)."),
    }, ["project", "containers", "networks", "volumes"]),
    "Health": s_obj({
        "status": s_str("`ok` when every configured dependency is up, else `degraded` (with status 503).",
                        enum=["ok", "degraded"]),
        "docker": s_str(enum=["ok", "down"]),
        "database": s_str(enum=["ok", "down"]),
        "portone": s_str("Whether a PortOne key and secret are configured (PortOne is not called).",
                         enum=["configured", "not configured"]),
    }, ["status", "docker", "database", "portone"]),
    "PortOnePayment": {
        "type": "object",
        "description": "PortOne V1's payment object, passed through with PortOne's field names (see "
                       "PortOne's V1 REST reference, `PaymentAnnotation`); card numbers are masked by PortOne.",
        "properties": {
            "imp_uid": s_str(), "merchant_uid": s_str(), "amount": {"type": "number"},
            "cancel_amount": {"type": "number"}, "currency": s_str(),
            "status": s_str(enum=["ready", "paid", "cancelled", "failed"]),
            "pay_method": s_str(), "pg_provider": s_str(), "name": s_str(),
            "paid_at": s_int(), "cancelled_at": s_int(), "failed_at": s_int(),
            "vbank_code": s_str(), "vbank_num": s_str(), "vbank_holder": s_str(), "vbank_date": s_int(),
            "cancel_history": s_arr({"type": "object", "additionalProperties": True}),
        },
        "additionalProperties": True,
    },
    "PortOneBillingKey": {
        "type": "object",
        "description": "PortOne V1's billing key (customer) object with PortOne's field names "
                       "(`CustomerAnnotation`): `customer_uid`, `pg_provider`, `card_name`, masked "
                       "`card_number`, `inserted`, `updated`, ... It never holds the card's secrets.",
        "properties": {"customer_uid": s_str(), "pg_provider": s_str(), "card_name": s_str(),
                       "card_code": s_str(), "card_number": s_str("Masked.")},
        "additionalProperties": True,
    },
    "PortOneSchedule": {
        "type": "object",
        "description": "PortOne V1's schedule result with PortOne's field names (`ScheduleResultAnnotation`): "
                       "`customer_uid`, `merchant_uid`, `imp_uid`, `schedule_at`, `amount`, `name`, "
                       "`schedule_status` (`scheduled`/`executed`/`revoked`), `payment_status`, ...",
        "properties": {"customer_uid": s_str(), "merchant_uid": s_str(), "schedule_at": s_int(),
                       "amount": {"type": "number"},
                       "schedule_status": s_str(enum=["scheduled", "executed", "revoked"])},
        "additionalProperties": True,
    },
    "PaymentRecord": s_obj({
        "merchant_uid": s_str(),
        "imp_uid": {"type": ["string", "null"]},
        "status": s_str(enum=["prepared", "ready", "paid", "cancelled", "failed"]),
        "prepared_amount": {"type": ["integer", "null"], "description": "Amount registered by prepare."},
        "amount": {"type": ["integer", "null"], "description": "Amount PortOne reported."},
        "cancelled_amount": s_int(),
        "currency": {"type": ["string", "null"]},
        "pay_method": {"type": ["string", "null"]},
        "pg_provider": {"type": ["string", "null"]},
        "name": {"type": ["string", "null"]},
        "buyer_name": {"type": ["string", "null"]},
        "buyer_email": {"type": ["string", "null"]},
        "buyer_tel": {"type": ["string", "null"]},
        "vbank": s_obj({"code": s_str(), "name": {"type": ["string", "null"]}, "num": {"type": ["string", "null"]},
                        "holder": {"type": ["string", "null"]}, "due": s_int()}, extra=True,
                       desc="Virtual account, for vbank payments."),
        "paid_at": s_int("Unix seconds; 0 when not paid."),
        "failed_at": s_int("Unix seconds; 0 when not failed."),
        "cancelled_at": s_int("Unix seconds; 0 when not cancelled."),
        "created_at": s_str(format="date-time"),
        "updated_at": s_str(format="date-time"),
    }, ["merchant_uid", "status"], "A payment as recorded in the local database.", extra=True),
    "ScheduleRecord": s_obj({
        "merchant_uid": s_str(), "schedule_at": s_int("Unix seconds."), "amount": s_int(),
        "name": {"type": ["string", "null"]},
        "status": s_str("Local schedule state.", enum=["scheduled", "executed", "failed", "revoked"]),
        "imp_uid": {"type": ["string", "null"]},
        "created_at": {"type": ["integer", "null"]}, "executed_at": {"type": ["integer", "null"]},
        "revoked_at": {"type": ["integer", "null"]},
    }, ["merchant_uid", "schedule_at", "amount", "status"], "A schedule as recorded locally.", extra=True),
    "BillingKeyRecord": s_obj({
        "customer_uid": s_str(),
        "pg_provider": {"type": ["string", "null"]}, "pg_id": {"type": ["string", "null"]},
        "card_name": {"type": ["string", "null"]}, "card_code": {"type": ["string", "null"]},
        "card_number": {"type": ["string", "null"], "description": "Masked (at most the first 6 and last 4 digits)."},
        "created_at": {"type": ["integer", "null"], "description": "Unix seconds."},
        "updated_at": {"type": ["integer", "null"]},
        "deleted_at": {"type": ["integer", "null"], "description": "Unix seconds; null while the key exists."},
        "schedules": s_arr(ref("ScheduleRecord")),
    }, ["customer_uid", "schedules"], "A billing key as recorded locally (no card secrets).", extra=True),
    "Page": s_obj({
        "items": s_arr({}),
        "page": s_int("1-based page number.", minimum=1),
        "limit": s_int("Page size.", minimum=1, maximum=100),
        "total": s_int("Number of items over all pages.", minimum=0),
    }, ["items", "page", "limit", "total"], "A page of a paginated collection."),
    "AuditRecord": s_obj({
        "id": s_int("Row id.", minimum=1),
        "time": s_str("When the request was answered (RFC 3339, UTC).", format="date-time"),
        "key": s_str("Name of the API key (`-` when none)."),
        "method": s_str(), "path": s_str("Path below the base path."),
        "target": {"type": ["string", "null"], "description": "What the request acted on, if known."},
        "status": s_int("The HTTP status answered."),
        "request_id": s_str("The request's `X-Request-Id`."),
    }, ["id", "time", "key", "method", "path", "target", "status", "request_id"]),
    "AuditPage": s_obj({
        "items": s_arr(ref("AuditRecord")),
        "limit": s_int("Page size.", minimum=1, maximum=200),
        "next_cursor": {"type": ["string", "null"], "description": "Pass as `cursor` for the next page; "
                                                                   "null on the last page."},
    }, ["items", "limit", "next_cursor"]),
    "PaymentPage": {"allOf": [ref("Page"), {"type": "object",
                                           "properties": {"items": s_arr(ref("PaymentRecord"))}}]},
    "BillingStatus": s_obj({
        "customer_uid": s_str(),
        "state": s_str("active, past_due or suspended.", enum=["active", "past_due", "suspended"]),
        "since": {"type": ["integer", "null"], "description": "Unix seconds the customer entered the state."},
        "reason": {"type": ["string", "null"], "description": "Why (the event that moved it)."},
        "grace_until": {"type": ["integer", "null"], "description": "past_due: when enforcement acts."},
        "enforced": {"type": ["string", "null"], "description": "stop or pause: what enforcement did and "
                                                                "has not undone yet."},
        "version": s_int("Counts the record's changes."),
        "billing_key": s_bool("The customer has a live billing key issued through this server."),
        "containers": s_arr(s_obj({"id": s_str(), "name": s_str(), "kind": s_str("container or project."),
                                   "project": s_str(), "state": s_str("The engine's state, or `missing`.")},
                                  extra=True), "The bound containers with their engine state."),
        "changed": s_bool("resume: whether the state changed."),
    }, ["customer_uid", "state", "containers"], extra=True),
    "BillingBinding": s_obj({"customer_uid": s_str(), "id": s_str("The container's full id."),
                             "kind": s_str()}, ["customer_uid", "id", "kind"]),
    "ResumeRequest": s_obj({"reason": s_str("Why (audited).", maxLength=200)}, ["reason"]),
    "SubscriptionPage": {"allOf": [ref("Page"), {"type": "object",
                                                "properties": {"items": s_arr(ref("BillingKeyRecord"))}}]},
    "Prepared": s_obj({"merchant_uid": s_str(), "amount": s_int(), "currency": s_str()},
                      ["merchant_uid", "amount"]),
    "PrepareRequest": s_obj({
        "merchant_uid": s_str("Order number: 1 to 40 characters, no `/` or control characters.",
                              minLength=1, maxLength=40),
        "amount": s_int("Amount (KRW).", minimum=1, maximum=10000000000000),
        "currency": s_str("Currency of the order: only `KRW` (the default); anything else is 400 "
                          "`unsupported_currency`.", enum=["KRW"]),
    }, ["merchant_uid", "amount"]),
    "CancelRequest": {
        "type": "object",
        "description": "`imp_uid` or `merchant_uid` is required (`imp_uid` wins when both are given).",
        "properties": {
            "imp_uid": s_str(maxLength=32, pattern=UID_PATTERN),
            "merchant_uid": s_str(maxLength=40),
            "amount": s_int("Amount to cancel (partial); absent: the whole remainder.", minimum=1),
            "reason": s_str(maxLength=256),
            "tax_free": s_int("Tax-free part of the cancelled amount; not above `amount`.", minimum=0),
            "refund_holder": s_str("Refund account holder (virtual account payments).", maxLength=64),
            "refund_bank": s_str("Refund bank code: 3-digit KFTC, 2-digit or `BKnn`; checked against the "
                                 "bank table (422 `invalid_bank_code`).", maxLength=4),
            "refund_account": s_str("Refund account number.", maxLength=32),
            "expected_remainder": s_int("The cancellable remainder (PortOne's amount minus what is already "
                                        "cancelled) the client expects; when PortOne's differs: 409 "
                                        "`remainder_mismatch` (with `expected_remainder` and "
                                        "`cancellable_amount`) and nothing is refunded.", minimum=0),
        },
        "anyOf": [{"required": ["imp_uid"]}, {"required": ["merchant_uid"]}],
        "additionalProperties": False,
    },
    "VbankRequest": s_obj({
        "merchant_uid": s_str(minLength=1, maxLength=40),
        "amount": s_int("Amount expected to be deposited.", minimum=1),
        "vbank_code": s_str("Bank code (3-digit KFTC, 2-digit or `BKnn`), checked against the bank table "
                            "(422 `invalid_bank_code`).", maxLength=8),
        "vbank_due": s_int("Deposit deadline, unix seconds (at least a minute ahead, at most 366 days); "
                           "default now + `DockpayVbankDueDays`."),
        "vbank_holder": s_str("Account holder name shown to the depositor.", maxLength=64),
        "name": s_str("Order name.", maxLength=80),
        "buyer_name": s_str(maxLength=64), "buyer_email": s_str(maxLength=128),
        "buyer_tel": s_str(maxLength=32), "buyer_addr": s_str(maxLength=128),
        "buyer_postcode": s_str(maxLength=8),
        "currency": s_str("Currency of the order: only `KRW` (the default); anything else is 400 "
                          "`unsupported_currency`.", enum=["KRW"]),
    }, ["merchant_uid", "amount", "vbank_code", "vbank_holder", "name"]),
    "VerifyRequest": s_obj({
        "imp_uid": s_str(maxLength=32, pattern=UID_PATTERN),
        "merchant_uid": s_str("The order the payment must belong to (409 `payment_order_mismatch` "
                              "when PortOne's merchant_uid differs).", minLength=1, maxLength=40),
        "amount": s_int("The amount the client expects (compared too).", minimum=0),
        "status": s_str("The status the client expects.", enum=["ready", "paid", "cancelled", "failed"]),
    }, ["imp_uid"]),
    "VerifyResult": s_obj({
        "verified": {"const": True},
        "payment": ref("PortOnePayment"),
    }, ["verified", "payment"]),
    "BillingKeyRequest": s_obj({
        "customer_uid": s_str("Billing key id chosen by the merchant.", pattern=UID_PATTERN, maxLength=80),
        "card_number": s_str("Card number, 14-16 digits, optionally grouped by dashes. Passed to PortOne "
                             "once; never stored, logged or returned.", writeOnly=True),
        "expiry": s_str("Card expiry `YYYY-MM`. Never stored or logged.", pattern=r"^[0-9]{4}-[0-9]{2}$",
                        writeOnly=True),
        "birth": s_str("Holder's birth date `YYMMDD` or a 10-digit business number. Never stored or logged.",
                       pattern=r"^([0-9]{6}|[0-9]{10})$", writeOnly=True),
        "pwd_2digit": s_str("First two digits of the card password. Never stored or logged.",
                            pattern=r"^[0-9]{2}$", writeOnly=True),
        "cvc": s_str("CVC (some PGs only). Never stored or logged.", pattern=r"^[0-9]{3,4}$",
                     writeOnly=True),
        "customer_id": s_str("PortOne `customer_id` (some PGs)."),
        "customer_name": s_str(), "customer_tel": s_str(), "customer_email": s_str(),
        "customer_addr": s_str(), "customer_postcode": s_str(),
    }, ["customer_uid", "card_number", "expiry", "birth", "pwd_2digit"],
        "Card data for PortOne's billing key issue. The card fields are write-only: the server passes "
        "them to PortOne once and never stores, logs or returns them; it stores `customer_uid` and "
        "PortOne's non-secret card info."),
    "BuyerFields": {"type": "object", "properties": {
        "buyer_name": s_str(), "buyer_tel": s_str(), "buyer_email": s_str(),
        "buyer_addr": s_str(), "buyer_postcode": s_str()}},
    "SubscriptionPayRequest": s_obj({
        "customer_uid": s_str(pattern=UID_PATTERN, maxLength=80),
        "merchant_uid": s_str(pattern=UID_PATTERN, maxLength=40),
        "amount": s_int(minimum=1, maximum=10000000000),
        "name": s_str("Order name (1-80 bytes).", minLength=1, maxLength=80),
        "buyer_name": s_str(), "buyer_tel": s_str(), "buyer_email": s_str(),
        "buyer_addr": s_str(), "buyer_postcode": s_str(),
    }, ["customer_uid", "merchant_uid", "amount", "name"]),
    "ScheduleItem": s_obj({
        "merchant_uid": s_str(pattern=UID_PATTERN, maxLength=40),
        "schedule_at": s_int("When to charge, unix seconds: later than now, at most 365 days ahead.",
                             minimum=0),
        "amount": s_int(minimum=1, maximum=10000000000),
        "name": s_str("Order name (1-80 bytes).", minLength=1, maxLength=80),
        "buyer_name": s_str(), "buyer_tel": s_str(), "buyer_email": s_str(),
        "buyer_addr": s_str(), "buyer_postcode": s_str(),
        "currency": s_str("Currency of the order: only `KRW` (the default); anything else is 400 "
                          "`unsupported_currency`.", enum=["KRW"]),
    }, ["merchant_uid", "schedule_at", "amount", "name"]),
    "ScheduleRequest": s_obj({
        "customer_uid": s_str(pattern=UID_PATTERN, maxLength=80),
        "schedules": s_arr(ref("ScheduleItem"), "No merchant_uid twice.", minItems=1, maxItems=50),
    }, ["customer_uid", "schedules"]),
    "UnscheduleRequest": s_obj({
        "merchant_uid": s_arr(s_str(pattern=UID_PATTERN, maxLength=40), "Schedules to revoke; absent: all.",
                              minItems=1, maxItems=50, uniqueItems=True),
    }),
    "WebhookEvent": s_obj({
        "imp_uid": s_str(), "merchant_uid": s_str(),
        "status": s_str(enum=["ready", "paid", "cancelled", "failed"]),
        "cancellation_id": s_str("For cancel events."),
    }, ["imp_uid", "merchant_uid"], "PortOne V1's notification. It is never trusted on its own: the server "
                                    "re-queries PortOne.", extra=True),
    "WebhookReceived": s_obj({
        "received": {"const": True},
        "outcome": s_str("`received` for a new event (applied in the background); for a known one what "
                         "applying it did: `applied`, `stale`, `unknown_order`, `amount_mismatch`, "
                         "`currency_mismatch`, `mismatch`, `unknown_payment`, `other_payment`, `failed`, or "
                         "`pending` (PortOne did not answer: retried with backoff)."),
        "duplicate": s_bool("The event was known and already settled; it is not applied again."),
    }, ["received"], extra=True),
    "WebhookEvent_": s_obj({
        "id": s_int("The record's id."),
        "imp_uid": s_str("PortOne's payment id, as the webhook named it."),
        "merchant_uid": s_str("The order, as the webhook named it."),
        "status": s_str("The status the webhook named (not trusted: PortOne is asked)."),
        "cancellation_id": {"type": ["string", "null"]},
        "outcome": s_str("`received`, `processing`, `pending` (retried), `failed` (given up), or what "
                         "applying it did (`applied`, `stale`, `unknown_order`, `amount_mismatch`, ...)."),
        "detail": {"type": ["string", "null"]},
        "deliveries": s_int("How often PortOne delivered it."),
        "attempts": s_int("How often the server tried to apply it."),
        "received_at": s_str("UTC, ISO 8601."),
        "updated_at": s_str("UTC, ISO 8601."),
        "next_attempt_at": {"type": ["string", "null"], "description": "When it is tried again (UTC)."},
    }, ["id", "imp_uid", "merchant_uid", "status", "outcome", "attempts"], extra=True),
    "WebhookEventPage": s_obj({
        "items": {"type": "array", "items": ref("WebhookEvent_")},
        "page": s_int("The page (from 1)."),
        "limit": s_int("Items per page."),
        "total": s_int("Every matching event."),
    }, ["items", "page", "limit", "total"]),
}

# ------------------------------------------------------------------------------------------------
# operations, keyed by the handler id of lib/base/dp_routes.c

STREAM_NOTE = ("The stream ends when the client goes away (or the container stops / `until` passes); "
               "after output has started an error is sent as the stream's last message, never as an HTTP "
               "status. Idle SSE streams get a comment every `DockpayStreamHeartbeat` seconds. At most "
               "`DockpayMaxStreams` streams per process (else 503 `too_many_streams`).")

T_PARAM = q("t", {"type": "integer", "minimum": 0, "maximum": 3600},
            "Seconds to wait for the container to stop before killing it (Docker's default when absent).")

OPS = {
    # service ----------------------------------------------------------------------------------
    "health": dict(
        tag="service", summary="Service health",
        description="The state of each dependency. 200 when all configured dependencies are up, "
                    "503 (same body, `Retry-After`) when one is down. No API key needed. Each server "
                    "process checks Docker and the database at most once per `DockpayHealthCache` "
                    "seconds (default 1) and answers from that check in between.",
        responses={200: ok("Every dependency is up.", ref("Health")),
                   503: ok("A configured dependency is down.", ref("Health"),
                           headers={"Retry-After": {"$ref": "#/components/headers/Retry-After"}})}),
    "openapi": dict(
        tag="service", summary="This OpenAPI document",
        description="The installed OpenAPI 3.1 document (`DockpayOpenAPIFile`). No API key needed.",
        responses={200: ok("The document.", {"type": "object", "description": "An OpenAPI 3.1.0 document."}),
                   404: err(404, "The document is not installed (`not_found`).")}),

    "audit.list": dict(
        tag="service", summary="Read the audit trail (admin)",
        description="The audit rows of write requests (every non-GET route: who, what, when, the answer's "
                    "status), newest first, from the database. Paged by `cursor`: pass the `next_cursor` "
                    "of one page to get the next (`null` on the last page). Needs the `admin` scope. No "
                    "secret is in a row: keys appear by name.",
        params=[q("key", {"type": "string", "maxLength": 64}, "Only rows of this API key name."),
                q("method", {"type": "string", "maxLength": 8}, "Only rows of this HTTP method (any case)."),
                q("path", {"type": "string", "maxLength": 512},
                  "Only rows whose path (below the base path) starts with this, e.g. `/payments`."),
                q("from", {"type": "integer", "minimum": 0}, "Only rows written at or after this time "
                                                             "(unix seconds)."),
                q("to", {"type": "integer", "minimum": 0}, "Only rows written before this time "
                                                           "(unix seconds, exclusive)."),
                q("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "Page size."),
                q("cursor", {"type": "string", "pattern": "^[0-9]+$"},
                  "The `next_cursor` of the previous page.")],
        responses={200: ok("A page of audit rows.", ref("AuditPage"))},
        errors=errs((400, E400_Q), (403, e403("admin")), (503, DB503))),

    # containers -------------------------------------------------------------------------------
    "containers.list": dict(
        tag="containers", summary="List containers",
        params=[qbool("all", True, "Include stopped containers"),
                q("status", {"type": "string", "enum": ["created", "restarting", "running", "removing",
                                                        "paused", "exited", "dead"]},
                  "Only containers in this state."),
                q("label", {"type": "array", "items": {"type": "string"}},
                  "Only containers with this label (`key` or `key=value`); repeat for several (all must match).",
                  style="form", explode=True),
                q("name", {"type": "array", "items": {"type": "string"}},
                  "Only containers whose name contains this; repeatable.", style="form", explode=True)],
        responses={200: ok("Docker's container list objects.", ref("DockerItems"))},
        errors=errs((400, E400_Q), docker=True)),
    "containers.create": dict(
        tag="containers", summary="Create a container",
        description="Creates a container from the simple body or from Docker's own create body under "
                    "`docker`. Every body passes the create policy (safe by default): privileged mode, host "
                    "namespaces, `cap_add`, devices, bind mounts outside `DockpayBindAllow` (the Docker "
                    "socket never), security options and sysctls are refused with 403 `policy_denied` unless "
                    "a directive relaxes them. The container is labelled `dockpay.managed=true` and `dockpay.key=<key name>`. If `start=true` "
                    "and the start fails, the container stays created and the problem carries its `id`. "
                    "A non-admin key may name only its own networks, containers (`container:` modes) and "
                    "volumes (403 `policy_denied` otherwise); a new named volume is created first with its "
                    "labels. Per-key quotas (containers, memory, cpus, volumes) are checked first: 403 "
                    "`quota_exceeded` with `quota`, `used` and `limit`, nothing created.",
        params=[qbool("start", False, "Start the container after creating it"),
                qbool("pull", False, "Pull the image first when it is not present")],
        body=body_json({"oneOf": [ref("ContainerCreateSimple"), ref("ContainerCreateRaw")]}, examples={
            "simple": {"value": {"image": "nginx:latest", "name": "my-nginx",
                                 "ports": ["8080:80", "127.0.0.1:8443:443/tcp"], "env": {"K": "V"},
                                 "volumes": ["vol:/data"], "restart": "unless-stopped", "memory": "256m",
                                 "cpus": 0.5}},
            "docker": {"value": {"name": "raw", "docker": {"Image": "nginx:latest",
                                                           "HostConfig": {"Memory": 268435456}}}}}),
        responses={201: ok("Created.", ref("ContainerCreated"))},
        errors=errs((400, E400_B),
                    (403, e403("docker:write", ", or the create policy refused a field (`policy_denied`, "
                                               "`field` names it)")),
                    (404, err(404, "The image is not present (pass `pull=true`) or does not exist "
                                   "(`image_not_found`).")),
                    (409, err(409, "The name is already in use (`conflict`).")),
                    (413, E413), (415, E415),
                    (422, err(422, "A value is invalid: port, volume or memory spec, restart policy, name, "
                                   "... (`invalid_value`; `detail` and `field` name the field and value).")),
                    (503, Q503), docker=True)),
    "containers.inspect": dict(
        tag="containers", summary="Inspect a container",
        description="Docker's inspect object. For keys without the `admin` scope every `Config.Env` entry "
                    "is shown as `KEY=***`.",
        params=[container_id()],
        responses={200: ok("Docker's inspect object.", ref("DockerObject"))},
        errors=errs((400, E400_Q), (403, e403("docker:read")), (404, C404), docker=True)),
    "containers.delete": dict(
        tag="containers", summary="Remove a container",
        params=[container_id(), qbool("force", False, "Kill a running container first"),
                qbool("volumes", False, "Remove its anonymous volumes too")],
        responses={204: no_content("Removed.")},
        errors=errs((400, E400_Q), (403, e403("docker:write")), (404, C404),
                    (409, err(409, "The container is running (pass `force=true`) or being removed "
                                   "(`conflict`).")), docker=True)),
}


def _lifecycle(action, desc, extra_params=(), conflict="Docker reports a conflict with the container's "
                                                        "state (`conflict`)."):
    d = dict(
        tag="containers", summary=desc,
        description="200 with `changed: false` when the container is already in the requested state "
                    "(not an error).",
        params=[container_id()] + list(extra_params),
        responses={200: ok("Done, or nothing to do.", ref("Changed"))},
        errors=errs((400, E400_Q), (403, e403("docker:write")), (404, C404), docker=True))
    if conflict:
        d["errors"][409] = err(409, conflict)
    OPS["containers." + action] = d


_lifecycle("start", "Start a container")
_lifecycle("stop", "Stop a container", [T_PARAM])
_lifecycle("restart", "Restart a container", [T_PARAM])
_lifecycle("kill", "Kill a container", [q("signal", {"type": "string", "default": "SIGKILL"},
                                            "Signal to send (`SIGTERM`, `HUP`, `9`, ...).")],
           conflict="The container is not running (`conflict`).")
_lifecycle("pause", "Pause a container", conflict="The container is not running (`conflict`).")
_lifecycle("unpause", "Unpause a container", conflict="The container is not paused (`conflict`).")

OPS.update({
    "containers.logs": dict(
        tag="containers", summary="Container logs",
        description="The container's logs, with the 8-byte stream framing of non-TTY containers decoded "
                    "(TTY containers are read raw, all `stdout`). Without `follow`: JSON "
                    "`{\"lines\": [...]}`, or the text with `Accept: text/plain`. With `follow=true` the logs "
                    "stream until the container stops or the client goes away: NDJSON "
                    "(`application/x-ndjson`, the default; one LogLine object per line), chunked text "
                    "(`Accept: text/plain`) or Server-Sent Events (`Accept: text/event-stream`; `event: stdout` "
                    "or `event: stderr`, `data:` the line). Lines longer than 64 KiB come in pieces. "
                    + STREAM_NOTE,
        params=[container_id(),
                q("tail", {"type": "string", "pattern": "^([0-9]+|all)$", "default": "100"},
                  "Number of lines from the end, or `all`."),
                q("since", {"type": "string"}, "Only lines at or after this time (unix seconds or RFC 3339)."),
                q("until", {"type": "string"}, "Only lines before this time (unix seconds or RFC 3339)."),
                qbool("timestamps", False, "Fill each line's `time`"),
                qbool("stdout", True, "Include stdout"),
                qbool("stderr", True, "Include stderr"),
                qbool("follow", False, "Stream new lines as they come")],
        responses={200: ok("The log lines (or the stream, with `follow=true`).", content={
            "application/json": {"schema": ref("Logs")},
            "text/plain": {"schema": {"type": "string",
                           "description": "The log text (`Accept: text/plain`; with Docker's time prefix when "
                                          "`timestamps=true`); chunked while following."}},
            "application/x-ndjson": {"schema": {"type": "string",
                                     "description": "With `follow=true` (the default stream format): one LogLine "
                                                    "JSON object per line; a failure after the start ends the "
                                                    "stream with an `error` object carrying a Problem."}},
            "text/event-stream": {"schema": {"type": "string",
                                  "description": "With `follow=true` and `Accept: text/event-stream`: one event "
                                                 "per line, `event: stdout` or `event: stderr` and `data:` the "
                                                 "line text; `: keepalive` comments when idle; a failure ends "
                                                 "the stream with an `error` event carrying a Problem."}},
        })},
        errors=errs((400, E400_Q), (403, e403("docker:read")), (404, C404),
                    (422, err(422, "`tail`, `since` or `until` is not valid (`invalid_value`).")),
                    (503, err(503, "Docker is unreachable (`docker_unavailable`) or too many streams are "
                                   "open (`too_many_streams`); `Retry-After` is sent.")),
                    docker=True)),
    "containers.stats": dict(
        tag="containers", summary="Container stats (one sample)",
        description="One sample (Docker's `stream=false`) plus a `summary` computed the way the docker CLI "
                    "computes it.",
        params=[container_id()],
        responses={200: ok("Docker's stats object plus `summary`.", ref("Stats"))},
        errors=errs((400, E400_Q), (403, e403("docker:read")), (404, C404),
                    (409, err(409, "The container is not running (`conflict`).")), docker=True)),

    # images -----------------------------------------------------------------------------------
    "images.list": dict(
        tag="images", summary="List images",
        params=[qbool("all", False, "Include intermediate images"),
                qbool("dangling", False, "Only dangling (`true`) or only tagged (`false`) images"),
                q("reference", {"type": "string"}, "Only images matching this reference (`name[:tag]`, "
                                                   "wildcards as Docker allows).")],
        description="Non-admin keys see their own images and the unowned (operator's) ones; tags of "
                    "other keys are left out of `RepoTags` and their images out of the list.",
        responses={200: ok("Docker's image list objects.", ref("DockerItems"))},
        errors=errs((400, E400_Q), (503, err(503, "The Docker socket cannot be reached (`docker_unavailable`), or (non-admin keys) "
                                   "the database that records image owners cannot (`database_unavailable`).")), docker=True)),
    "images.pull": dict(
        tag="images", summary="Pull an image",
        description="Pulls the image and waits for completion. Errors Docker reports in-band in its "
                    "progress stream are detected and answered as 404 (image or tag unknown) or 502. "
                    "Registry credentials are sent as `X-Registry-Auth` and never logged. Only registries "
                    "on `DockpayRegistryAllow` (default `docker.io`) are reached. The tag written is "
                    "owned by the key; a non-admin key may not write a tag that exists and is not its own.",
        body=body_json(ref("ImagePullRequest"), examples={
            "ref": {"value": {"image": "redis:latest"}},
            "tag": {"value": {"image": "redis", "tag": "7"}}}),
        responses={200: ok("Pulled.", ref("ImagePullResult"))},
        errors=errs((400, E400_B),
                    (403, e403("docker:write", ", or the registry is not on `DockpayRegistryAllow` "
                                               "(`policy_denied`)")),
                    (404, err(404, "The registry has no such image or tag (`image_not_found`), with Docker's "
                                   "message.")),
                    (409, err(409, "The tag exists and belongs to another key or to the operator "
                                   "(`image_tag_taken`); nothing changed.")),
                    (503, err(503, "The Docker socket cannot be reached (`docker_unavailable`), or (non-admin keys) "
                                   "the database that records image owners cannot (`database_unavailable`).")),
                    (413, E413), (415, E415),
                    (422, err(422, "`image` or `tag` is not a valid reference (`invalid_value`).")),
                    (502, err(502, "The pull failed (registry refused, authentication failed, ...) "
                                   "(`pull_failed`), with Docker's message.")),
                    docker=True)),
    "images.build": dict(
        tag="images", summary="Build an image",
        description="The body is a tar build context, streamed to Docker without being held in memory "
                    "(up to 512 MiB, independent of `DockpayMaxBody`). Answers when the build is done with "
                    "the image id and the build log; a failed build is 422 `build_failed` with the log. "
                    "The context must be a plain tar; its Dockerfile is checked first: `ADD` of a URL or "
                    "git remote (also under `ONBUILD`, with variables or heredocs), `FROM`/`COPY --from` "
                    "with variables, `FROM --platform`, and images that would be pulled from a registry "
                    "not on `DockpayRegistryAllow` are refused (403 `policy_denied` naming the line). "
                    "Query parameters other than those listed (e.g. `remote`, `extrahosts`, `platform`, "
                    "`memory`) are refused (403 `policy_denied` naming them). The image gets the labels "
                    "`dockpay.key` and `dockpay.managed`; its tags are owned by the key.",
        params=[q("t", {"type": "array", "items": {"type": "string"}},
                  "Name and optional tag (`name:tag`) for the image; repeat for several.",
                  style="form", explode=True),
                q("dockerfile", {"type": "string", "default": "Dockerfile"},
                  "Path of the Dockerfile inside the context (relative, no `..`)."),
                q("buildargs", {"type": "string"},
                  "Build arguments as a JSON object of strings, e.g. `{\"VERSION\":\"1\"}`."),
                q("labels", {"type": "string"},
                  "Labels as a JSON object of strings (`dockpay.*` is reserved)."),
                q("networkmode", {"type": "string", "enum": ["default", "none"], "default": "default"},
                  "Network of the build's RUN steps."),
                qbool("rm", True, "Remove intermediate containers (only `true`)"),
                qbool("forcerm", True, "Always remove intermediate containers (only `true`)"),
                qbool("pull", False, "Pull newer base images (only `false`)"),
                qbool("nocache", False, "Do not use the build cache")],
        body={"required": True, "description": "The build context.",
              "content": {"application/x-tar": {"schema": {"type": "string",
                                                           "contentMediaType": "application/x-tar"}}}},
        responses={200: ok("Built.", ref("ImageBuildResult"))},
        errors=errs((400, E400_Q),
                    (403, e403("docker:write", ", or a parameter, the context or the Dockerfile is "
                                               "refused by the build policy (`policy_denied`)")),
                    (409, err(409, "A tag `t` exists and belongs to another key or to the operator "
                                   "(`image_tag_taken`); nothing changed.")),
                    (413, err(413, "The build context is larger than 512 MiB (`body_too_large`).")),
                    (415, err(415, "The body is not `application/x-tar` (`unsupported_media_type`).")),
                    (422, err(422, "A query value is invalid (`invalid_value`) or the build failed "
                                   "(`build_failed`, with the build log; also a context without its "
                                   "Dockerfile or with two).")),
                    (503, err(503, "The Docker socket cannot be reached (`docker_unavailable`), or (non-admin keys) "
                                   "the database that records image owners cannot (`database_unavailable`).")),
                    docker=True)),
    "images.inspect": dict(
        tag="images", summary="Inspect an image",
        params=[p("name", "Image id or reference (`name[:tag]`, `name@digest`).", greedy=True)],
        responses={200: ok("Docker's image inspect object.", ref("DockerObject"))},
        errors=errs((400, E400_Q), (403, e403("docker:read")),
                    (404, err(404, "No such image, or (non-admin keys) an image of another key "
                                   "(`image_not_found`).")), (503, err(503, "The Docker socket cannot be reached (`docker_unavailable`), or (non-admin keys) "
                                   "the database that records image owners cannot (`database_unavailable`).")), docker=True)),
    "images.delete": dict(
        tag="images", summary="Remove an image",
        params=[p("name", "Image id or reference (`name[:tag]`, `name@digest`).", greedy=True),
                qbool("force", False, "Remove even if used by stopped containers or tagged several times"),
                qbool("noprune", False, "Keep untagged parent images")],
        responses={200: ok("Docker's list of untagged and deleted images (`{\"Untagged\": ...}` / "
                           "`{\"Deleted\": ...}`).", ref("DockerItems"))},
        errors=errs((400, E400_Q), (403, e403("docker:write")),
                    (404, err(404, "No such image, or (non-admin keys) not a tag of the key's own "
                                   "(`image_not_found`).")),
                    (503, err(503, "The Docker socket cannot be reached (`docker_unavailable`), or (non-admin keys) "
                                   "the database that records image owners cannot (`database_unavailable`).")),
                    (409, err(409, "The image is in use by a container, or tagged in several repositories "
                                   "(pass `force=true`) (`conflict`).")), docker=True)),

    # volumes ----------------------------------------------------------------------------------
    "volumes.list": dict(
        tag="volumes", summary="List volumes",
        params=[q(n, {"type": "array", "items": {"type": "string"}}, d, style="form", explode=True)
                for n, d in (("label", "Only volumes with this label (`key` or `key=value`); repeatable."),
                             ("name", "Only volumes whose name contains this; repeatable."),
                             ("dangling", "`true`: only volumes no container uses; `false`: only used ones."),
                             ("driver", "Only volumes of this driver; repeatable."))],
        responses={200: ok("Docker's volume objects and Docker's warnings.", ref("VolumeItems"))},
        errors=errs((400, E400_Q), docker=True)),
    "volumes.create": dict(
        tag="volumes", summary="Create a volume",
        body=body_json(ref("VolumeCreateRequest"), examples={
            "named": {"value": {"name": "data", "labels": {"app": "web"}}}}),
        description="The volume is labelled `dockpay.managed=true` and `dockpay.key=<key name>`; the key's "
                    "volumes quota applies (403 `quota_exceeded`).",
        responses={201: ok("Created: Docker's volume object.", ref("DockerObject"))},
        errors=errs((400, E400_B),
                    (403, e403("docker:write", ", a bind-type volume outside `DockpayBindAllow` "
                                               "(`policy_denied`), or the key's volumes quota "
                                               "(`quota_exceeded`)")),
                    (409, err(409, "A volume of that name belongs to another owner (`volume_exists`).")),
                    (413, E413), (415, E415),
                    (422, err(422, "The name or a driver option is invalid (`invalid_value`).")),
                    (503, Q503), docker=True)),
    "volumes.inspect": dict(
        tag="volumes", summary="Inspect a volume",
        params=[p("name", "Volume name.", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$", max_len=255)],
        responses={200: ok("Docker's volume object.", ref("DockerObject"))},
        errors=errs((400, E400_Q), (403, e403("docker:read")),
                    (404, err(404, "No such volume, or not a valid volume name (`volume_not_found`).")), docker=True)),
    "volumes.delete": dict(
        tag="volumes", summary="Remove a volume",
        params=[p("name", "Volume name.", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$", max_len=255),
                qbool("force", False, "Remove even if Docker reports problems")],
        responses={204: no_content("Removed.")},
        errors=errs((400, E400_Q), (403, e403("docker:write")),
                    (404, err(404, "No such volume, or not a valid volume name (`volume_not_found`).")),
                    (409, err(409, "The volume is in use (`volume_in_use`).")), docker=True)),

    # networks ---------------------------------------------------------------------------------
    "networks.list": dict(
        tag="networks", summary="List networks",
        responses={200: ok("Docker's network objects.", ref("DockerItems"))},
        errors=errs((400, E400_Q), docker=True)),
    "networks.create": dict(
        tag="networks", summary="Create a network",
        body=body_json(ref("NetworkCreateRequest"), examples={
            "bridge": {"value": {"name": "backend", "internal": False, "subnet": "10.42.0.0/24",
                                 "gateway": "10.42.0.1"}}}),
        responses={201: ok("Created.", ref("NetworkCreated"))},
        errors=errs((400, E400_B),
                    (403, e403("docker:write", ", or the driver is refused (`policy_denied`)")),
                    (409, err(409, "The name is already in use (`conflict`).")),
                    (413, E413), (415, E415),
                    (422, err(422, "`subnet` or `gateway` is invalid, or the gateway is not in the subnet "
                                   "(`invalid_value`).")),
                    docker=True)),
    "networks.inspect": dict(
        tag="networks", summary="Inspect a network",
        params=[p("id", "Network id or name.")],
        responses={200: ok("Docker's network object.", ref("DockerObject"))},
        errors=errs((400, E400_Q), (403, e403("docker:read")),
                    (404, err(404, "No such network (`network_not_found`).")), docker=True)),
    "networks.delete": dict(
        tag="networks", summary="Remove a network",
        params=[p("id", "Network id or name.")],
        responses={204: no_content("Removed.")},
        errors=errs((400, E400_Q), (403, e403("docker:write")),
                    (404, err(404, "No such network (`network_not_found`).")),
                    (409, err(409, "Containers are still connected (`network_in_use`), or it is one of "
                                   "Docker's predefined networks `bridge`, `host`, `none` "
                                   "(`predefined_network`).")), docker=True)),
    "networks.connect": dict(
        tag="networks", summary="Connect a container to a network",
        params=[p("id", "Network id or name.")],
        body=body_json(ref("NetworkConnectRequest"), examples={
            "alias": {"value": {"container": "web", "aliases": ["api"]}}}),
        responses={200: ok("Connected; `changed: false` when it already was.", ref("Changed"))},
        errors=errs((400, E400_B),
                    (403, e403("docker:write", ", or the network is the host network (`policy_denied`)")),
                    (404, err(404, "No such network or container (`network_not_found`, "
                                   "`container_not_found`).")),
                    (409, err(409, "Docker refused the connection (`docker_refused`, `conflict`).")),
                    (413, E413), (415, E415),
                    (422, err(422, "`ipv4_address` is invalid (`invalid_value`).")), docker=True)),
    "networks.disconnect": dict(
        tag="networks", summary="Disconnect a container from a network",
        params=[p("id", "Network id or name.")],
        body=body_json(ref("NetworkDisconnectRequest"), examples={
            "plain": {"value": {"container": "web", "force": False}}}),
        responses={200: ok("Disconnected; `changed: false` when it was not connected.", ref("Changed"))},
        errors=errs((400, E400_B), (403, e403("docker:write")),
                    (404, err(404, "No such network or container (`network_not_found`, "
                                   "`container_not_found`).")),
                    (409, err(409, "Docker refused (`docker_refused`, `conflict`).")),
                    (413, E413), (415, E415), docker=True)),

    # system -----------------------------------------------------------------------------------
    "system.info": dict(
        tag="system", summary="Docker system information",
        responses={200: ok("Docker's info object.", ref("DockerObject"))},
        errors=errs((400, E400_Q), docker=True)),
    "system.version": dict(
        tag="system", summary="Docker version",
        responses={200: ok("Docker's version object.", ref("DockerObject"))},
        errors=errs((400, E400_Q), docker=True)),
    "system.df": dict(
        tag="system", summary="Docker disk usage",
        description="Admin keys get Docker's answer; other keys only their own containers, volumes and "
                    "labelled images, an empty `BuildCache` and no `LayersSize`.",
        responses={200: ok("Docker's disk usage object.", ref("DockerObject"))},
        errors=errs((400, E400_Q), docker=True)),
    "system.prune": dict(
        tag="system", summary="Prune unused objects",
        description="Prunes the chosen kinds in order; if one fails, the problem carries what was already "
                    "done in `done`. A non-admin key prunes only its own containers, networks, volumes and "
                    "dangling labelled images; `build_cache` is admin only (403 `policy_denied`).",
        body=body_json(ref("PruneRequest"), required=False, examples={
            "defaults": {"value": {"containers": True, "images": True, "volumes": False, "networks": True,
                                   "build_cache": False}}}),
        responses={200: ok("Per-kind results and the total `space_reclaimed`.", ref("PruneResult"))},
        errors=errs((400, E400_B), (403, e403("docker:write")), (413, E413), (415, E415),
                    (409, err(409, "Docker is already pruning (`conflict`).")), docker=True)),
    "system.events": dict(
        tag="system", summary="Stream Docker events",
        description="Docker's events as NDJSON (the default, Docker's event objects one per line) or "
                    "Server-Sent Events with `Accept: text/event-stream`. Without `until` the stream runs "
                    "until the client goes away. " + STREAM_NOTE,
        params=[q("since", {"type": "string"}, "Events since this time (unix seconds, RFC 3339 or a "
                                                   "duration such as `10m`)."),
                q("until", {"type": "string"}, "Events until this time; the stream then ends."),
                q("type", {"type": "string", "enum": ["container", "image", "volume", "network", "daemon",
                                                      "plugin", "node", "service", "secret", "config"]},
                  "Only events of this object type.")],
        responses={200: ok("The event stream.", content={
            "application/x-ndjson": {"schema": {"type": "string",
                                     "description": "One Docker event object (Docker's field names) per line."}},
            "text/event-stream": {"schema": {"type": "string",
                                  "description": "Server-Sent Events, each `data:` a Docker event object; an "
                                                 "`error` event carries a Problem."}},
        })},
        errors=errs((400, E400_Q), (403, e403("docker:read")),
                    (422, err(422, "`since`, `until` or `type` is invalid (`invalid_value`).")),
                    (503, err(503, "Docker is unreachable (`docker_unavailable`) or too many streams are open "
                                   "(`too_many_streams`); `Retry-After` is sent.")),
                    docker=True)),

    # compose ----------------------------------------------------------------------------------
    "compose.list": dict(
        tag="compose", summary="List Compose projects",
        description="Projects found from container labels (`com.docker.compose.project` etc.); a non-admin key "
                    "sees only the projects whose containers carry its `dockpay.key` label.",
        responses={200: ok("The projects.", s_items(ref("ComposeProject")))},
        errors=errs((400, E400_Q), docker=True)),
    "compose.up": dict(
        tag="compose", summary="Compose up",
        description="Parses the compose YAML and rebuilds it from an allow-list of keys, checks every service "
                    "under the create policy of `POST /containers`, stamps `dockpay.managed`/`dockpay.key` on "
                    "every service, volume and network, writes the checked document (JSON) alone to a "
                    "per-project folder under `DockpayComposeRoot` and runs "
                    "`DockpayComposeCommand -p PROJECT -f FILE up -d` with a time limit "
                    "(`DockpayComposeTimeout`) and a minimal environment. Returns the project as "
                    "`GET /compose/{project}` does, plus the command's output.",
        body=body_json(ref("ComposeUpRequest"), examples={
            "web": {"value": {"project": "demo",
                              "compose": "services:\n  web:\n    image: nginx:latest\n"}}}),
        responses={200: ok("The project is up.", ref("ComposeUpResult"))},
        errors=errs((400, E400_B), (403, e403("docker:write", ", or the compose file has a key outside the "
                                                              "allow-list or asks for something the create policy "
                                                              "refuses (`policy_denied`, naming the `field`)")),
                    (409, err(409, "The project name is taken by another key, or by containers not created "
                                   "through the API, or a volume/network it would create belongs to another key "
                                   "(`project_owned`).")),
                    (413, E413), (415, E415),
                    (422, err(422, "The project name or a value of the file is invalid (`invalid_value`), the "
                                   "YAML is malformed (`invalid_yaml`) or too large once aliases are expanded "
                                   "(`yaml_too_complex`), it uses `$` variable substitution "
                                   "(`interpolation_not_allowed`), or the compose command failed "
                                   "(`compose_failed`, with its `output`).")),
                    (503, err(503, "The compose command cannot be run (`compose_unavailable`) or Docker is "
                                   "unreachable (`docker_unavailable`); or, for a key with a quota, the "
                                   "database is down (`database_unavailable`) or another create by the key "
                                   "held its quota lock too long (`quota_busy`).")),
                    (504, err(504, "The compose command did not finish within `DockpayComposeTimeout` "
                                   "(`compose_timeout`, with its `output`).")),
                    docker=True)),
    "compose.inspect": dict(
        tag="compose", summary="Inspect a Compose project",
        params=[p("project", "Project name.")],
        responses={200: ok("The project with its containers, networks and volumes.",
                           ref("ComposeProjectDetail"))},
        errors=errs((400, E400_Q), (403, e403("docker:read")),
                    (404, err(404, "No container belongs to the project, or (non-admin) one belongs to another key "
                                   "(`project_not_found`).")),
                    docker=True)),
    "compose.down": dict(
        tag="compose", summary="Compose down",
        description="Stops and removes the project's containers and networks; its volumes only with "
                    "`volumes=true`.",
        params=[p("project", "Project name."),
                qbool("volumes", False, "Remove the project's volumes too"),
                q("t", {"type": "integer", "minimum": 0, "maximum": 3600, "default": 10},
                  "Seconds to wait for each container to stop.")],
        responses={200: ok("What was removed.", ref("ComposeDownResult"))},
        errors=errs((400, E400_Q), (403, e403("docker:write")),
                    (404, err(404, "No container belongs to the project, or (non-admin) one belongs to another key "
                                   "(`project_not_found`).")),
                    docker=True)),
})


def _compose_action(action, summary, with_t):
    params = [p("project", "Project name.")]
    if with_t:
        params.append(T_PARAM)
    OPS["compose." + action] = dict(
        tag="compose", summary=summary,
        description="Acts on every container of the project (stop in reverse order); `changed` per container "
                    "is false when it was already in the requested state. On a failure the problem carries the "
                    "`results` so far.",
        params=params,
        responses={200: ok("One result per container.", ref("ComposeActionResult"))},
        errors=errs((400, E400_Q), (403, e403("docker:write")),
                    (404, err(404, "No container belongs to the project, or (non-admin) one belongs to another key "
                                   "(`project_not_found`).")),
                    docker=True))


_compose_action("start", "Start a Compose project", False)
_compose_action("stop", "Stop a Compose project", True)
_compose_action("restart", "Restart a Compose project", True)

PAGE_PARAMS = [q("page", {"type": "integer", "minimum": 1, "default": 1}, "1-based page number."),
               q("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Page size.")]

OPS.update({
    # payments ---------------------------------------------------------------------------------
    "payments.list": dict(
        tag="payments", summary="List recorded payments",
        description="Payments from the local database (PortOne is not called), newest first. A page "
                    "may be answered again for up to `DockpayPaymentsCache` seconds (default 1), never "
                    "after a payment changed through this server.",
        params=[q("status", {"type": "string", "enum": ["prepared", "ready", "paid", "cancelled", "failed"]},
                  "Only payments in this state."),
                q("from", {"type": "integer", "minimum": 0}, "Only payments created at or after this time "
                                                             "(unix seconds)."),
                q("to", {"type": "integer", "minimum": 0}, "Only payments created before this time "
                                                           "(unix seconds, exclusive).")] + PAGE_PARAMS,
        responses={200: ok("A page of payments.", ref("PaymentPage"))},
        errors=errs((400, E400_Q), (403, e403("payments:read")), (503, DB503))),
    "payments.prepare": dict(
        tag="payments", summary="Register an order amount (prepare)",
        description="Registers the amount at PortOne (`POST /payments/prepare`) and records the order. "
                    "The same pair again is idempotent (200); the same `merchant_uid` with another amount "
                    "is 409.",
        body=body_json(ref("PrepareRequest"), examples={
            "order": {"value": {"merchant_uid": "order-20240101-0001", "amount": 15000}}}),
        responses={201: ok("Registered.", ref("Prepared")),
                   200: ok("Already registered with the same amount.", ref("Prepared"))},
        errors=errs((400, E400_B), (403, e403("payments:write")),
                    (409, err(409, "The merchant_uid is already registered with another amount "
                                   "(`prepare_conflict`).")),
                    (413, E413), (415, E415),
                    (422, err(422, "`merchant_uid` or `amount` is invalid (`invalid_value`).")),
                    portone=True)),
    "payments.cancel": dict(
        tag="payments", summary="Cancel (refund) a payment",
        description="Cancels all or part of a payment at PortOne, sending PortOne's `checksum` (the "
                    "cancellable remainder known locally) so that a refund is never applied twice, and "
                    "records the cancel.",
        body=body_json(ref("CancelRequest"), examples={
            "partial": {"value": {"imp_uid": "imp_123456789012", "amount": 5000, "reason": "customer request"}},
            "vbank": {"value": {"merchant_uid": "order-1", "reason": "refund", "refund_holder": "Hong",
                                "refund_bank": "088", "refund_account": "110123456789"}}}),
        responses={200: ok("PortOne's payment object after the cancel.", ref("PortOnePayment"))},
        errors=errs((400, E400_B), (403, e403("payments:write")),
                    (404, err(404, "PortOne knows no such payment (`portone_not_found`).")),
                    (409, err(409, "The payment is already fully cancelled (`already_cancelled`), not paid "
                                   "(`not_paid`), its remainder changed at PortOne (`remainder_changed`), or "
                                   "`amount` exceeds the cancellable remainder (`cancel_exceeds_remainder`), or "
                                   "`expected_remainder` differs from PortOne's (`remainder_mismatch`); "
                                   "`cancellable_amount` says what is left. `portone_conflict` when PortOne "
                                   "refuses.")),
                    (413, E413), (415, E415),
                    (422, err(422, "An invalid value: amount, tax_free above amount, bank code "
                                   "(`invalid_value`, `invalid_bank_code`), or PortOne refused the cancel "
                                   "(`portone_rejected`).")),
                    portone=True)),
    "payments.vbank": dict(
        tag="payments", summary="Issue a virtual account",
        description="Issues a virtual account at PortOne (`POST /vbanks`, with the configured channel key "
                    "or PG) and records the payment with status `ready`.",
        body=body_json(ref("VbankRequest"), examples={
            "vbank": {"value": {"merchant_uid": "order-2", "amount": 30000, "vbank_code": "004",
                                "vbank_holder": "Dockpay Shop", "name": "Subscription",
                                "buyer_name": "Hong Gildong", "buyer_email": "hong@example.com"}}}),
        responses={201: ok("PortOne's payment object (status `ready`, `vbank_*` filled).", ref("PortOnePayment"))},
        errors=errs((400, E400_B), (403, e403("payments:write")),
                    (409, err(409, "PortOne refused: e.g. the merchant_uid is already paid (`portone_conflict`).")),
                    (413, E413), (415, E415),
                    (422, err(422, "An invalid value: unknown bank code (`invalid_bank_code`), `vbank_due` "
                                   "in the past or too far ahead (`invalid_value`), or PortOne refused "
                                   "(`portone_rejected`).")),
                    portone=True)),
    "payments.verify": dict(
        tag="payments", summary="Verify a payment",
        description="Fetches the payment from PortOne and compares its amount with the amount recorded at "
                    "prepare for its merchant_uid (and with `amount` if given). On a mismatch of a paid "
                    "payment the server cancels it at PortOne when `DockpayAutoCancelMismatch` is on (default) "
                    "and says so in the problem (`cancelled: true`).",
        body=body_json(ref("VerifyRequest"), examples={
            "verify": {"value": {"imp_uid": "imp_123456789012", "amount": 15000, "status": "paid"}}}),
        responses={200: ok("The amounts agree.", ref("VerifyResult"))},
        errors=errs((400, E400_B), (403, e403("payments:write")),
                    (404, err(404, "PortOne knows no such payment (`portone_not_found`), or no amount is "
                                   "recorded for its merchant_uid and none was given (`order_not_found`).")),
                    (409, err(409, "The amounts differ (`amount_mismatch`, with `expected`, `actual`, "
                                   "`cancelled`, `imp_uid`, `merchant_uid`), PortOne's currency is not "
                                   "the order's KRW (`currency_mismatch`, also with `currency`, "
                                   "`expected_currency`), the payment belongs to another order than "
                                   "`merchant_uid` (`payment_order_mismatch`: nothing recorded or "
                                   "cancelled), or the status differs from `status` (`status_mismatch`).")),
                    (413, E413), (415, E415),
                    (422, err(422, "`imp_uid`, `merchant_uid` or `status` is invalid (`invalid_value`).")),
                    portone=True)),
    "payments.find": dict(
        tag="payments", summary="Get a payment by order number",
        description="Asks PortOne (`GET /payments/find/{merchant_uid}`), records what it learns and returns "
                    "PortOne's payment object.",
        params=[p("merchant_uid", "Order number (1 to 40 characters).", max_len=40)],
        responses={200: ok("PortOne's payment object.", ref("PortOnePayment"))},
        errors=errs((400, err(400, "The merchant_uid is malformed (`bad_param`), or a bad query string.")),
                    (403, e403("payments:read")),
                    (404, err(404, "PortOne knows no payment for this order (`portone_not_found`).")),
                    portone=True)),
    "payments.get": dict(
        tag="payments", summary="Get a payment",
        description="Asks PortOne (`GET /payments/{imp_uid}`), records what it learns and returns PortOne's "
                    "payment object.",
        params=[p("imp_uid", "PortOne's payment id (e.g. `imp_123456789012`).", pattern=UID_PATTERN,
                  max_len=32)],
        responses={200: ok("PortOne's payment object.", ref("PortOnePayment"))},
        errors=errs((400, err(400, "The imp_uid is malformed (`bad_param`), or a bad query string.")),
                    (403, e403("payments:read")),
                    (404, err(404, "PortOne knows no such payment (`portone_not_found`).")),
                    portone=True)),

    # subscriptions ----------------------------------------------------------------------------
    "subscriptions.list": dict(
        tag="subscriptions", summary="List recorded billing keys",
        description="Billing keys from the local database (customer_uid, card name, masked number, "
                    "created/deleted) with their schedules; `state` keeps the customers in that billing state.",
        params=list(PAGE_PARAMS) + [q("state", {"type": "string", "enum": ["active", "past_due", "suspended"]},
                                      "Only customers in this billing state (no billing event yet: active).")],
        responses={200: ok("A page of billing keys.", ref("SubscriptionPage"))},
        errors=errs((400, E400_Q), (403, e403("payments:read")), (503, DB503))),
    "subscriptions.key_create": dict(
        tag="subscriptions", summary="Issue a billing key",
        description="Passes the card data to PortOne once (`POST /subscribe/customers/{customer_uid}`); the "
                    "card fields are never stored, logged or returned. Stores customer_uid and PortOne's "
                    "non-secret card info.",
        body=body_json(ref("BillingKeyRequest"), examples={
            "card": {"value": {"customer_uid": "cust_1001", "card_number": "1234-5678-9012-3456",
                               "expiry": "2030-12", "birth": "900101", "pwd_2digit": "12",
                               "customer_name": "Hong Gildong"}}}),
        responses={201: ok("PortOne's billing key object (masked card number).", ref("PortOneBillingKey"))},
        errors=errs((400, E400_B), (403, e403("payments:write")), (413, E413), (415, E415),
                    (422, err(422, "A card field or customer_uid is invalid (`invalid_value`; `field` names "
                                   "it, the value is never echoed), or PortOne or the card company refused "
                                   "the card (`portone_rejected`, with PortOne's message).")),
                    portone=True)),
    "subscriptions.key_get": dict(
        tag="subscriptions", summary="Get a billing key",
        params=[p("customer_uid", "Billing key id.", pattern=UID_PATTERN, max_len=80)],
        responses={200: ok("PortOne's billing key object.", ref("PortOneBillingKey"))},
        errors=errs((400, E400_Q), (403, e403("payments:read")),
                    (404, err(404, "PortOne knows no such billing key (`portone_not_found`).")),
                    (422, err(422, "The customer_uid is invalid (`invalid_value`).")), portone=True)),
    "subscriptions.key_delete": dict(
        tag="subscriptions", summary="Delete a billing key",
        description="Deletes the billing key at PortOne and marks the local record deleted.",
        params=[p("customer_uid", "Billing key id.", pattern=UID_PATTERN, max_len=80)],
        responses={200: ok("PortOne's billing key object as deleted.", ref("PortOneBillingKey"))},
        errors=errs((400, E400_Q), (403, e403("payments:write")),
                    (404, err(404, "PortOne knows no such billing key (`portone_not_found`).")),
                    (422, err(422, "The customer_uid is invalid (`invalid_value`).")), portone=True)),
    "subscriptions.pay": dict(
        tag="subscriptions", summary="Charge a billing key now",
        description="Charges the billing key now (PortOne `POST /subscribe/payments/again`) and records the "
                    "payment. Check the payment's `status` (`paid` or `failed`).",
        body=body_json(ref("SubscriptionPayRequest"), examples={
            "pay": {"value": {"customer_uid": "cust_1001", "merchant_uid": "sub-1001-202401",
                              "amount": 9900, "name": "Monthly plan"}}}),
        responses={200: ok("PortOne's payment object.", ref("PortOnePayment"))},
        errors=errs((400, E400_B), (403, e403("payments:write")),
                    (404, err(404, "PortOne knows no such billing key (`portone_not_found`).")),
                    (409, err(409, "The merchant_uid is already used (`portone_conflict`).")),
                    (413, E413), (415, E415),
                    (422, err(422, "A value is invalid (`invalid_value`).")), portone=True)),
    "subscriptions.schedule": dict(
        tag="subscriptions", summary="Schedule payments",
        description="Schedules payments of a billing key at PortOne (`POST /subscribe/payments/schedule`) "
                    "and records them locally.",
        body=body_json(ref("ScheduleRequest"), examples={
            "monthly": {"value": {"customer_uid": "cust_1001", "schedules": [
                {"merchant_uid": "sub-1001-202402", "schedule_at": 1706745600, "amount": 9900,
                 "name": "Monthly plan"}]}}}),
        responses={201: ok("PortOne's schedule results.", s_items(ref("PortOneSchedule")))},
        errors=errs((400, E400_B), (403, e403("payments:write")),
                    (404, err(404, "PortOne knows no such billing key (`portone_not_found`).")),
                    (409, err(409, "A merchant_uid is already scheduled or used (`portone_conflict`).")),
                    (413, E413), (415, E415),
                    (422, err(422, "A value is invalid, e.g. `schedule_at` in the past or a duplicate "
                                   "merchant_uid (`invalid_value`).")), portone=True)),
    "subscriptions.schedule_list": dict(
        tag="subscriptions", summary="List a billing key's schedules",
        description="Asks PortOne for the schedules of a billing key within a window (default: now to +90 "
                    "days).",
        params=[p("customer_uid", "Billing key id.", pattern=UID_PATTERN, max_len=80),
                q("from", {"type": "integer", "minimum": 0}, "Window start, unix seconds (default now)."),
                q("to", {"type": "integer", "minimum": 0}, "Window end, unix seconds (default from + 90 days).")],
        responses={200: ok("PortOne's schedule results.", s_items(ref("PortOneSchedule")))},
        errors=errs((400, E400_Q), (403, e403("payments:read")),
                    (404, err(404, "PortOne knows no such billing key (`portone_not_found`).")),
                    (422, err(422, "The window is invalid (`from` not before `to`, or more than 92 days) "
                                   "or the customer_uid is invalid (`invalid_value`).")), portone=True)),
    "subscriptions.unschedule": dict(
        tag="subscriptions", summary="Revoke scheduled payments",
        description="Revokes the given scheduled payments of the billing key (all when the body or "
                    "`merchant_uid` is absent) at PortOne and records it locally.",
        params=[p("customer_uid", "Billing key id.", pattern=UID_PATTERN, max_len=80)],
        body=body_json(ref("UnscheduleRequest"), required=False, examples={
            "some": {"value": {"merchant_uid": ["sub-1001-202402"]}}}),
        responses={200: ok("PortOne's revoked schedule results.", s_items(ref("PortOneSchedule")))},
        errors=errs((400, E400_B), (403, e403("payments:write")),
                    (404, err(404, "No such billing key (`portone_not_found`).")),
                    (409, err(409, "Nothing left to revoke (`portone_conflict`).")),
                    (413, E413), (415, E415),
                    (422, err(422, "A merchant_uid is invalid or repeated (`invalid_value`).")), portone=True)),

    # billing-aware containers (issue 15) -------------------------------------------------------
    "subscriptions.status": dict(
        tag="subscriptions", summary="A customer's billing state",
        description="The customer's billing state (`active`, `past_due`, `suspended`), since when and why, "
                    "and the containers bound to it with their engine state.",
        params=[p("customer_uid", "Billing key id.", pattern=UID_PATTERN, max_len=80)],
        responses={200: ok("The customer's billing status.", ref("BillingStatus"))},
        errors=errs((403, e403("payments:read")),
                    (404, err(404, "The server knows no billing key, state or binding of the customer "
                                   "(`customer_not_found`).")),
                    (422, err(422, "The customer_uid is invalid (`invalid_value`).")), (503, DB503),
                    docker=True)),
    "subscriptions.resume": dict(
        tag="subscriptions", summary="Resume a customer (admin)",
        description="Admin override: the customer becomes `active` (enforcement restarts what it stopped). "
                    "The reason is required and audited.",
        params=[p("customer_uid", "Billing key id.", pattern=UID_PATTERN, max_len=80)],
        body=body_json(ref("ResumeRequest"), examples={"r": {"value": {"reason": "paid by bank transfer"}}}),
        responses={200: ok("The customer's billing status, with `changed`.", ref("BillingStatus"))},
        errors=errs((400, E400_B), (403, e403("payments:write", ", or it is not an admin key")),
                    (404, err(404, "Unknown customer (`customer_not_found`).")), (413, E413), (415, E415),
                    (422, err(422, "The customer_uid or reason is invalid (`invalid_value`).")), (503, DB503),
                    docker=True)),
    "subscriptions.bind": dict(
        tag="subscriptions", summary="Bind a container to a customer",
        description="Binds the key's own container to the customer (needs docker:write as well). The binding "
                    "is a database row: an existing container's labels cannot be changed at the engine.",
        params=[p("customer_uid", "Billing key id.", pattern=UID_PATTERN, max_len=80), container_id()],
        responses={200: ok("The binding.", ref("BillingBinding"))},
        errors=errs((403, e403("payments:write", " and docker:write")),
                    (404, err(404, "No live billing key of the customer (`customer_not_found`), or no such "
                                   "container of the key (`container_not_found`).")),
                    (422, err(422, "The customer_uid is invalid (`invalid_value`).")), (503, DB503),
                    docker=True)),
    "subscriptions.unbind": dict(
        tag="subscriptions", summary="Release a container's binding",
        params=[p("customer_uid", "Billing key id.", pattern=UID_PATTERN, max_len=80), container_id()],
        responses={204: no_content("Released.")},
        errors=errs((403, e403("payments:write", " and docker:write")),
                    (404, err(404, "No such container of the key (`container_not_found`) or it is not bound "
                                   "to the customer (`binding_not_found`).")),
                    (422, err(422, "The customer_uid is invalid (`invalid_value`).")), (503, DB503),
                    docker=True)),

    # webhooks ---------------------------------------------------------------------------------
    "webhooks.events": dict(
        tag="webhooks", summary="List received webhooks (admin)",
        description="PortOne webhooks as recorded, newest first, with the outcome of applying them, the "
                    "attempts and the next attempt of one being retried. Admin keys only.",
        params=[q("imp_uid", {"type": "string", "maxLength": 32}, "Only events naming this imp_uid."),
                q("merchant_uid", {"type": "string", "maxLength": 40}, "Only events naming this order."),
                q("outcome", {"type": "string"}, "Only events with this outcome.")] + PAGE_PARAMS,
        responses={200: ok("A page of events.", ref("WebhookEventPage"))},
        errors=errs((400, E400_Q), (403, e403("admin")), (503, DB503))),
    "webhooks.portone": dict(
        tag="webhooks", summary="PortOne webhook",
        description="PortOne's notification, JSON or form-encoded. No API key: only sources in "
                    "`DockpayWebhookAllow` (PortOne's published addresses by default) may post. The server "
                    "records the raw event (duplicates recognised) and answers without calling PortOne; "
                    "the reconciler (a background task) then asks PortOne for the payment, checks amount and "
                    "currency against the recorded order and updates the local payment, retrying with "
                    "backoff when PortOne does not answer. 200 once the event is durably recorded; 503 "
                    "when it cannot be recorded, so that PortOne sends it again. A forged or mismatched "
                    "event never marks an order paid.",
        body={"required": True, "content": {
            "application/json": {"schema": ref("WebhookEvent"),
                                 "example": {"imp_uid": "imp_1234567890", "merchant_uid": "order_id_8237352",
                                             "status": "paid"}},
            "application/x-www-form-urlencoded": {"schema": ref("WebhookEvent")}}},
        responses={200: ok("Recorded durably; applied in the background (or recognised as a duplicate).",
                           ref("WebhookReceived"))},
        errors=errs((400, err(400, "The body is not a notification: malformed, or `imp_uid`/`merchant_uid` "
                                   "missing (`bad_body`, `missing_field`).")),
                    (403, err(403, "The source address is not in `DockpayWebhookAllow` "
                                   "(`webhook_forbidden`).")),
                    (413, E413),
                    (415, err(415, "Neither JSON nor form-encoded (`unsupported_media_type`).")),
                    (503, err(503, "The event could not be recorded or applied (`webhook_not_recorded`, "
                                   "`webhook_not_applied`); send it again (`Retry-After`).")))),
})

# outbox: signed events for the merchant's application --------------------------------------
EVENT_TYPES = ["payment.paid", "payment.failed", "payment.cancelled", "vbank.issued",
               "billing_key.issued", "billing_key.deleted", "schedule.created", "schedule.revoked",
               "schedule.paid", "schedule.failed"]
SCHEMAS.update({
    "EventAttempt": s_obj({
        "at": s_str("When the attempt was made (UTC, ISO 8601)."),
        "http_status": {"type": ["integer", "null"], "description": "The receiver's status, null when none came."},
        "error": {"type": ["string", "null"], "description": "The transport error (`timed out`, `unreachable`, ...)."},
        "duration_ms": s_int("How long the attempt took.")}, ["at", "duration_ms"]),
    "Event": s_obj({
        "id": s_str("Event id (`evt_...`), sent as `webhook-id`."),
        "type": {"type": "string", "enum": EVENT_TYPES},
        "order_key": s_str("The order (merchant_uid) or, for billing keys, the customer_uid; events of one "
                           "key are delivered in order."),
        "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
        "attempts": s_int("Delivery attempts so far."),
        "created_at": s_str("When the change happened (UTC, ISO 8601); the body's `timestamp`."),
        "next_attempt_at": {"type": ["string", "null"], "description": "When a pending event is tried next."},
        "delivered_at": {"type": ["string", "null"]},
        "last_error": {"type": ["string", "null"], "description": "Why the last attempt failed."},
        "data": {"type": "object", "description": "The event's data as delivered (no secrets, no card digits)."},
        "delivery_attempts": s_arr(ref("EventAttempt"), "Only in `GET /events/{id}`: every attempt, oldest first."),
    }, ["id", "type", "order_key", "state", "attempts", "created_at", "data"]),
    "EventPage": s_obj({"items": s_arr(ref("Event")), "page": s_int(), "limit": s_int(), "total": s_int()},
                       ["items", "page", "limit", "total"]),
})
EVENT_ID = p("id", "Event id (`evt_` and 24 hex digits).", pattern=r"^evt_[0-9a-f]+$", max_len=40)
E404_EVT = err(404, "No such event (`event_not_found`).")
OPS.update({
    "events.list": dict(
        tag="events", summary="List the outbox of signed events",
        description="Every change of a payment, cancellation, billing key or schedule writes an event in the "
                    "same transaction; a background task POSTs pending events to `DockpayNotifyURL`, signed the "
                    "Standard Webhooks way. Newest first. Admin only.",
        params=[q("type", {"type": "string", "enum": EVENT_TYPES}, "Only events of this type."),
                q("state", {"type": "string", "enum": ["pending", "delivered", "failed"]}, "Only events in this state."),
                q("order_key", {"type": "string", "maxLength": 80}, "Only the events of this order key.")]
               + PAGE_PARAMS,
        responses={200: ok("A page of events.", ref("EventPage"))},
        errors=errs((400, E400_Q), (403, e403("admin")), (503, DB503))),
    "events.get": dict(
        tag="events", summary="An event with its delivery attempts",
        description="The event and `delivery_attempts` (each attempt's time, HTTP status or error, duration). Admin only.",
        params=[EVENT_ID],
        responses={200: ok("The event.", ref("Event"))},
        errors=errs((403, e403("admin")), (404, E404_EVT), (503, DB503))),
    "events.redeliver": dict(
        tag="events", summary="Deliver an event again",
        description="Queues the event again (pending, due now; its maximum age counts from now). Admin only.",
        params=[EVENT_ID],
        responses={202: ok("Queued.", ref("Event"))},
        errors=errs((403, e403("admin")), (404, E404_EVT), (503, DB503))),
})

TAGS = [
    ("service", "Health and this document (no API key)."),
    ("containers", "Docker containers (docker:read / docker:write)."),
    ("images", "Docker images."),
    ("volumes", "Docker volumes."),
    ("networks", "Docker networks."),
    ("system", "Docker system information, prune and events."),
    ("compose", "Compose projects found from container labels; `up` runs the compose command."),
    ("payments", "PortOne V1 payments (payments:read / payments:write)."),
    ("subscriptions", "PortOne V1 billing keys and scheduled payments."),
    ("webhooks", "PortOne's notifications (no API key; source allow-list)."),
    ("events", "Signed events for the merchant's application (outbox; admin)."),
]

INFO_DESCRIPTION = """\
REST API of **mod_dockpay**, an Apache httpd 2.4 module: Docker management over the Engine API's unix \
socket and PortOne (iamport) V1 payments.

* **Mount point**: `/api/v1` by default (whatever `<Location>` or `RewriteRule ... [H=dockpay]` maps to \
the `dockpay` handler, with `DockpayBasePath`). Paths below are relative to it.
* **Authentication**: `Authorization: Bearer <api key>` on every route except `GET /health`, \
`GET /openapi.json` and `POST /webhooks/portone`. Keys are listed (as SHA-256 hashes, with a name and \
scopes) in `DockpayKeyFile`. Scopes: `docker:read`, `docker:write`, `payments:read`, `payments:write`, \
`admin` (implies all). `x-scope` on each operation names the scope it needs (`none` for open routes).
* **Bodies**: JSON (`application/json; charset=utf-8`) unless stated; at most `DockpayMaxBody` bytes. \
Unknown fields are rejected (400).
* **Success**: the resource itself, or for collections `{"items": [...]}` (plus `page`, `limit`, \
`total` when paginated). Docker objects carry Docker's field names, PortOne objects PortOne's.
* **Errors**: RFC 9457 problem details (`application/problem+json`) with a stable `code`: 400 malformed \
(wrong type, missing or unknown field, bad query), 401 no or bad key (`WWW-Authenticate: Bearer`), 403 \
missing scope or refused by policy (`policy_denied`), 404 unknown route or resource, 405 known path but \
wrong method (with `Allow`; not listed per operation), 409 conflict, 413 body too large, 415 wrong content \
type, 422 well-formed but invalid value, 502 Docker/PortOne error, 503 Docker/PortOne/database \
unreachable (`Retry-After`), 504 upstream timeout. Never an empty 500 or an HTML error page.
* **HEAD** is accepted wherever GET is.
* Every response carries `X-Request-Id` (the request's own if it is 1-64 characters of \
`[A-Za-z0-9._:-]`, else a generated one); the same id is in the error log lines about the request.
* Secrets (PortOne key/secret/token, API keys, card data, registry passwords) never appear in a \
response or a log line.
"""


# ------------------------------------------------------------------------------------------------

def problem_response(status, desc):
    headers = {"X-Request-Id": RID}
    if status == 401:
        headers["WWW-Authenticate"] = {"description": "`Bearer`.", "schema": {"type": "string"}}
    if status == 503:
        headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    return {"description": desc, "headers": headers,
            "content": {"application/problem+json": {"schema": ref("Problem")}}}


def components():
    resp = {
        "BadRequest": problem_response(400, "Malformed request."),
        "Unauthorized": problem_response(401, "No or bad credentials."),
        "Forbidden": problem_response(403, "Missing scope or refused by policy."),
        "NotFound": problem_response(404, "No such resource."),
        "Conflict": problem_response(409, "Conflict with the resource's state."),
        "PayloadTooLarge": problem_response(413, "Body too large."),
        "UnsupportedMediaType": problem_response(415, "Wrong content type."),
        "UnprocessableContent": problem_response(422, "Well-formed but invalid value."),
        "BadGateway": problem_response(502, "Upstream (Docker or PortOne) error."),
        "ServiceUnavailable": problem_response(503, "A dependency is unreachable."),
        "GatewayTimeout": problem_response(504, "Upstream timeout."),
        "Error": problem_response(500, "Any other error (e.g. 500 or 501), always as a problem document."),
    }
    return {
        "securitySchemes": {"bearer": {
            "type": "http", "scheme": "bearer",
            "description": "An API key minted with `dockpay-keygen NAME SCOPES` (or `./dev keygen`), whose "
                           "hash is listed in `DockpayKeyFile`."}},
        "headers": {
            "X-Request-Id": {"description": "The request id (the client's own `X-Request-Id` if sane, else "
                                            "generated); also in the error log.",
                             "schema": {"type": "string", "maxLength": 64}},
            "Retry-After": {"description": "Seconds to wait before trying again.",
                            "schema": {"type": "integer", "minimum": 0}},
        },
        "parameters": {},
        "responses": resp,
        "schemas": SCHEMAS,
    }


IDEM_PARAM = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "1 to 255 visible ASCII characters chosen by the client (e.g. a UUID). The same key "
                   "with the same request (method, path, query, body) within 24 h gets the first answer "
                   "again, byte for byte with its status, plus `Idempotent-Replayed: true`, and nothing "
                   "is sent to PortOne again. Keys are per API key and hold across servers sharing the "
                   "database. A 5xx answer frees the key.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}
IDEM_NOTE = ("Takes an optional `Idempotency-Key` header: a retry with the same key and request is "
             "answered from the first answer (`Idempotent-Replayed: true`).")


def build_operation(method, pattern, scope, hid, spec):
    path_names = re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\+?\}", pattern)
    greedy = set(re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\+\}", pattern))
    params = list(spec.get("params", []))
    have = [x["name"] for x in params if x["in"] == "path"]
    if sorted(have) != sorted(path_names):
        raise SystemExit("gen-openapi: %s %s: path parameters %s, table has %s" % (method, pattern, path_names, have))
    for x in params:
        if x["in"] == "path" and (x["name"] in greedy) != bool(x.get("x-greedy")):
            raise SystemExit("gen-openapi: %s %s: x-greedy of {%s} disagrees with the route" % (method, pattern, x["name"]))
    op = {"operationId": hid, "summary": spec["summary"]}
    if spec.get("description"):
        op["description"] = spec["description"]
    op["tags"] = [spec["tag"]]
    op["x-scope"] = scope
    if scope == "none":
        op["security"] = []
    if scope == "payments:write" and method in ("POST", "DELETE"):
        params = params + [IDEM_PARAM]
        op["description"] = (op.get("description", "") + " " + IDEM_NOTE).strip()
    if params:
        op["parameters"] = params
    if spec.get("body"):
        op["requestBody"] = spec["body"]
    responses = {}
    for st, r in sorted(spec["responses"].items()):
        responses[str(st)] = r
    errors = dict(spec.get("errors", {}))
    if scope == "payments:write" and method in ("POST", "DELETE"):
        for st, more in ((400, "a malformed `Idempotency-Key` (`bad_idempotency_key`)"),
                         (409, "the first request with this `Idempotency-Key` is still running "
                               "(`request_in_progress`, `Retry-After`)"),
                         (422, "the `Idempotency-Key` was used for another request (`idempotency_key_reused`)")):
            if st in errors:
                e = dict(errors[st])
                e["description"] = e["description"].rstrip(".") + "; or " + more + "."
            else:
                e = err(st, more[0].upper() + more[1:] + ".")
            errors[st] = e
    if scope != "none":
        errors.setdefault(401, E401)
        errors.setdefault(403, e403(scope))
        errors.setdefault(400, E400_Q)
    else:
        errors.setdefault(400, err(400, "The query string is not correctly %-encoded (`bad_query`)."))
    for st in sorted(errors):
        if str(st) not in responses:
            responses[str(st)] = errors[st]
    responses["default"] = {"$ref": "#/components/responses/Error"}
    op["responses"] = responses
    return op


def build(routes):
    ids = [r[3] for r in routes]
    missing = [i for i in ids if i not in OPS]
    extra = [i for i in OPS if i not in ids]
    if missing or extra:
        raise SystemExit("gen-openapi: routes without an entry: %s; entries without a route: %s" % (missing, extra))
    if len(set(ids)) != len(ids):
        raise SystemExit("gen-openapi: duplicate handler ids in lib/base/dp_routes.c")
    paths = {}
    for method, pattern, scope, hid in routes:
        item = paths.setdefault(oas_path(pattern), {})
        item[method.lower()] = build_operation(method, pattern, scope, hid, OPS[hid])
    # the route table's order groups areas; sort paths for a stable, readable document
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "mod_dockpay",
            "version": VERSION,
            "summary": "Docker management and PortOne payments as a REST API inside Apache httpd.",
            "description": INFO_DESCRIPTION,
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "tags": [{"name": n, "description": d} for n, d in TAGS],
        "paths": paths,
        "components": components(),
    }


def render(doc):
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main(argv):
    text = render(build(read_routes()))
    if "--stdout" in argv:
        sys.stdout.write(text)
        return 0
    if "--check" in argv:
        try:
            with open(OUT, encoding="utf-8") as f:
                cur = f.read()
        except OSError:
            cur = None
        if cur != text:
            sys.stderr.write("openapi.json is out of date: run tools/gen-openapi.py\n")
            return 1
        return 0
    tmp = OUT + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
