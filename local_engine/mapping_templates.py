"""Render API Gateway mapping templates (Velocity) locally, with airspeed, to test them without AWS.

API Gateway evaluates request and response mapping templates with Apache Velocity 1.x and gives them
``$input``, ``$util`` and ``$context``. This module provides those objects as AWS documents them
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html)
and closes the gaps between airspeed (a Python Velocity dialect) and Velocity 1.x that matter to templates:

* String literals: Velocity 1.x keeps backslashes in ``"..."`` and ``'...'`` literally (``"\\\\'"`` is the
  three characters ``\\\\'``, a Java regex matching ``\\'``); airspeed unescapes them. The renderer restores the
  literal text, so the common ``.replaceAll("\\\\'","'")`` idiom behaves as it does in API Gateway.
* Identifiers: Velocity 1.x allows ``-`` inside identifiers, so ``$a.b-$a.c`` reads a property ``b-``
  (rendered literally, as it does not exist); airspeed stops at the hyphen and would render a template
  that is broken in API Gateway. :func:`render` refuses such informal references: write ``${a.b}-``.
* Java string methods (``replaceAll`` and friends) on the strings ``$util``/``$input`` return: see
  :class:`JavaString`.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

import airspeed

__all__ = ["Input", "JavaString", "Util", "VelocityIncompatibilityError", "render", "velocity_hyphen_references"]

# A Velocity 1.x informal reference: $name(.name)* where a name may contain '-' (letters, digits, _ and -).
_INFORMAL_REFERENCE = re.compile(r"(?<!\\)\$!?[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z][A-Za-z0-9_-]*)*")
_SIMPLE_JSON_PATH = re.compile(r"^\$((?:\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\]|\['[^']*'\])*)$")
_JSON_PATH_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\['([^']*)'\]")


class VelocityIncompatibilityError(ValueError):
    """The template would render differently in API Gateway's Velocity than here."""


class JavaString(str):
    """A ``str`` with the ``java.lang.String`` methods templates call, with Java semantics.

    airspeed offers a few Java methods for ``str`` only through a table keyed on the exact ``str`` class, and
    its ``replaceAll`` takes a Python replacement (``\\1``) instead of Java's (``$1``, ``\\$``). Values the
    renderer hands to the template (``$util.escapeJavaScript``, ``$input.json``, ...) are of this subclass, so
    chained calls like ``.replaceAll("\\\\'","'")`` run with Java semantics and return a ``JavaString`` again,
    without patching airspeed for every other user of it.
    """

    def replaceAll(self, regex: str, replacement: str) -> JavaString:
        return JavaString(re.sub(regex, _python_replacement(replacement), self))

    def replaceFirst(self, regex: str, replacement: str) -> JavaString:
        return JavaString(re.sub(regex, _python_replacement(replacement), self, count=1))

    def replace(self, target: str, replacement: str, count: int = -1) -> JavaString:  # type: ignore[override]
        return JavaString(str.replace(self, target, replacement, count))

    def matches(self, regex: str) -> bool:
        return re.fullmatch(regex, self) is not None

    def length(self) -> int:
        return len(_utf16(self)) // 2  # UTF-16 code units, as Java counts

    def contains(self, text: str) -> bool:
        return text in self

    def startsWith(self, prefix: str) -> bool:
        return self.startswith(prefix)

    def endsWith(self, suffix: str) -> bool:
        return self.endswith(suffix)

    def toLowerCase(self) -> JavaString:
        return JavaString(self.lower())

    def toUpperCase(self) -> JavaString:
        return JavaString(self.upper())

    def indexOf(self, text: str) -> int:
        found = self.find(text)
        return -1 if found < 0 else JavaString(self[:found]).length()  # in UTF-16 code units, as Java counts

    def substring(self, begin: int, end: int | None = None) -> JavaString:
        units = _utf16(self)
        return JavaString(
            units[2 * begin : len(units) if end is None else 2 * end].decode("utf-16-le", "surrogatepass")
        )

    def trim(self) -> JavaString:
        return JavaString(self.strip("".join(chr(c) for c in range(33))))


def _utf16(text: str) -> bytes:
    """Java's view of a string: UTF-16 code units, a lone surrogate (valid in a JSON escape, RFC 8259 section
    8.2, and in a Java string) being one unit like any other, where Python's codec would refuse it."""
    return text.encode("utf-16-le", "surrogatepass")


def _python_replacement(java: str) -> str:
    """A Java regex replacement (``$1``, ``${name}``, ``\\x`` for a literal x) as a Python one."""
    out: list[str] = []
    i = 0
    while i < len(java):
        char = java[i]
        if char == "\\" and i + 1 < len(java):
            out.append(java[i + 1].replace("\\", "\\\\"))
            i += 2
        elif char == "$":
            named = re.match(r"\$\{([A-Za-z][A-Za-z0-9]*)\}", java[i:])
            numbered = re.match(r"\$(\d)", java[i:])
            if named:
                out.append(f"\\g<{named.group(1)}>")
                i += named.end()
            elif numbered:
                out.append(f"\\g<{numbered.group(1)}>")
                i += numbered.end()
            else:
                raise ValueError(f"illegal group reference in replacement {java!r}")
        else:
            out.append("\\\\" if char == "\\" else char)
            i += 1
    return "".join(out)


def _json_text(value: Any) -> JavaString:
    return JavaString(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


class Input:
    """``$input``: the request (or integration response) body and the request parameters."""

    def __init__(self, body: str, params: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.body = JavaString(body)
        self._params = {part: dict((params or {}).get(part, {})) for part in ("path", "querystring", "header")}

    def path(self, expression: str) -> Any:
        """The body parsed as JSON, or the value at a simple JSONPath (``$``, ``$.a.b``, ``$.a[0]``, ``$['a']``)."""
        match = _SIMPLE_JSON_PATH.match(expression)
        if not match:
            raise ValueError(f"unsupported JSONPath {expression!r} (only $, $.a.b, $.a[0], $['a'])")
        value: Any = json.loads(self.body) if self.body.strip() else {}
        for name, index, quoted in _JSON_PATH_STEP.findall(match.group(1)):
            try:
                value = value[int(index)] if index else value[name or quoted]
            except (KeyError, IndexError, TypeError):
                return None
        return JavaString(value) if isinstance(value, str) else value

    def json(self, expression: str) -> JavaString:
        """The value at the JSONPath, as JSON text."""
        return _json_text(self.path(expression))

    def params(self, name: str | None = None) -> Any:
        """All parameters (``path``, ``querystring``, ``header``), or one, looked up in that order."""
        if name is None:
            return self._params
        for part in ("path", "querystring", "header"):
            if name in self._params[part]:
                return JavaString(self._params[part][name])
        return None


class Util:
    """``$util``, as the API Gateway mapping template reference documents it."""

    @staticmethod
    def escapeJavaScript(text: Any) -> JavaString:
        """JavaScript string escaping (Apache Commons Lang 2 ``StringEscapeUtils.escapeJavaScript``).

        ``'`` becomes ``\\'`` (not valid JSON: templates undo it with ``.replaceAll("\\\\'","'")``), ``"``, ``\\``
        and ``/`` are backslash-escaped, control characters and everything above U+007F become ``\\uXXXX``
        (UTF-16 code units, upper-case hex).
        """
        text = "" if text is None else str(text)
        simple = {"\b": "\\b", "\n": "\\n", "\t": "\\t", "\f": "\\f", "\r": "\\r"}
        simple |= {"'": "\\'", '"': '\\"', "\\": "\\\\", "/": "\\/"}
        out: list[str] = []
        for char in text:
            if char in simple:
                out.append(simple[char])
            elif ord(char) < 0x20 or ord(char) > 0x7F:
                units = _utf16(char)
                out.extend(f"\\u{units[i + 1]:02X}{units[i]:02X}" for i in range(0, len(units), 2))
            else:
                out.append(char)
        return JavaString("".join(out))

    @staticmethod
    def parseJson(text: str) -> Any:
        value = json.loads(text)
        return JavaString(value) if isinstance(value, str) else value

    @staticmethod
    def urlEncode(text: str) -> JavaString:
        """``application/x-www-form-urlencoded`` (Java's ``URLEncoder``, UTF-8: space becomes ``+``)."""
        return JavaString(urllib.parse.quote_plus(text, safe="*"))

    @staticmethod
    def urlDecode(text: str) -> JavaString:
        return JavaString(urllib.parse.unquote_plus(text))

    @staticmethod
    def base64Encode(text: str) -> JavaString:
        return JavaString(base64.b64encode(text.encode()).decode("ascii"))

    @staticmethod
    def base64Decode(text: str) -> JavaString:
        return JavaString(base64.b64decode(text).decode())


def velocity_hyphen_references(template: str) -> list[str]:
    """Informal references that Velocity 1.x reads with a hyphen in a name (``$a.b-`` is property ``b-``)."""
    return [m.group(0) for m in _INFORMAL_REFERENCE.finditer(template) if "-" in m.group(0)]


def render(
    template: str,
    body: str | Mapping[str, Any] | list[Any],
    *,
    context: Mapping[str, Any] | None = None,
    params: Mapping[str, Mapping[str, str]] | None = None,
    stage_variables: Mapping[str, str] | None = None,
) -> str:
    """Evaluate a mapping template as API Gateway would, for this body (raw text, or a value sent as JSON)."""
    hazards = velocity_hyphen_references(template)
    if hazards:
        raise VelocityIncompatibilityError(
            f"Velocity 1.x reads a hyphen as part of the name in {hazards}: use formal references, e.g. ${{a.b}}-"
        )
    raw = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    compiled = airspeed.Template(template)
    compiled.ensure_compiled()
    _keep_backslashes_in_string_literals(compiled.root_element)
    namespace = {
        "input": Input(raw, params),
        "util": Util(),
        "context": dict(context or {}),
        "stageVariables": dict(stage_variables or {}),
    }
    return compiled.merge(namespace)


def _keep_backslashes_in_string_literals(root: Any) -> None:
    """Give every string literal of a compiled template its source text, as Velocity 1.x does (no escapes)."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, (list, tuple)):
            pending.extend(node)
            continue
        if not isinstance(node, airspeed._Element):
            continue
        if isinstance(node, airspeed.StringLiteral):
            literal = node.my_text().strip()[1:-1]
            node.value = literal
            if isinstance(node, airspeed.InterpolatedStringLiteral):
                node.block = airspeed.Block(node.filename, literal, 0)
            pending.append(getattr(node, "block", None))
            continue
        pending.extend(value for key, value in vars(node).items() if key != "_full_text")
