"""PX4 parameters that drive this vehicle's behaviour, with PX4's defaults and bytewise PARAM_VALUE encoding."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum


class ParamType(IntEnum):
    """MAV_PARAM_TYPE values PX4 uses."""

    INT32 = 6
    REAL32 = 9


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter: name, type and PX4 default."""

    name: str
    type: ParamType
    default: float


_I, _F = ParamType.INT32, ParamType.REAL32

# Defaults from PX4's *_params.yaml / *_params.c (navigator, commander, mc_pos_control, flight tasks,
# land detector, battery, geofence) and the SIH quadrotor (simulator_sih) the reference flights used.
PX4_PARAMS: tuple[ParamSpec, ...] = tuple(
    sorted(
        (
            ParamSpec("BAT_CRIT_THR", _F, 0.07),
            ParamSpec("BAT_EMERGEN_THR", _F, 0.05),
            ParamSpec("BAT_LOW_THR", _F, 0.15),
            ParamSpec("COM_DISARM_LAND", _F, 2.0),
            ParamSpec("COM_DISARM_PRFLT", _F, 10.0),
            ParamSpec("COM_DL_LOSS_T", _I, 10),
            ParamSpec("COM_FAIL_ACT_T", _F, 5.0),
            ParamSpec("COM_HOME_EN", _I, 1),
            ParamSpec("COM_LOW_BAT_ACT", _I, 0),
            ParamSpec("COM_SPOOLUP_TIME", _F, 1.0),
            ParamSpec("GF_ACTION", _I, 2),
            ParamSpec("GF_MAX_HOR_DIST", _F, 0.0),
            ParamSpec("GF_MAX_VER_DIST", _F, 0.0),
            ParamSpec("LNDMC_TRIG_TIME", _F, 1.0),
            ParamSpec("MAV_SYS_ID", _I, 1),
            ParamSpec("MAV_TYPE", _I, 2),
            ParamSpec("MIS_TAKEOFF_ALT", _F, 2.5),
            ParamSpec("MIS_YAW_ERR", _F, 12.0),
            ParamSpec("MIS_YAW_TMT", _F, -1.0),
            ParamSpec("MPC_ACC_DOWN_MAX", _F, 3.0),
            ParamSpec("MPC_ACC_HOR", _F, 3.0),
            ParamSpec("MPC_ACC_HOR_MAX", _F, 5.0),
            ParamSpec("MPC_ACC_UP_MAX", _F, 4.0),
            ParamSpec("MPC_JERK_AUTO", _F, 4.0),
            ParamSpec("MPC_LAND_ALT1", _F, 10.0),
            ParamSpec("MPC_LAND_ALT2", _F, 5.0),
            ParamSpec("MPC_LAND_ALT3", _F, 1.0),
            ParamSpec("MPC_LAND_CRWL", _F, 0.3),
            ParamSpec("MPC_LAND_SPEED", _F, 0.7),
            ParamSpec("MPC_TILTMAX_AIR", _F, 45.0),
            ParamSpec("MPC_TKO_RAMP_T", _F, 3.0),
            ParamSpec("MPC_TKO_SPEED", _F, 1.5),
            ParamSpec("MPC_XY_CRUISE", _F, 5.0),
            ParamSpec("MPC_XY_ERR_MAX", _F, 2.0),
            ParamSpec("MPC_XY_P", _F, 0.95),
            ParamSpec("MPC_XY_TRAJ_P", _F, 0.5),
            ParamSpec("MPC_XY_VEL_I_ACC", _F, 0.4),
            ParamSpec("MPC_XY_VEL_MAX", _F, 12.0),
            ParamSpec("MPC_XY_VEL_P_ACC", _F, 1.8),
            ParamSpec("MPC_YAWRAUTO_MAX", _F, 60.0),
            ParamSpec("MPC_Z_V_AUTO_DN", _F, 1.5),
            ParamSpec("MPC_Z_V_AUTO_UP", _F, 3.0),
            ParamSpec("MPC_Z_VEL_MAX_DN", _F, 1.5),
            ParamSpec("MPC_Z_VEL_MAX_UP", _F, 3.0),
            ParamSpec("MPC_Z_P", _F, 1.0),
            ParamSpec("MPC_Z_VEL_P_ACC", _F, 4.0),
            ParamSpec("MPC_Z_VEL_I_ACC", _F, 2.0),
            ParamSpec("NAV_ACC_RAD", _F, 2.0),
            ParamSpec("NAV_DLL_ACT", _I, 0),
            ParamSpec("NAV_MC_ALT_RAD", _F, 0.8),
            ParamSpec("RTL_DESCEND_ALT", _F, 10.0),
            ParamSpec("RTL_LAND_DELAY", _F, 0.0),
            ParamSpec("RTL_RETURN_ALT", _F, 30.0),
            ParamSpec("RTL_TYPE", _I, 0),
            ParamSpec("SIH_KDV", _F, 1.0),
            ParamSpec("SIH_MASS", _F, 1.0),
        ),
        key=lambda p: p.name,
    )
)

_BY_NAME = {p.name: p for p in PX4_PARAMS}


def encode_value(spec: ParamSpec, value: float) -> float:
    """The float PARAM_VALUE carries: int32 bits copied bytewise into the float, as PX4 does."""
    if spec.type is ParamType.INT32:
        return float(struct.unpack("<f", struct.pack("<i", int(value)))[0])
    return float(value)


def decode_value(spec: ParamSpec, wire: float) -> float:
    """The value a PARAM_SET float carries for `spec` (bytewise for INT32)."""
    if spec.type is ParamType.INT32:
        return float(struct.unpack("<i", struct.pack("<f", wire))[0])
    return float(wire)


class ParamStore:
    """The vehicle's parameter values, indexed as PX4 lists them (sorted by name)."""

    def __init__(self, overrides: dict[str, float] | None = None) -> None:
        self._values: dict[str, float] = {p.name: float(p.default) for p in PX4_PARAMS}
        #: Bumped on every set, so derived settings (the flight tuning) are rebuilt only on change.
        self.version = 0
        for name, value in (overrides or {}).items():
            self.set(name, value)

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def spec(self, name: str) -> ParamSpec | None:
        """The spec of `name`, or None if this vehicle has no such parameter."""
        return _BY_NAME.get(name)

    def set(self, name: str, value: float) -> None:
        """Set `name` (KeyError if unknown); INT32 values are rounded."""
        spec = _BY_NAME[name]
        self._values[name] = float(round(value)) if spec.type is ParamType.INT32 else float(value)
        self.version += 1

    def index_of(self, name: str) -> int:
        """Position of `name` in the parameter list."""
        return PX4_PARAMS.index(_BY_NAME[name])

    def by_index(self, index: int) -> ParamSpec | None:
        """The spec at list position `index`, or None."""
        return PX4_PARAMS[index] if 0 <= index < len(PX4_PARAMS) else None

    def __len__(self) -> int:
        return len(PX4_PARAMS)
