"""A local HTTP gateway: the synthesized REST APIs served on loopback, routed and integrated as deployed.

Routes, authorization types, request validation (the API's JSON-schema models), gateway responses and
integrations are read from the cloud assembly's ``AWS::ApiGateway::*`` resources, and mapping templates
are rendered with :mod:`local_engine.mapping_templates`. Served integrations: AWS ``states:StartExecution``
(the ingest API). Anything else answers 501, naming the integration, rather than pretending.

IAM authorization is checked for a SigV4 ``Authorization`` header only: the signature cannot be verified
without the signer's secret, which a local engine does not have (moto's credentials are fake).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from jsonschema import Draft4Validator

from local_engine.cloud_assembly import StackArtifact
from local_engine.mapping_templates import render
from local_engine.provisioner import ProvisionedApp

_START_EXECUTION = re.compile(r":states:action/StartExecution$")


@dataclass(frozen=True)
class Route:
    """One method of a deployed REST API, with what the gateway needs to serve it."""

    stage: str
    http_method: str
    path: str  # e.g. /feed-events
    authorization: str
    validator: Draft4Validator | None
    integration: dict[str, Any]
    bad_request_body_template: str | None

    @property
    def url_path(self) -> str:
        return f"/{self.stage}{self.path}"


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
                validator = Draft4Validator(resources[model_ref]["Properties"]["Schema"])
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


def validation_errors(validator: Draft4Validator, body: Any) -> Iterator[str]:
    """Each schema violation as API Gateway words it: where, and what is wrong."""
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
        if not any(list(error.path) == ["type"] for error in branch_errors):  # the branch of this event's type
            for error in branch_errors:
                yield f"{'/'.join(str(part) for part in error.path) or 'object'}: {_shortened(error.message)}"


def _shortened(message: str, limit: int = 200) -> str:
    """A message that echoes a huge value keeps its start and says how long it was."""
    return message if len(message) <= limit else f"{message[:limit]}... ({len(message)} characters)"


class LocalGateway:
    """Serves the app's REST APIs on 127.0.0.1; use as a context manager."""

    def __init__(self, engine: Any, *, port: int = 0) -> None:
        from local_engine.cloud_assembly import read_stacks

        assert engine.app is not None, "start the engine first"
        self.engine = engine
        self.routes = routes(read_stacks(engine.assembly_dir), engine.app)
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
        route = next((r for r in self.routes if r.http_method == http_method and r.url_path == path), None)
        if route is None:
            return Response(403, json.dumps({"message": "Missing Authentication Token"}))  # what API Gateway says
        if route.authorization == "AWS_IAM" and not headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 "):
            return Response(403, json.dumps({"message": "Missing Authentication Token"}))
        if route.integration.get("PassthroughBehavior") == "NEVER" and not headers.get("content-type", "").startswith(
            "application/json"
        ):
            return Response(415, json.dumps({"message": "Unsupported Media Type"}))
        text = raw_body.decode("utf-8", errors="replace")
        if route.validator is not None:
            try:
                body = json.loads(text)
            except json.JSONDecodeError as error:
                return self._bad_body(route, [f"body: not JSON ({error.msg} at character {error.pos})"])
            problems = list(validation_errors(route.validator, body))
            if problems:
                return self._bad_body(route, problems)
        return self._integrate(route, text)

    def _bad_body(self, route: Route, problems: list[str]) -> Response:
        detail = "[" + "; ".join(problems) + "]"
        template = route.bad_request_body_template or '{"message": "Invalid request body"}'
        # Quotes become ' as API Gateway words it; backslashes and control characters (the caller's own bytes,
        # echoed in the message) are JSON-escaped so that the answer stays JSON (found by tests/e2e fuzzing).
        safe = json.dumps(detail.replace('"', "'"))[1:-1]
        rendered = render(template, "{}", context={"error": {"validationErrorString": safe}})
        return Response(400, rendered)

    def _integrate(self, route: Route, text: str) -> Response:
        integration = route.integration
        if integration.get("Type") != "AWS" or not _START_EXECUTION.search(str(integration.get("Uri", ""))):
            return Response(501, json.dumps({"message": f"integration {integration.get('Uri')} is not served locally"}))
        request = json.loads(render(integration["RequestTemplates"]["application/json"], text))
        responses = integration.get("IntegrationResponses", [])
        try:
            arn = self.engine.start_execution_named(request["stateMachineArn"], request["name"], request["input"])
        except Exception as error:  # noqa: BLE001 - any failure of the service maps through the selection patterns
            status = str(getattr(error, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
            chosen = next(
                (r for r in responses if r.get("SelectionPattern") and re.fullmatch(r["SelectionPattern"], status)),
                None,
            )
            if chosen is None:
                return Response(500, json.dumps({"message": "Internal server error"}))
            return Response(int(chosen["StatusCode"]), render(chosen["ResponseTemplates"]["application/json"], "{}"))
        success = next(r for r in responses if not r.get("SelectionPattern"))
        service_response = json.dumps({"executionArn": arn, "startDate": 0})
        return Response(
            int(success["StatusCode"]), render(success["ResponseTemplates"]["application/json"], service_response)
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                headers = {key.lower(): value for key, value in self.headers.items()}
                response = gateway.handle(self.command, self.path, headers, self.rfile.read(length))
                payload = response.body.encode()
                self.send_response(response.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's naming

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                """Requests are not logged to the terminal; the engine's accounting reports them."""

        return Handler
