"""A local HTTP gateway: the synthesized REST APIs served on loopback, routed and integrated as deployed.

Routes (with path parameters), authorization types, request validation (the API's JSON-schema models), gateway
responses and integrations are read from the cloud assembly's ``AWS::ApiGateway::*`` resources, and mapping
templates are rendered with :mod:`local_engine.mapping_templates` (``$context.responseOverride.status`` included).
Served integrations: AWS ``states:StartSyncExecution`` (feed events and trader commands; moto lacks it, so the
engine runs the execution to its end and answers in its response shape), AWS ``states:StartExecution``, and
``AWS_PROXY`` Lambda (queries, realtime session), which runs the real handler. Anything else answers 501, naming
the integration.
Every API is served on the one port under its stage's path (``/v1/...``); no two APIs share a route.

Every request gets an answer, as from API Gateway. A body that a method validates is read as API Gateway's
validator reads it (:func:`parse_json_body`): strictly UTF-8, RFC 8259 JSON only (no ``NaN``), nested at most
:data:`MAX_BODY_DEPTH` levels, and schema patterns are ECMA 262 regular expressions (:func:`schema_validator`).
Anything the gateway itself fails on is API Gateway's 500 ``Internal server error``, never a dropped connection.

Two authorizers are stand-ins, because their real counterparts need secrets a local engine cannot have:
- IAM: a SigV4 ``Authorization`` header is required and its form is checked as AWS checks it (algorithm, the
  ``Credential`` scope, ``SignedHeaders``, a 64-hex-digit ``Signature``, a date header), each refusal a 403 in
  AWS's words (:func:`sigv4_problem`); the signature itself is not verified (moto's keys are fake).
- Cognito user pools: ``POST /local/sign-in`` (served only here, never deployed) issues a random token for a
  username; the token stands in for the ID token, and its claims (``sub``, ``cognito:username``) reach the
  integrations as ``$context.authorizer.claims``. Without a valid token a route answers 401 as API Gateway does.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from jsonschema import Draft4Validator, ValidationError, validators
from jsonschema.protocols import Validator

from local_engine.cloud_assembly import StackArtifact
from local_engine.engine import REGION
from local_engine.mapping_templates import render
from local_engine.provisioner import ProvisionedApp

_START_EXECUTION = re.compile(r":states:action/StartExecution$")
_START_SYNC_EXECUTION = re.compile(r":states:action/StartSyncExecution$")
_LAMBDA_FUNCTION = re.compile(r":lambda:path/2015-03-31/functions/(?P<arn>.+)/invocations$")
_PATH_PARAMETER = re.compile(r"\{([A-Za-z0-9_]+)\}")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
LOCAL_SIGN_IN_PATH = "/local/sign-in"
# API Gateway waits at most 29 s for an integration (REST APIs' default maximum), then answers 504 with the
# INTEGRATION_TIMEOUT gateway response while the integration goes on ("Gateway response types for API Gateway",
# https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html).
INTEGRATION_TIMEOUT_SECONDS = 29.0
INTEGRATION_TIMEOUT_RESPONSE = json.dumps({"message": "Endpoint request timed out"})


@dataclass(frozen=True)
class Route:
    """One method of a deployed REST API, with what the gateway needs to serve it."""

    stage: str
    http_method: str
    path: str  # e.g. /feed-events
    authorization: str
    validator: Validator | None
    integration: dict[str, Any]
    bad_request_body_template: str | None

    @property
    def url_path(self) -> str:
        return f"/{self.stage}{self.path}"

    def match(self, url_path: str) -> dict[str, str] | None:
        """The path parameters if ``url_path`` (without its query) is this route's, else None."""
        pattern = "".join(
            f"(?P<{part[1:-1]}>[^/]+)" if _PATH_PARAMETER.fullmatch(part) else re.escape(part)
            for part in re.split(r"(\{[A-Za-z0-9_]+\})", self.url_path)
        )
        found = re.fullmatch(pattern, url_path)
        return None if found is None else {name: unquote(value) for name, value in found.groupdict().items()}


def routes(stacks: list[StackArtifact], app: ProvisionedApp) -> list[Route]:
    """Every REST API method of the app, its intrinsics resolved against the provisioned resources."""
    found: list[Route] = []
    for stack in stacks:
        resources = stack.template.get("Resources", {})
        by_type: dict[str, dict[str, dict[str, Any]]] = {}
        for logical_id, resource in resources.items():
            by_type.setdefault(resource["Type"], {})[logical_id] = resource.get("Properties", {})
        resolver = app.resolvers.get(stack.name)
        if resolver is None:
            continue
        for method in by_type.get("AWS::ApiGateway::Method", {}).values():
            api_id = method["RestApiId"]["Ref"]
            stages = [
                s["StageName"]
                for s in by_type.get("AWS::ApiGateway::Stage", {}).values()
                if s["RestApiId"]["Ref"] == api_id
            ]
            validator = None
            validator_ref = method.get("RequestValidatorId", {}).get("Ref")
            validates_body = by_type.get("AWS::ApiGateway::RequestValidator", {}).get(validator_ref or "", {})
            model_ref = method.get("RequestModels", {}).get("application/json", {}).get("Ref")
            if validates_body.get("ValidateRequestBody") and model_ref:
                validator = schema_validator(resources[model_ref]["Properties"]["Schema"])
            bad_body = next(
                (
                    r.get("ResponseTemplates", {}).get("application/json")
                    for r in by_type.get("AWS::ApiGateway::GatewayResponse", {}).values()
                    if r["RestApiId"]["Ref"] == api_id and r["ResponseType"] == "BAD_REQUEST_BODY"
                ),
                None,
            )
            for stage in stages:
                found.append(
                    Route(
                        stage=stage,
                        http_method=method["HttpMethod"],
                        path=_path(method["ResourceId"], by_type.get("AWS::ApiGateway::Resource", {})),
                        authorization=method.get("AuthorizationType", "NONE"),
                        validator=validator,
                        integration=resolver.resolve(method.get("Integration", {})),
                        bad_request_body_template=bad_body,
                    )
                )
    return found


def _path(resource_id: Any, api_resources: dict[str, dict[str, Any]]) -> str:
    parts: list[str] = []
    current = resource_id
    while isinstance(current, dict) and "Ref" in current:
        resource = api_resources[current["Ref"]]
        parts.append(resource["PathPart"])
        current = resource["ParentId"]
    return "/" + "/".join(reversed(parts))


@dataclass(frozen=True)
class Response:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    """One HTTP request as the integrations see it."""

    route: Route
    path: str
    path_parameters: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: str
    claims: dict[str, str] | None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def context(self) -> dict[str, Any]:
        """``$context`` for mapping templates."""
        return {
            "requestId": self.request_id,
            "stage": self.route.stage,
            "resourcePath": self.route.path,
            "httpMethod": self.route.http_method,
            "authorizer": {"claims": dict(self.claims or {})},
            "identity": {"userArn": "arn:aws:iam::123456789012:user/local-service-client" if self._signed else None},
            "responseOverride": {},
        }

    @property
    def _signed(self) -> bool:
        return self.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 ")


# ECMA 262 (non-Unicode mode) where Python's re differs: '$' is the end of the input only (Python's also matches
# before a final newline), '.' excludes every line terminator, \d and \w are ASCII, \s is ECMA's WhiteSpace and
# LineTerminator set.
_ECMA_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_ECMA_OUTSIDE_CLASS = {"$": r"\Z", ".": "[^\n\r\u2028\u2029]"}
_ECMA_ESCAPES_OUTSIDE_CLASS = {"s": f"[{_ECMA_WHITESPACE}]", "S": f"[^{_ECMA_WHITESPACE}]"}


@cache
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """A JSON-schema ``pattern`` compiled with ECMA 262 semantics, as draft 4 requires.

    JSON Schema draft 4 (draft-fge-json-schema-validation-00, section 5.2.3; core section 3.3) says patterns are
    ECMA 262 regular expressions, and API Gateway models are draft 4 schemas (API Gateway developer guide, "Data
    models for REST APIs"). Python's ``re`` differs where it matters to validation: ``^[a-z]+$`` accepts
    ``"abc\\n"`` in Python, not in ECMA 262, so a fixture id with a trailing newline passed the local schema
    check and broke the execution name template. Patterns are searched, not anchored (section 5.2.3).
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            if in_class:
                out.append(_ECMA_WHITESPACE if escaped == "s" else char + escaped)
            else:
                out.append(_ECMA_ESCAPES_OUTSIDE_CLASS.get(escaped, char + escaped))
            i += 2
            continue
        if in_class:
            in_class = char != "]"
            out.append(char)
        elif char == "[":
            in_class = True
            out.append(char)
        else:
            out.append(_ECMA_OUTSIDE_CLASS.get(char, char))
        i += 1
    return re.compile("".join(out), re.ASCII)


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_ApiGatewayDraft4Validator = validators.extend(Draft4Validator, {"pattern": _ecma_pattern})


def schema_validator(schema: Mapping[str, Any]) -> Validator:
    """A draft 4 validator for an API Gateway model, its ``pattern`` keyword with ECMA 262 semantics."""
    validator: Validator = _ApiGatewayDraft4Validator(schema)
    return validator


# Nesting deeper than this is refused as a bad body. Python parses (and jsonschema, mapping templates and the
# engine walk) a document by recursion, near 1,000 levels at most; API Gateway's parser has a limit of its own.
# Every body of this app is shallow (a feed event is one flat object, a trader command two levels at most), so on
# AWS such a body is a 400 too: from the validator (feed events), or from the workflow (a trader command's free
# fields, which its schema does not constrain). Only the message differs.
MAX_BODY_DEPTH = 64
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


class InvalidBody(ValueError):
    """A body that is not JSON as API Gateway reads it; the message says why, for the 400."""


def parse_json_body(raw: bytes) -> Any:
    """The body as API Gateway's request validator reads it, or :class:`InvalidBody` saying why not.

    - UTF-8, strictly: a text payload is a UTF-8-encoded JSON string (API Gateway developer guide, "Working with
      binary media types for REST APIs"; RFC 8259 section 8.1), and API Gateway parses the body's bytes with
      Jackson (its parse errors say so: "Could not parse request body into json: ... [Source: [B@...]",
      github.com/serverless/serverless/issues/2270), which refuses an invalid byte ("Invalid UTF-8 start byte").
      Python's ``errors="replace"`` stored U+FFFD in its place instead.
    - RFC 8259 JSON: ``NaN`` and ``Infinity`` are not JSON numbers (section 6); Jackson refuses them by default
      (``ALLOW_NON_NUMERIC_NUMBERS`` is off), Python's ``json.loads`` accepts them.
    - At most :data:`MAX_BODY_DEPTH` levels of nesting, so that no body can exhaust Python's recursion.
    A lone surrogate written as an escape (``"\\ud800"``) is valid JSON text (RFC 8259 section 8.2) and Jackson
    reads it into a Java string; it is accepted here too and left to the schema and the workflow.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidBody(f"body: not UTF-8 (byte 0x{raw[error.start]:02x} at byte {error.start})") from None
    depth = deepest = 0
    for bracket in _JSON_BRACKET.finditer(_JSON_STRING.sub("", text)):
        depth += 1 if bracket.group() in "[{" else -1
        deepest = max(deepest, depth)
        if deepest > MAX_BODY_DEPTH:
            raise InvalidBody(f"body: nested deeper than {MAX_BODY_DEPTH} levels")
    try:
        return json.loads(text, parse_constant=_not_a_json_number)
    except json.JSONDecodeError as error:
        raise InvalidBody(f"body: not JSON ({error.msg} at character {error.pos})") from None
    except ValueError as error:
        raise InvalidBody(f"body: not JSON ({error})") from None


def _not_a_json_number(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


# SigV4's Authorization header (IAM User Guide, "Authentication methods" and "Elements of an AWS API request
# signature"): AWS4-HMAC-SHA256 Credential=AKID/YYYYMMDD/region/service/aws4_request, SignedHeaders=a;b,
# Signature=<64 lowercase hex digits>.
SIGV4_ALGORITHM = "AWS4-HMAC-SHA256"
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_SIGNED_HEADERS = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+(?:;[a-z0-9!#$%&'*+.^_`|~-]+)*")
_SCOPE_DATE = re.compile(r"\d{8}")
_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
    "Key and signing method. Consult the service documentation for details."
)


class SignatureRefused(ValueError):
    """API Gateway's 403 for a SigV4 header it refuses: ``error_type`` is its ``x-amzn-ErrorType``."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def sigv4_problem(headers: Mapping[str, str], *, region: str, service: str = "execute-api") -> tuple[str, str] | None:
    """Why API Gateway would refuse this request's SigV4 ``Authorization`` header: (error type, message), or None.

    The messages are the ones API Gateway answers with a 403 (gateway response ``INVALID_SIGNATURE``,
    ``x-amzn-ErrorType`` IncompleteSignatureException or InvalidSignatureException), checked in its order: each
    parameter a key=value pair; ``Credential``, ``Signature``, ``SignedHeaders`` and a date header present; the
    credential scope's five elements, terminator, service, region (the API's own) and date. The signature is
    not verified locally, but one that is not 64 hex digits (or of another algorithm) can never match, and is
    refused as AWS refuses a wrong signature. ``headers`` have lower-case names.
    """
    try:
        algorithm, parameters = _authorization_parameters(headers)
        _check_scope(parameters["Credential"], headers.get("x-amz-date", ""), region=region, service=service)
    except SignatureRefused as refused:
        return refused.error_type, str(refused)
    if (
        algorithm != SIGV4_ALGORITHM
        or not _SIGNATURE.fullmatch(parameters["Signature"])
        or not _SIGNED_HEADERS.fullmatch(parameters["SignedHeaders"])
    ):
        return "InvalidSignatureException", _SIGNATURE_MISMATCH
    return None


def _authorization_parameters(headers: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    authorization = headers.get("authorization", "")
    algorithm, _, rest = authorization.strip().partition(" ")
    parameters: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in rest.split(","))):
        name, equals, value = pair.partition("=")
        if not equals:
            raise SignatureRefused(
                "IncompleteSignatureException",
                f"'{pair}' not a valid key=value pair (missing equal-sign) in Authorization header: '{authorization}'.",
            )
        parameters[name.strip()] = value.strip()
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not parameters.get(name)
    ]
    if not headers.get("x-amz-date") and not headers.get("date"):
        missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    if missing:
        raise SignatureRefused("IncompleteSignatureException", " ".join([*missing, f"Authorization={authorization}"]))
    return algorithm, parameters


def _check_scope(credential: str, amz_date: str, *, region: str, service: str) -> None:
    scope = credential.split("/")
    if len(scope) != 5 or not all(scope):
        raise SignatureRefused(
            "IncompleteSignatureException",
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{credential}'",
        )
    _, date, scoped_region, scoped_service, terminator = scope
    if terminator != "aws4_request":
        raise SignatureRefused(
            "InvalidSignatureException",
            f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. ",
        )
    if scoped_service != service:
        raise SignatureRefused(
            "InvalidSignatureException", f"Credential should be scoped to correct service: '{service}'. "
        )
    if scoped_region != region:
        raise SignatureRefused(
            "InvalidSignatureException", f"Credential should be scoped to a valid region, not '{scoped_region}'. "
        )
    if not _SCOPE_DATE.fullmatch(date) or (amz_date and not amz_date.startswith(date)):
        raise SignatureRefused(
            "InvalidSignatureException",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{date}', expected: '{amz_date[:8]}'.",
        )


def validation_errors(validator: Validator, body: Any) -> Iterator[str]:
    """Each schema violation, where and what is wrong, in jsonschema's words.

    Locally the path is always given. API Gateway's own messages (its validator's) name a field only when it is
    missing or not allowed; for a wrong value they say what is wrong but not where, which is why the trader API's
    schema checks nothing else and the workflow names the field (docs/trader-api.md).
    """
    errors = sorted(validator.iter_errors(body), key=lambda e: (len(e.path), str(e.path)))
    envelope = [e for e in errors if not (e.validator == "oneOf" and not e.path)]
    for error in envelope:
        yield f"{'/'.join(str(part) for part in error.path) or 'object'}: {_shortened(error.message)}"
    if errors and not envelope:
        # The envelope is right but the type's own fields are not: API Gateway says only that the body
        # matches no schema; the branch for the event's own type names the field (found by fuzzing: a 256 KB
        # team name used to pass here, since only the skipped oneOf error reported it).
        yield "object: failed to match exactly one schema"
        yield from _type_branch_errors(errors[0])


def _type_branch_errors(one_of: Any) -> Iterator[str]:
    by_branch: dict[Any, list[Any]] = {}
    for error in one_of.context or []:
        by_branch.setdefault(error.relative_schema_path[0], []).append(error)
    for branch_errors in by_branch.values():
        # the branch of this body's own type (feed events) or command (trader commands)
        if not any(list(error.path) in (["type"], ["command"]) for error in branch_errors):
            for error in branch_errors:
                yield f"{'/'.join(str(part) for part in error.path) or 'object'}: {_shortened(error.message)}"


def _shortened(message: str, limit: int = 200) -> str:
    """A message that echoes a huge value keeps its start and says how long it was."""
    return message if len(message) <= limit else f"{message[:limit]}... ({len(message)} characters)"


class LocalGateway:
    """Serves the app's REST APIs on 127.0.0.1; use as a context manager."""

    def __init__(
        self, engine: Any, *, port: int = 0, integration_timeout_seconds: float = INTEGRATION_TIMEOUT_SECONDS
    ) -> None:
        from local_engine.cloud_assembly import read_stacks

        assert engine.app is not None, "start the engine first"
        self.engine = engine
        self.region = REGION  # the region the engine provisions the app in: SigV4 scopes must name it
        self.integration_timeout_seconds = integration_timeout_seconds
        self.routes = routes(read_stacks(engine.assembly_dir), engine.app)
        self._signed_in: dict[str, dict[str, str]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-gateway", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> LocalGateway:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, http_method: str, path: str, headers: dict[str, str], raw_body: bytes) -> Response:
        url = urlsplit(path)
        # Lambda proxy bodies reach the function as text; a validated body is read strictly below
        text = raw_body.decode("utf-8", errors="replace")
        if http_method == "POST" and url.path.endswith(LOCAL_SIGN_IN_PATH):
            return self._sign_in(text)
        matched = next(
            (
                (r, found)
                for r in self.routes
                if r.http_method == http_method and (found := r.match(url.path)) is not None
            ),
            None,
        )
        if matched is None:
            return Response(403, json.dumps({"message": "Missing Authentication Token"}))  # what API Gateway says
        route, path_parameters = matched
        refused, claims = self._authorize(route, headers)
        if refused is not None:
            return refused
        if route.integration.get("PassthroughBehavior") == "NEVER" and not headers.get("content-type", "").startswith(
            "application/json"
        ):
            return Response(415, json.dumps({"message": "Unsupported Media Type"}))
        if route.validator is not None:
            try:
                body = parse_json_body(raw_body)
            except InvalidBody as error:
                return self._bad_body(route, [str(error)])
            problems = list(validation_errors(route.validator, body))
            if problems:
                return self._bad_body(route, problems)
        request = Request(route, url.path, path_parameters, dict(parse_qsl(url.query)), headers, text, claims)
        return self._integrate(request)

    def _authorize(self, route: Route, headers: dict[str, str]) -> tuple[Response | None, dict[str, str] | None]:
        """API Gateway's refusal of the caller, if any, and the caller's claims (Cognito routes)."""
        if route.authorization == "AWS_IAM":
            if not headers.get("authorization"):
                return Response(403, json.dumps({"message": "Missing Authentication Token"})), None
            refused = sigv4_problem(headers, region=self.region)
            if refused is not None:
                error_type, message = refused
                return Response(403, json.dumps({"message": message}), {"x-amzn-ErrorType": error_type}), None
        if route.authorization == "COGNITO_USER_POOLS":
            claims = self._signed_in.get(headers.get("authorization", "").removeprefix("Bearer "))
            if claims is None:
                return Response(401, json.dumps({"message": "Unauthorized"})), None
            return None, claims
        return None, None

    def _sign_in(self, text: str) -> Response:
        """The local stand-in for Cognito sign-in (see the module docstring)."""
        try:
            username = json.loads(text).get("username")
        except (ValueError, AttributeError, RecursionError):
            username = None
        if not isinstance(username, str) or not re.fullmatch(r"[A-Za-z0-9._@-]{1,64}", username):
            return Response(
                400, json.dumps({"message": "username: 1 to 64 letters, digits or ._@-", "field": "username"})
            )
        token = secrets.token_urlsafe(32)
        self._signed_in[token] = {"sub": str(uuid.uuid5(uuid.NAMESPACE_URL, username)), "cognito:username": username}
        return Response(200, json.dumps({"token": token, "username": username}))

    def _bad_body(self, route: Route, problems: list[str]) -> Response:
        detail = "[" + "; ".join(problems) + "]"
        template = route.bad_request_body_template or '{"message": "Invalid request body"}'
        # Quotes become ' as API Gateway words it; backslashes and control characters (the caller's own bytes,
        # echoed in the message) are JSON-escaped so that the answer stays JSON (found by tests/e2e fuzzing).
        safe = json.dumps(detail.replace('"', "'"))[1:-1]
        rendered = render(template, "{}", context={"error": {"validationErrorString": safe}})
        return Response(400, rendered)

    def _integrate(self, request: Request) -> Response:
        """The integration's answer, or API Gateway's 504 once it has taken longer than the integration timeout."""
        answers: list[Response] = []
        failures: list[BaseException] = []

        def integrate() -> None:
            try:
                answers.append(self._call_integration(request))
            except BaseException as error:  # noqa: BLE001 - re-raised in the request's own thread below
                failures.append(error)

        # The integration goes on after a 504, as in AWS (an execution is not stopped when its caller gives up).
        worker = threading.Thread(target=integrate, name=f"integration-{request.request_id}", daemon=True)
        worker.start()
        worker.join(self.integration_timeout_seconds)
        if worker.is_alive():
            return Response(504, INTEGRATION_TIMEOUT_RESPONSE)
        if failures:
            raise failures[0]
        return answers[0]

    def _call_integration(self, request: Request) -> Response:
        integration = request.route.integration
        uri = str(integration.get("Uri", ""))
        if integration.get("Type") == "AWS" and _START_EXECUTION.search(uri):
            return self._start_execution(request)
        if integration.get("Type") == "AWS" and _START_SYNC_EXECUTION.search(uri):
            return self._start_sync_execution(request)
        if integration.get("Type") == "AWS_PROXY" and (function := _LAMBDA_FUNCTION.search(uri)):
            return self._invoke_proxy(request, function.group("arn"))
        return Response(501, json.dumps({"message": f"integration {integration.get('Uri')} is not served locally"}))

    def _render_request(self, request: Request) -> dict[str, Any]:
        template = request.route.integration["RequestTemplates"]["application/json"]
        rendered = render(template, request.body, context=request.context(), params={"path": request.path_parameters})
        started: dict[str, Any] = json.loads(rendered)
        if isinstance(started.get("input"), str):
            # The execution input is JSON text. A lone surrogate of the caller's (valid as a JSON escape, RFC 8259
            # section 8.2) reaches Step Functions as the escape \udXXX that escapeJavaScript wrote; Python holds it
            # as a character no codec encodes, so it is written back as that escape: the same JSON value.
            started["input"] = _LONE_SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", started["input"])
        return started

    def _service_error(self, request: Request, error: Exception) -> Response:
        """A refused service call, mapped through the integration's selection patterns as API Gateway does."""
        status = str(getattr(error, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
        responses = request.route.integration.get("IntegrationResponses", [])
        chosen = next(
            (r for r in responses if r.get("SelectionPattern") and re.fullmatch(r["SelectionPattern"], status)), None
        )
        if chosen is None:
            return Response(500, json.dumps({"message": "Internal server error"}))
        # The template sees the service's error body as API Gateway passes it: AWS JSON's {"__type", "message"}.
        details = getattr(error, "response", {}).get("Error", {})
        return self._rendered(
            request, chosen, {"__type": details.get("Code", type(error).__name__), "message": str(error)}
        )

    def _respond(self, request: Request, service_response: dict[str, Any]) -> Response:
        """The integration's default response, its template rendered (and its status override applied)."""
        responses = request.route.integration.get("IntegrationResponses", [])
        success = next(r for r in responses if not r.get("SelectionPattern"))
        return self._rendered(request, success, service_response)

    @staticmethod
    def _rendered(request: Request, integration_response: dict[str, Any], service_body: dict[str, Any]) -> Response:
        """An integration response's template rendered over the service's body, its status override applied."""
        context = request.context()
        template = integration_response["ResponseTemplates"]["application/json"]
        body = render(template, json.dumps(service_body), context=context)
        status = context["responseOverride"].get("status", integration_response["StatusCode"])
        return Response(int(status), body.strip() + "\n")

    def _start_execution(self, request: Request) -> Response:
        started = self._render_request(request)
        try:
            arn = self.engine.start_execution_named(started["stateMachineArn"], started["name"], started["input"])
        except Exception as error:  # noqa: BLE001 - any failure of the service maps through the selection patterns
            return self._service_error(request, error)
        return self._respond(request, {"executionArn": arn, "startDate": 0})

    def _start_sync_execution(self, request: Request) -> Response:
        started = self._render_request(request)
        try:
            result = self.engine.run_sync_execution(started["stateMachineArn"], started["name"], started["input"])
        except Exception as error:  # noqa: BLE001 - as above
            return self._service_error(request, error)
        return self._respond(request, result)

    def _invoke_proxy(self, request: Request, function_arn: str) -> Response:
        """Lambda proxy integration: the REST API (v1) event in, the function's status, headers and body out."""
        event = {
            "resource": request.route.path,
            "path": request.path.removeprefix(f"/{request.route.stage}"),
            "httpMethod": request.route.http_method,
            "headers": {name.title(): value for name, value in request.headers.items()},
            "multiValueHeaders": {name.title(): [value] for name, value in request.headers.items()},
            "queryStringParameters": request.query or None,
            "multiValueQueryStringParameters": {k: [v] for k, v in request.query.items()} or None,
            "pathParameters": request.path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "requestId": request.request_id,
                "stage": request.route.stage,
                "resourcePath": request.route.path,
                "httpMethod": request.route.http_method,
                "path": request.path,
                "requestTimeEpoch": int(time.time() * 1000),
                "authorizer": {"claims": dict(request.claims or {})},
                "identity": {"sourceIp": "127.0.0.1"},
            },
            "body": request.body or None,
            "isBase64Encoded": False,
        }
        invocation = self.engine.invoke_function(function_arn, event)
        if invocation.errored:
            return Response(502, json.dumps({"message": "Internal server error"}))
        answer = json.loads(invocation.payload)
        return Response(int(answer.get("statusCode", 200)), answer.get("body") or "", dict(answer.get("headers") or {}))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                headers = {key.lower(): value for key, value in self.headers.items()}
                try:
                    response = gateway.handle(self.command, self.path, headers, self.rfile.read(length))
                    payload = response.body.encode()
                except Exception:  # noqa: BLE001 - API Gateway answers every request; its own failure is a 500
                    traceback.print_exc(file=sys.stderr)
                    response = Response(500, json.dumps({"message": "Internal server error"}))
                    payload = response.body.encode()
                self.send_response(response.status)
                for name, value in response.headers.items():
                    if name.lower() not in {"content-type", "content-length"}:
                        self.send_header(name, value)
                self.send_header("Content-Type", response.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's naming

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                """Requests are not logged to the terminal; the engine's accounting reports them."""

        return Handler
