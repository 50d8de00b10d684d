"""Run configurations (YAML): which scenarios run, with which resources; every error names file:line.

```yaml
name: ci
extends: standard_resources.yaml     # optional: resources (and defaults) from another config
speedup: 20
resources:
  fleet: {resource_type: SimFleet, specification: {...}}
scenarios:
  - scenario: out_of_range_refusal   # a name under simulator.scenarios.standard, module.Class, or a .py path
    timeout_s: 120
    resources: {weather: windy}      # optional: constructor parameter -> resource name
```
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simulator.scenarios.errors import (
    ConfigurationError,
    MissingResourceError,
    UnknownResourceError,
    UnknownScenarioError,
)
from simulator.scenarios.framework import Scenario
from simulator.scenarios.resources import RESOURCE_TYPES

CONFIG_DIR = Path(__file__).parent / "configs"
STANDARD_PACKAGE = "simulator.scenarios.standard"
STANDARD_DIR = Path(__file__).parent / "standard"
DEFAULT_RESOURCES = CONFIG_DIR / "standard_resources.yaml"
_TOP_KEYS = {"name", "description", "extends", "speedup", "resources", "scenarios"}
_RESOURCE_KEYS = {"resource_type", "specification"}
_ENTRY_KEYS = {"scenario", "timeout_s", "resources"}


class _LineDict(dict[str, Any]):
    def __init__(self, *args: Any, lines: dict[str, int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: dict[str, int] = lines or {}


class _LineList(list[Any]):
    def __init__(self, *args: Any, lines: list[int] | None = None) -> None:
        super().__init__(*args)
        self.lines: list[int] = lines or []


class _Loader(yaml.SafeLoader):
    """Remembers the line of every mapping key and list item."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    result = _LineDict()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> _LineList:
    result = _LineList(loader.construct_object(n, deep=True) for n in node.value)
    result.lines = [n.start_mark.line + 1 for n in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


@dataclass(frozen=True, slots=True)
class ResourceDecl:
    """A resource as declared in a config."""

    name: str
    type_name: str
    specification: dict[str, Any]
    where: str


@dataclass(frozen=True, slots=True)
class ScenarioEntry:
    """One scenario to run, with its constructor parameter -> resource name wiring."""

    scenario_type: type[Scenario]
    timeout_s: float
    wiring: dict[str, str]
    where: str


@dataclass(slots=True)
class RunPlan:
    """A parsed configuration."""

    name: str
    path: Path | None
    speedup: float
    resources: dict[str, ResourceDecl] = field(default_factory=dict)
    scenarios: list[ScenarioEntry] = field(default_factory=list)


def _load_yaml(path: Path) -> _LineDict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read: {exc}") from exc
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigurationError(f"{where}: not valid YAML: {problem}") from None
    if not isinstance(data, _LineDict):
        raise ConfigurationError(f"{path}:1: a configuration must be a YAML mapping")
    return data


def _unknown_keys(data: _LineDict, allowed: set[str], path: Path, what: str) -> None:
    for key in data:
        if key not in allowed:
            raise ConfigurationError(
                f"{path}:{data.lines[key]}: unknown key {key!r} in {what}; allowed: {sorted(allowed)}"
            )


def load_config(path: Path, _seen: tuple[Path, ...] = ()) -> RunPlan:
    """Parse and validate a run configuration (scenarios resolved, resources and wiring checked)."""
    path = path.resolve()
    if path in _seen:
        raise ConfigurationError(f"{path}: 'extends' loops back to itself")
    data = _load_yaml(path)
    _unknown_keys(data, _TOP_KEYS, path, "the configuration")
    plan = RunPlan(name=str(data.get("name", path.stem)), path=path, speedup=20.0)
    if "extends" in data:
        base = load_config(path.parent / str(data["extends"]), (*_seen, path))
        plan.resources.update(base.resources)
        plan.speedup = base.speedup
    if "speedup" in data:
        try:
            plan.speedup = float(data["speedup"])
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"{path}:{data.lines['speedup']}: speedup must be a number"
            ) from None
    resources = data.get("resources") or _LineDict(lines={})
    if not isinstance(resources, _LineDict):
        raise ConfigurationError(f"{path}:{data.lines['resources']}: resources must be a mapping")
    for name, decl in resources.items():
        line = resources.lines[name]
        where = f"{path}:{line}"
        if not isinstance(decl, _LineDict):
            raise ConfigurationError(f"{where}: resource {name!r} must be a mapping")
        _unknown_keys(decl, _RESOURCE_KEYS, path, f"resource {name!r}")
        type_name = str(decl.get("resource_type", ""))
        if type_name not in RESOURCE_TYPES:
            type_line = decl.lines.get("resource_type", line)
            raise UnknownResourceError(
                f"{path}:{type_line}: resource {name!r} has unknown resource_type {type_name!r}; "
                f"known: {sorted(RESOURCE_TYPES)}"
            )
        spec = decl.get("specification") or {}
        if not isinstance(spec, dict):
            raise ConfigurationError(f"{where}: specification of {name!r} must be a mapping")
        plan.resources[str(name)] = ResourceDecl(str(name), type_name, _plain(spec), where)
    entries = data.get("scenarios") or _LineList()
    if not isinstance(entries, _LineList):
        raise ConfigurationError(f"{path}:{data.lines['scenarios']}: scenarios must be a list")
    for index, entry in enumerate(entries):
        where = f"{path}:{entries.lines[index]}"
        if isinstance(entry, str):
            entry = _LineDict(scenario=entry, lines={"scenario": entries.lines[index]})
        if not isinstance(entry, _LineDict):
            raise ConfigurationError(f"{where}: a scenario entry must be a name or a mapping")
        _unknown_keys(entry, _ENTRY_KEYS, path, "a scenario entry")
        if "scenario" not in entry:
            raise ConfigurationError(f"{where}: scenario entry without 'scenario'")
        try:
            scenario_type = resolve_scenario(str(entry["scenario"]), base_dir=path.parent)
        except UnknownScenarioError as exc:
            raise UnknownScenarioError(f"{where}: {exc}") from None
        timeout = entry.get("timeout_s", scenario_type.default_timeout_s)
        wiring = entry.get("resources") or {}
        if not isinstance(wiring, dict):
            raise ConfigurationError(f"{where}: 'resources' must map parameter -> resource name")
        plan.scenarios.append(
            ScenarioEntry(
                scenario_type, float(timeout), {str(k): str(v) for k, v in wiring.items()}, where
            )
        )
    validate_plan(plan)
    return plan


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def scenario_parameters(scenario_type: type[Scenario]) -> list[str]:
    """Constructor parameter names (the resources the scenario needs)."""
    signature = inspect.signature(scenario_type.__init__)
    return [
        name
        for name, p in signature.parameters.items()
        if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def wiring_for(entry: ScenarioEntry) -> dict[str, str]:
    """Parameter -> resource name: the entry's wiring, else the scenario's default, else the same."""
    defaults = entry.scenario_type.default_resources
    return {
        p: entry.wiring.get(p, defaults.get(p, p)) for p in scenario_parameters(entry.scenario_type)
    }


def required_resources(plan: RunPlan, entry: ScenarioEntry) -> list[str]:
    """Every resource the entry needs, dependencies included, in start order."""
    order: list[str] = []

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in chain:
            raise ConfigurationError(f"resources reference each other in a loop: {chain + (name,)}")
        decl = plan.resources[name]
        spec_type = RESOURCE_TYPES[decl.type_name]
        for field_name in spec_type.references:
            ref = decl.specification.get(field_name)
            if ref:
                if ref not in plan.resources:
                    raise UnknownResourceError(
                        f"{decl.where}: resource {name!r} references unknown resource {ref!r}"
                    )
                visit(str(ref), (*chain, name))
        order.append(name)

    for resource_name in wiring_for(entry).values():
        visit(resource_name, ())
    return order


def validate_plan(plan: RunPlan) -> None:
    """Every scenario's parameters are provided and every reference exists."""
    for entry in plan.scenarios:
        for param, resource_name in wiring_for(entry).items():
            if resource_name not in plan.resources:
                raise MissingResourceError(
                    f"{entry.where}: scenario {entry.scenario_type.type_name()} needs resource "
                    f"{param!r} (as {resource_name!r}), which the configuration does not declare; "
                    f"declared: {sorted(plan.resources)}"
                )
        for param in [*entry.wiring, *entry.scenario_type.default_resources]:
            if param not in scenario_parameters(entry.scenario_type):
                raise UnknownResourceError(
                    f"{entry.where}: scenario {entry.scenario_type.type_name()} has no resource "
                    f"parameter {param!r}"
                )
        required_resources(plan, entry)


def resolve_scenario(name: str, base_dir: Path | None = None) -> type[Scenario]:
    """A scenario class from a standard name, `module[.Class]`, or a path to a `.py` file."""
    if name.endswith(".py"):
        candidate = Path(name)
        if not candidate.is_absolute() and base_dir is not None and not candidate.exists():
            candidate = base_dir / candidate
        return _from_file(candidate)
    module_name = name if "." in name else f"{STANDARD_PACKAGE}.{name}"
    class_name: str | None = None
    module = _import(module_name)
    if module is None and "." in name:
        module_name, _, class_name = name.rpartition(".")
        module = _import(module_name)
    if module is None:
        known = ", ".join(standard_scenario_names())
        raise UnknownScenarioError(f"unknown scenario {name!r}; standard scenarios: {known}")
    return _scenario_class(module, class_name, name)


def _import(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            return None
        raise


def _from_file(path: Path) -> type[Scenario]:
    if not path.is_file():
        raise UnknownScenarioError(f"scenario file {path} does not exist")
    module_name = f"_scenario_{path.stem}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UnknownScenarioError(f"cannot load scenario file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return _scenario_class(module, None, str(path))


def _scenario_class(module: Any, class_name: str | None, name: str) -> type[Scenario]:
    classes = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Scenario)
        and obj is not Scenario
        and obj.__module__ == module.__name__
    ]
    if class_name is not None:
        classes = [c for c in classes if c.__name__ == class_name]
    if len(classes) != 1:
        raise UnknownScenarioError(
            f"{name!r} must hold exactly one Scenario subclass, found {[c.__name__ for c in classes]}"
        )
    return classes[0]


def standard_scenario_names() -> list[str]:
    """Names of the standard suite (every `.py` with a `.md` beside it)."""
    return sorted(p.stem for p in STANDARD_DIR.glob("*.py") if p.with_suffix(".md").is_file())


def plan_for_scenarios(names: list[str], resources_config: Path = DEFAULT_RESOURCES) -> RunPlan:
    """A plan running the named scenarios with the standard resources."""
    plan = load_config(resources_config)
    plan.name = "+".join(Path(n).stem for n in names)
    plan.path = None
    for name in names:
        scenario_type = resolve_scenario(name)
        plan.scenarios.append(
            ScenarioEntry(scenario_type, scenario_type.default_timeout_s, {}, f"argument {name!r}")
        )
    validate_plan(plan)
    return plan
