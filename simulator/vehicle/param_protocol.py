"""The MAVLink parameter microservice: list, read and set PX4's parameters."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pymavlink.dialects.v20 import common as M  # noqa: N812

from .link import Link
from .params import ParamStore, decode_value, encode_value
from .view import SEVERITY_CRITICAL


class ParamProtocol:
    """PARAM_* messages for one vehicle; a change is broadcast on every link, as PX4 does."""

    def __init__(
        self,
        params: ParamStore,
        sysid: int,
        announce: Callable[[int, str], None],
        send_all: Callable[[Any], None],
    ) -> None:
        self._params = params
        self._sysid = sysid
        self._announce = announce
        self._send_all = send_all

    def _value(self, name: str) -> Any:
        params = self._params
        spec = params.spec(name)
        assert spec is not None
        return M.MAVLink_param_value_message(
            name.encode(),
            encode_value(spec, params[name]),
            int(spec.type),
            len(params),
            params.index_of(name),
        )

    def handle(self, link: Link, msg: Any) -> None:
        """One PARAM_* message."""
        params = self._params
        mtype = msg.get_type()
        if getattr(msg, "target_system", self._sysid) not in (self._sysid, 0):
            return
        if mtype == "PARAM_REQUEST_LIST":
            for i in range(len(params)):
                spec = params.by_index(i)
                if spec is not None:
                    link.send(self._value(spec.name))
        elif mtype == "PARAM_REQUEST_READ":
            if msg.param_index >= 0:
                spec = params.by_index(msg.param_index)
            else:
                spec = params.spec(_param_name(msg.param_id))
            if spec is not None:
                link.send(self._value(spec.name))
        elif mtype == "PARAM_SET":
            name = _param_name(msg.param_id)
            spec = params.spec(name)
            if spec is None or not math.isfinite(msg.param_value) and spec.type != 6:
                self._announce(
                    SEVERITY_CRITICAL,
                    f"[pm] unknown param: {name}"
                    if spec is None
                    else f"[pm] invalid value: {name}",
                )
                return
            params.set(name, decode_value(spec, msg.param_value))
            self._send_all(self._value(name))


def _param_name(raw: Any) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode(errors="replace")
    return str(raw).split("\0", 1)[0]
