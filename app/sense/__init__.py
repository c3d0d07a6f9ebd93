"""The Sense API vocabulary: command catalogue, request encoding, XML results, result codes. No I/O."""

from .catalogue import Command, Kind, classify, lookup
from .codes import ResultCode, describe
from .errors import SenseError
from .query import CommandRequest, decode, encode
from .xml import Result, XmlError, el, error_xml, fields, parse_result, parse_xml, result_xml, to_bytes

__all__ = [
    "Command",
    "CommandRequest",
    "Kind",
    "Result",
    "ResultCode",
    "SenseError",
    "XmlError",
    "classify",
    "decode",
    "describe",
    "el",
    "encode",
    "error_xml",
    "fields",
    "lookup",
    "parse_result",
    "parse_xml",
    "result_xml",
    "to_bytes",
]
