"""Parse and build Sense XML answers (`<result errorcode="N">...</result>`).

Parsing is case-insensitive (tags and attribute names are folded to lower case), ignores extra tags and
attributes, and goes through defusedxml: no DTDs, no entity expansion, whatever the network sends.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from .codes import ResultCode, describe
from .errors import SenseError

Element = ET.Element
MAX_XML_BYTES = 8 * 1024 * 1024
MAX_XML_DEPTH = 64  # Sense answers nest about 8 deep
_DECL = b'<?xml version="1.0" encoding="UTF-8"?>'


class XmlError(SenseError):
    """The bytes are not a usable Sense XML answer."""

    def __init__(self, description: str) -> None:
        super().__init__(ResultCode.UPSTREAM_FAILED, description)


def parse_xml(data: bytes | str, *, max_bytes: int = MAX_XML_BYTES) -> Element:
    """Parse untrusted XML into an element tree with lower-case tags and attribute names."""
    if len(data) > max_bytes:
        raise XmlError(f"answer is {len(data)} bytes; at most {max_bytes} are read")
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise XmlError(f"answer uses forbidden XML features ({type(exc).__name__})") from None
    except (ET.ParseError, ValueError) as exc:
        raise XmlError(f"answer is not well-formed XML ({exc})") from None
    except RecursionError:
        raise XmlError("answer is nested too deeply") from None
    if not isinstance(root, ET.Element):
        raise XmlError("answer is not an XML element")
    stack = [(root, 1)]  # depth-first without recursion: a deep tree must not reach Python's recursion limit
    while stack:
        node, depth = stack.pop()
        if depth > MAX_XML_DEPTH:
            raise XmlError(f"answer is nested more than {MAX_XML_DEPTH} levels deep")
        node.tag = str(node.tag).lower()
        if node.attrib:
            node.attrib = {k.lower(): v for k, v in node.attrib.items()}
        stack.extend((child, depth + 1) for child in node)
    return root


@dataclass
class Result:
    """A decoded `<result>`: its code, its description and the whole element for the data."""

    errorcode: int
    description: str
    root: Element

    @property
    def ok(self) -> bool:
        return self.errorcode >= 0

    def text(self, path: str, default: str = "") -> str:
        found = self.root.findtext(path.lower())
        return default if found is None else found.strip()

    def message(self) -> str:
        """What to tell a person: the description, or the code's name."""
        return self.description or describe(self.errorcode)


def parse_result(data: bytes | str, *, max_bytes: int = MAX_XML_BYTES) -> Result:
    root = parse_xml(data, max_bytes=max_bytes)
    if root.tag != "result":
        raise XmlError(f"answer is <{root.tag[:40]}>, not <result>")
    raw = root.get("errorcode")
    if raw is None:
        raise XmlError("<result> has no errorcode attribute")
    try:
        code = int(raw)
    except ValueError:
        raise XmlError(f"errorcode {raw[:20]!r} is not a number") from None
    desc = root.findtext("description") or ""
    return Result(code, desc.strip(), root)


def el(tag: str, text: object = None, *children: Element, **attrs: object) -> Element:
    """Build an element: el("divas", None, child, count=2). Text and attributes are turned into strings."""
    node = ET.Element(tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        node.text = str(text)
    node.extend(children)
    return node


def fields(tag: str, values: dict[str, object], *children: Element) -> Element:
    """An element whose children are simple text fields: fields("diva", {"divaid": 1, "name": "x"})."""
    return el(tag, None, *(el(k, "" if v is None else v) for k, v in values.items()), *children)


def to_bytes(root: Element) -> bytes:
    return _DECL + ET.tostring(root, encoding="unicode").encode("utf-8")


def result_xml(code: int, description: str | None = None, *children: Element) -> bytes:
    root = el("result", None, errorcode=int(code))
    if description:
        root.append(el("description", description))
    root.extend(children)
    return to_bytes(root)


def error_xml(exc: SenseError) -> bytes:
    return result_xml(exc.code, exc.description)
