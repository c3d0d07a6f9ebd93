"""The result codes of the Sense API, and the project's own codes below -100."""

from __future__ import annotations

import enum


class ResultCode(enum.IntEnum):
    """Sense result codes (row n of the reference's table is -n) and project codes.

    Project codes are below -100 so they can never collide with a Sense code; each one's
    description tells the operator or installer what to do.
    """

    OK = 0
    NOT_IMPLEMENTED = -1
    NO_DEVICE = -2
    ERROR_HISTORICAL_IMAGE = -3
    INVALID_TIMESTAMP = -4
    ERROR_LIVE_IMAGE = -5
    ERROR_HISTORICAL_DATA = -6
    PRESET_OUT_OF_RANGE = -7
    NO_FACER = -8
    NO_RECORD = -9
    NOT_ENOUGH_PARAMETERS = -10
    NO_IMAGE = -11
    NO_DIVA = -12
    NO_MONITOR = -13
    NO_LAYOUT = -14
    NO_PANEL = -15
    NO_MULTILAYOUT = -16
    NO_SERVER = -17
    GENERAL_ERROR = -18
    NO_DOME = -19
    NO_CARR = -20
    DEVICE_NOT_ACTIVE = -21
    VALUE_OUT_OF_RANGE = -22
    EMPTY_VALUE = -23
    INVALID_ACTION = -24
    NO_MACRO = -25
    ACTION_NAME_DOES_NOT_EXIST = -26
    NOT_A_DIVA_CLIENT = -28
    DEVICE_CONNECTION_LOST = -53

    # Project codes.
    STANDBY_SERVER = -101
    UID_REQUIRED = -102
    IN_DOUBT = -103
    NOT_AUTHORIZED = -104
    UID_CONFLICT = -105
    INVALID_UID = -106
    STALE_SERVER = -107
    NO_ACTIVE_SERVER = -108
    FEED_GAP = -109
    UPSTREAM_FAILED = -110
    BAD_REQUEST = -111
    RATE_LIMITED = -112
    COORDINATION_UNAVAILABLE = -113
    EXPIRED = -114
    PTZ_IN_USE = -115
    ALARM_STATE = -116
    TOUR_STATE = -117

    @property
    def label(self) -> str:
        return _LABELS.get(self, self.name.replace("_", " ").capitalize())


_LABELS: dict[ResultCode, str] = {
    ResultCode.OK: "Ok",
    ResultCode.NO_FACER: "No FaceR",
    ResultCode.NO_DIVA: "No Diva",
    ResultCode.NO_MULTILAYOUT: "No multiLayout",
    ResultCode.NO_CARR: "No CarR",
    ResultCode.VALUE_OUT_OF_RANGE: "Value is out of range",
    ResultCode.EMPTY_VALUE: "An empty value is not allowed",
    ResultCode.NOT_A_DIVA_CLIENT: "Not a Diva client",
    ResultCode.STANDBY_SERVER: "Standby server",
    ResultCode.UID_REQUIRED: "UID required",
    ResultCode.IN_DOUBT: "Action in doubt",
    ResultCode.UID_CONFLICT: "UID reused with other parameters",
    ResultCode.INVALID_UID: "Invalid UID",
    ResultCode.COORDINATION_UNAVAILABLE: "etcd unavailable",
    ResultCode.EXPIRED: "Not executed in time",
    ResultCode.PTZ_IN_USE: "PTZ camera in use by another console",
    ResultCode.ALARM_STATE: "Unknown or closed alarm",
    ResultCode.TOUR_STATE: "Tour not in a state for this",
}


def describe(code: int) -> str:
    """A short human name for any code, known or not."""
    try:
        return ResultCode(code).label
    except ValueError:
        return f"Result code {code}"
