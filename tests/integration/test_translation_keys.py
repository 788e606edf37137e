"""Every translation key the code uses exists, in English and French; every key is used.

hassfest (``script.hassfest``) is not in the ``homeassistant`` wheel, so the
rules of its translation schema that apply to WakeHub are checked here too
(:func:`test_hassfest_rules`), on strings.json, en.json and fr.json.

Keys the code uses are found by reading the code (an AST scan of the
integration, no import side effects) and services.yaml, with Home
Assistant's conventions:

* flows (``config`` for the ConfigFlow class, ``options`` for the
  OptionsFlow class, ``issues.<key>.fix_flow`` for a RepairsFlow): a step
  ``s`` exists when the class defines ``async_step_s``; a literal
  ``step_id="s"`` must be translated; ``menu_options.o`` needs
  ``async_step_o``; ``error.e`` is a literal stored in an ``errors`` dict
  (``errors[...] = "e"``, ``errors={...: "e"}``) by the class or by a module
  helper it calls, or a string a helper called for it returns
  (``errors[...] = helper(...)``, with the module tables it reads; an
  f-string it returns, ``f"shutdown_{err.reason}"``, counts for every key it
  can spell, and cannot be checked the other way); ``abort.r`` is a literal ``reason="r"``, plus the reasons Home
  Assistant raises itself: ``already_configured`` after
  ``_abort_if_unique_id_configured``, ``already_in_progress`` after
  ``async_set_unique_id`` (unless ``raise_on_progress=False``);
  ``progress.p`` is a literal ``progress_action="p"``; ``flow_title`` is shown
  only with ``title_placeholders``; ``data.f`` / ``data_description.f`` need a
  form field ``f`` (first argument of ``vol.Required``/``vol.Optional`` in
  the flow module, constants resolved through const.py);
* entities: ``entity.<platform>.<k>`` for a ``translation_key`` (keyword or
  ``_attr_translation_key``) in ``<platform>.py`` or in a class whose base is
  ``<Platform>Entity``; ``name`` unless the description says ``name=None``;
  ``state.<o>`` exactly the ``options`` of an ENUM sensor; ``state_attributes.a``
  exactly the keys its attributes function (``attributes_fn``, or
  ``extra_state_attributes``) puts in the dict it returns;
* exceptions: ``exceptions.<k>.message`` for a literal ``translation_key``
  given to an exception, or to a helper that passes its first parameter on
  as ``translation_key`` (``services._invalid``); ``translation_key=err.code``
  uses the codes of the core errors; the persistent notifications read
  ``exceptions.<k>.message`` too: literal keys handed to
  ``notifications.async_notify`` (or ``async_translate``) or the reporter's
  ``_async_notify_failure``; the logbook's ``text("k")``, and the keys an
  f-string ``text(f"k_{x}")`` (or ``async_translate(hass, f"k_{x}")``) can
  make;
  a literal assigned to a ``translation_key`` variable counts too;
* issues: a literal (or module-constant) ``translation_key`` of
  ``async_create_issue``;
* services: every action of services.yaml and each of its fields has a name
  and a description, and nothing else is translated; ``selector.<k>`` for a
  ``translation_key`` of a select selector (services.yaml or the flows), its
  options exactly the selector's options.

A failure names the key and the file, and says which way it goes.
"""

from __future__ import annotations

import ast
from functools import cache
import importlib
import json
from pathlib import Path
import re
import string
from typing import Any

from homeassistant.helpers.entity import Entity, EntityDescription
import pytest
import yaml

from custom_components.wakehub import const
from custom_components.wakehub.core import errors as core_errors

ROOT = Path(__file__).resolve().parents[2] / "custom_components" / "wakehub"
FILES = {
    "strings.json": ROOT / "strings.json",
    "en.json": ROOT / "translations" / "en.json",
    "fr.json": ROOT / "translations" / "fr.json",
}
# The Home Assistant layer; core/, channels/ and orchestrator/ translate nothing.
HA_MODULES = sorted(p for p in ROOT.glob("*.py"))
# The flows: the entry point and the package of its steps, read as one module.
FLOW_MODULES = [ROOT / "config_flow.py", *sorted((ROOT / "flows").glob("*.py"))]


# ------------------------------------------------------------------ reading


def _leaves(tree: dict[str, Any], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for key, value in tree.items():
        if isinstance(value, dict):
            found |= _leaves(value, f"{prefix}{key}.")
        else:
            found.add(f"{prefix}{key}")
    return found


@cache
def _strings(name: str) -> dict[str, Any]:
    return json.loads(FILES[name].read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@cache
def _module(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _const_value(node: ast.expr) -> str | None:
    """A string literal, or a const.py / module constant holding one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        value = getattr(const, node.id, None)
        return value if isinstance(value, str) else None
    return None


def _module_constants(module: ast.Module) -> dict[str, str]:
    found: dict[str, str] = {}
    for stmt in module.body:
        target: ast.expr | None = None
        if isinstance(stmt, ast.AnnAssign):
            target, value = stmt.target, stmt.value
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        if (
            isinstance(target, ast.Name)
            and value is not None
            and (text := _const_value(value)) is not None
        ):
            found[target.id] = text
    return found


def _resolve(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    return _const_value(node)


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _strings_in(node: ast.AST) -> set[str]:
    """Every string literal under ``node`` (docstrings included: harmless here)."""
    return {
        sub.value
        for sub in ast.walk(node)
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str)
    }


def _pattern(text: ast.JoinedStr) -> str:
    """An f-string as a pattern: ``f"shutdown_{err.reason}"`` -> ``re:shutdown_\\w+``."""
    parts = [
        re.escape(str(part.value)) if isinstance(part, ast.Constant) else r"\w+"
        for part in text.values
    ]
    return "re:" + "".join(parts)


def _matches(key: str, used: set[str]) -> bool:
    """``key`` is in ``used``, or matches one of its ``re:`` patterns."""
    return key in used or any(
        u.startswith("re:") and re.fullmatch(u[3:], key) for u in used
    )


def _classes(module: ast.Module) -> dict[str, ast.ClassDef]:
    return {c.name: c for c in module.body if isinstance(c, ast.ClassDef)}


def _bases(cls: ast.ClassDef) -> set[str]:
    return {
        base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
        for base in cls.bases
    }


@cache
def _flow_package() -> ast.Module:
    """config_flow.py and flows/*.py as one module (their names do not clash)."""
    body: list[ast.stmt] = []
    for path in FLOW_MODULES:
        body.extend(_module(path).body)
    return ast.Module(body=body, type_ignores=[])


def _with_mixins(module: ast.Module, cls: ast.ClassDef) -> ast.ClassDef:
    """A flow class with the bodies of its mixins (classes of the same module)."""
    classes = _classes(module)
    body = list(cls.body)
    for base in sorted(_bases(cls)):
        if base in classes and base != cls.name:
            body.extend(_with_mixins(module, classes[base]).body)
    return ast.ClassDef(
        name=cls.name,
        bases=cls.bases,
        keywords=[],
        body=body,
        decorator_list=[],
        type_params=[],
    )


def _flow_class_names(module: ast.Module) -> set[str]:
    """The flow classes and every mixin they are made of."""
    classes = _classes(module)
    names: set[str] = set()

    def add(cls: ast.ClassDef) -> None:
        names.add(cls.name)
        for base in _bases(cls):
            if base in classes and base not in names:
                add(classes[base])

    for base in ("ConfigFlow", "OptionsFlow"):
        for cls in _flow_leaves(module, base):
            add(cls)
    return names


def _returned_strings(function: ast.AST) -> set[str]:
    """The literals (and f-string patterns) a function returns."""
    found: set[str] = set()
    for sub in ast.walk(function):
        if isinstance(sub, ast.Return) and sub.value is not None:
            if (text := _const_value(sub.value)) is not None:
                found.add(text)
            elif isinstance(sub.value, ast.JoinedStr):
                found.add(_pattern(sub.value))
    return found


def _flow_leaves(module: ast.Module, base: str) -> list[ast.ClassDef]:
    """The flow classes made of ``base`` that no other class is made of."""
    classes = _classes(module)

    def made_of(cls: ast.ClassDef) -> bool:
        return any(
            b == base or (b in classes and made_of(classes[b])) for b in _bases(cls)
        )

    used_as_base = {b for cls in classes.values() for b in _bases(cls)}
    return [
        cls for cls in classes.values() if made_of(cls) and cls.name not in used_as_base
    ]


def _raised_keys(module: ast.Module, cls: ast.ClassDef) -> set[str]:
    """The keys of the flow errors that the code a flow class reaches raises.

    A check raises ``SomethingError("key", ...)`` or
    ``InvalidInputError({field: "key"})``; the code reached is every
    module-level function, class or table of the flow package the class
    names, and what those name in turn (the other flow classes left out).
    """
    definitions: dict[str, ast.AST] = {}
    flow_classes = _flow_class_names(module)
    for stmt in module.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if stmt.name not in flow_classes:
                definitions[stmt.name] = stmt
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    definitions[target.id] = stmt
    reached: list[ast.AST] = [cls]
    seen: set[str] = set()
    while reached:
        node = reached.pop()
        for sub in ast.walk(node):
            name = (
                sub.id
                if isinstance(sub, ast.Name)
                else sub.attr
                if isinstance(sub, ast.Attribute)
                else None
            )
            if name in definitions and name not in seen:
                seen.add(name)
                reached.append(definitions[name])
    keys: set[str] = set()
    for name in seen:
        # The helpers that turn a channel error into its key, by their name:
        # what they return, and the tables they read.
        if name.endswith("error_key"):
            keys |= _returned_strings(definitions[name])
            for sub in ast.walk(definitions[name]):
                if isinstance(sub, ast.For) and isinstance(sub.iter, ast.Name):
                    keys |= _strings_in(definitions.get(sub.iter.id, ast.Pass()))
    for node in [cls, *(definitions[name] for name in seen)]:
        for sub in ast.walk(node):
            if not (
                isinstance(sub, ast.Call)
                and _call_name(sub).endswith("Error")
                and sub.args
            ):
                continue
            first = sub.args[0]
            if (text := _const_value(first)) is not None:
                keys.add(text)
            elif isinstance(first, ast.Dict):
                keys |= {t for v in first.values if (t := _const_value(v))}
    return keys


# ------------------------------------------------------------------- flows


def _flow_keys(
    module: ast.Module, cls: ast.ClassDef, prefix: str
) -> dict[str, set[str]]:
    """The keys a flow class uses, and the step ids it shows (``required``)."""
    constants = _module_constants(module)
    functions = {
        f.name: f
        for f in module.body
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    methods = {
        f.name
        for f in cls.body
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    steps = {
        m.removeprefix("async_step_") for m in methods if m.startswith("async_step_")
    }
    used: set[str] = set()
    required: set[str] = set()

    def helper_strings(name: str) -> set[str]:
        """The strings a helper returns (literals, tables it reads, helpers)."""
        function = functions.get(name)
        if function is None:
            return set()
        found: set[str] = set()
        for sub in ast.walk(function):
            if not isinstance(sub, ast.Return) or sub.value is None:
                continue
            if (text := _const_value(sub.value)) is not None:
                found.add(text)
            elif isinstance(sub.value, ast.Call):
                found |= helper_strings(_call_name(sub.value))
            elif isinstance(sub.value, ast.JoinedStr):
                found.add(_pattern(sub.value))
        for sub in ast.walk(function):
            if isinstance(sub, ast.For) and isinstance(sub.iter, ast.Name):
                for stmt in module.body:
                    targets = (
                        [stmt.target]
                        if isinstance(stmt, ast.AnnAssign)
                        else getattr(stmt, "targets", [])
                    )
                    if any(
                        isinstance(t, ast.Name) and t.id == sub.iter.id for t in targets
                    ):
                        found |= _strings_in(stmt)
        return found

    def error_literals(scope: ast.AST) -> set[str]:
        """``errors[...] = "e"`` in ``scope``, and what helpers called for it give."""
        found: set[str] = set()
        for node in ast.walk(scope):
            if not isinstance(node, ast.Assign):
                continue
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "errors"
                ):
                    if (text := _const_value(node.value)) is not None:
                        found.add(text)
                    elif isinstance(node.value, ast.Call):
                        found |= helper_strings(_call_name(node.value))
        return found

    # Module-level helpers that fill the ``errors`` dict they are given, and
    # the flow errors the checks the class reaches raise.
    errors: set[str] = _raised_keys(module, cls)
    called = {_call_name(n) for n in ast.walk(cls) if isinstance(n, ast.Call)}
    for scope in [cls, *(functions[name] for name in called & set(functions))]:
        errors |= error_literals(scope)
    for node in ast.walk(cls):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if (value := _keyword(node, "errors")) is not None and isinstance(
            value, ast.Dict
        ):
            errors |= {t for v in value.values if (t := _const_value(v))}
        if (value := _keyword(node, "step_id")) is not None and (
            step := _resolve(value, constants)
        ):
            required.add(f"{prefix}.step.{step}")
        if (value := _keyword(node, "reason")) is not None and (
            reason := _resolve(value, constants)
        ):
            required.add(f"{prefix}.abort.{reason}")
        if (value := _keyword(node, "progress_action")) is not None and (
            action := _resolve(value, constants)
        ):
            required.add(f"{prefix}.progress.{action}")
        if name == "_abort_if_unique_id_configured":
            required.add(f"{prefix}.abort.already_configured")
        if name == "async_set_unique_id":
            flag = _keyword(node, "raise_on_progress")
            if not (isinstance(flag, ast.Constant) and flag.value is False):
                required.add(f"{prefix}.abort.already_in_progress")
    # Reasons chosen in a helper and passed on (reason = "..." if ... else "...").
    for node in ast.walk(cls):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "reason" for t in node.targets
        ):
            required |= {f"{prefix}.abort.{r}" for r in _strings_in(node.value)}
    required |= {
        f"{prefix}.error.{error}"
        for error in errors
        if error and not error.startswith("re:")
    }
    used |= required
    used |= {
        f"re:{re.escape(prefix)}\\.error\\.{e[3:]}"
        for e in errors
        if e.startswith("re:")
    }
    used |= {f"{prefix}.step.{step}" for step in steps}
    if any(
        isinstance(n, ast.Constant) and n.value == "title_placeholders"
        for n in ast.walk(cls)
    ):
        used.add(f"{prefix}.flow_title")
    return {"used": used, "required": required, "steps": steps}


@cache
def _form_fields() -> set[str]:
    module = _flow_package()
    constants = _module_constants(module)
    fields: set[str] = set()
    for node in ast.walk(module):
        if (
            isinstance(node, ast.Call)
            and _call_name(node) in ("Required", "Optional")
            and node.args
            and (field := _resolve(node.args[0], constants))
        ):
            fields.add(field)
    return fields


@cache
def _flows() -> dict[str, dict[str, set[str]]]:
    flows: dict[str, dict[str, set[str]]] = {}
    module = _flow_package()
    for prefix, base in (("config", "ConfigFlow"), ("options", "OptionsFlow")):
        (cls,) = _flow_leaves(module, base)
        flows[prefix] = _flow_keys(module, _with_mixins(module, cls), prefix)
    repairs = _module(ROOT / "repairs.py")
    constants = _module_constants(repairs)
    for cls in _classes(repairs).values():
        if "RepairsFlow" in _bases(cls):
            key = constants["TRANSLATION_KEY"]
            flows[f"issues.{key}.fix_flow"] = _flow_keys(
                repairs, cls, f"issues.{key}.fix_flow"
            )
    return flows


def _flow_key_used(key: str) -> bool:
    for prefix, flow in _flows().items():
        if not key.startswith(f"{prefix}."):
            continue
        rest = key.removeprefix(f"{prefix}.").split(".")
        if rest[0] == "step":
            step, part = rest[1], rest[2] if len(rest) > 2 else ""
            if step not in flow["steps"]:
                return False
            if part in ("data", "data_description"):
                return rest[3] in _form_fields()
            if part == "menu_options":
                return rest[3] in flow["steps"]
            return True
        return _matches(key, flow["used"])
    return False


# ---------------------------------------------------------------- entities


def _attribute_keys(function: ast.AST) -> set[str]:
    """Keys of the dict an attributes function builds (top level only)."""
    keys: set[str] = set()
    for node in ast.walk(function):
        dicts: list[ast.expr] = []
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(
            node.value, ast.Dict
        ):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "attributes" for t in targets):
                dicts.append(node.value)
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Dict):
            dicts.append(node.value)
        elif (
            isinstance(node, ast.Call)
            and _call_name(node) == "update"
            and node.args
            and isinstance(node.args[0], ast.Dict)
        ):
            dicts.append(node.args[0])
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "attributes"
                    and (text := _const_value(target.slice)) is not None
                ):
                    keys.add(text)
        for found in dicts:
            keys |= {t for k in found.keys if k is not None and (t := _const_value(k))}
    return keys


def _platform_of(cls: type) -> str | None:
    """The platform of an entity (description) class: its Home Assistant base's."""
    for base in cls.__mro__:
        parts = base.__module__.split(".")
        if parts[:2] == ["homeassistant", "components"] and len(parts) > 2:
            return parts[2]
    return None


def _function_def(module: ast.Module, name: str, owner: str | None = None) -> ast.AST:
    """The definition of a function (a lambda has none: it adds no attribute)."""
    scope: list[ast.stmt] = module.body
    if owner is not None:
        scope = _classes(module)[owner].body
    return next(
        (f for f in scope if isinstance(f, ast.FunctionDef) and f.name == name),
        ast.Module(body=[], type_ignores=[]),
    )


@cache
def _entities() -> dict[str, dict[str, Any]]:
    """``entity.<platform>.<key>`` -> {"name": bool, "states": set, "attributes": set}.

    The descriptions and entity classes are read from the imported modules
    (their options are computed); the attribute keys from the code of the
    function that builds them.
    """
    found: dict[str, dict[str, Any]] = {}
    for path in HA_MODULES:
        if path.stem in ("__init__", "config_flow"):
            continue
        module = importlib.import_module(f"custom_components.wakehub.{path.stem}")
        tree = _module(path)
        for value in list(vars(module).values()):
            candidates = value if isinstance(value, (tuple, list)) else (value,)
            for item in candidates:
                if isinstance(item, EntityDescription) and item.translation_key:
                    platform = _platform_of(type(item))
                    attributes: set[str] = set()
                    function = getattr(item, "attributes_fn", None)
                    if function is not None and function.__module__ == module.__name__:
                        attributes = _attribute_keys(
                            _function_def(tree, function.__name__)
                        )
                    found[f"entity.{platform}.{item.translation_key}"] = {
                        "name": item.name is not None,
                        "states": set(getattr(item, "options", None) or ()),
                        "attributes": attributes,
                    }
                elif (
                    isinstance(item, type)
                    and issubclass(item, Entity)
                    and item.__module__ == module.__name__
                    # Home Assistant's metaclass keeps the class value here.
                    and (key := vars(item).get("__attr_translation_key"))
                ):
                    platform = _platform_of(item)
                    attributes = set()
                    if "extra_state_attributes" in vars(item):
                        attributes = _attribute_keys(
                            _function_def(tree, "extra_state_attributes", item.__name__)
                        )
                    found[f"entity.{platform}.{key}"] = {
                        "name": True,
                        "states": set(vars(item).get("__attr_options") or ()),
                        "attributes": attributes,
                    }
    return found


# -------------------------------------------------------------- exceptions


def _core_error_codes() -> set[str]:
    codes: set[str] = set()
    pending: list[type] = [core_errors.CoreError]
    while pending:
        error = pending.pop()
        codes.add(error.code)
        pending.extend(error.__subclasses__())
    return codes


@cache
def _exceptions() -> dict[str, set[str]]:
    """``required``: keys that must exist; ``used``: those plus the possible ones."""
    required: set[str] = set()
    possible: set[str] = set()
    for path in HA_MODULES:
        module = _module(path)
        constants = _module_constants(module)
        forwarders = {
            f.name
            for f in module.body
            if isinstance(f, ast.FunctionDef)
            and f.args.args
            and any(
                isinstance(n, ast.Call)
                and isinstance(v := _keyword(n, "translation_key"), ast.Name)
                and v.id == f.args.args[0].arg
                for n in ast.walk(f)
            )
        }
        for node in ast.walk(module):
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node)
            if name.endswith(("Description", "SelectorConfig")) or name in (
                "async_create_issue",
                "create_issue",
            ):
                continue
            value = _keyword(node, "translation_key")
            if value is not None and (key := _resolve(value, constants)):
                required.add(key)
            elif isinstance(value, ast.Attribute) and value.attr == "code":
                possible |= _core_error_codes()
            if (
                name in forwarders
                and node.args
                and (key := _resolve(node.args[0], constants))
            ):
                required.add(key)
            # The logbook's texts: text("key") or text(f"key_{act}").
            if name == "text" and node.args:
                if key := _const_value(node.args[0]):
                    required.add(key)
                elif isinstance(node.args[0], ast.JoinedStr):
                    pattern = "".join(
                        re.escape(str(part.value))
                        if isinstance(part, ast.Constant)
                        else r"\w+"
                        for part in node.args[0].values
                    )
                    possible |= {
                        key
                        for key in _strings("strings.json")["exceptions"]
                        if re.fullmatch(pattern, key)
                    }
            # async_translate(hass, f"cascade_error_{code}", ...): every key
            # the f-string can make.
            if (
                name == "async_translate"
                and len(node.args) > 1
                and isinstance(node.args[1], ast.JoinedStr)
            ):
                pattern = "".join(
                    re.escape(str(part.value))
                    if isinstance(part, ast.Constant)
                    else r"\w+"
                    for part in node.args[1].values
                )
                possible |= {
                    key
                    for key in _strings("strings.json")["exceptions"]
                    if re.fullmatch(pattern, key)
                }
            if name in ("_async_notify_failure", "async_notify", "async_translate"):
                for arg in node.args:
                    elements = arg.elts if isinstance(arg, ast.Tuple) else [arg]
                    required |= {t for e in elements if (t := _const_value(e))}
            if name == "get" and node.args and isinstance(node.args[0], ast.JoinedStr):
                for part in node.args[0].values:
                    if isinstance(part, ast.Constant) and (
                        match := re.fullmatch(r"(\w+)\.message", str(part.value))
                    ):
                        required.add(match.group(1))
        # Keys picked before the call: texts = ("..._title", "..."), or
        # translation_key = "..." (each branch assigns a literal).
        for node in ast.walk(module):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id in ("texts", "translation_key")
                for t in node.targets
            ):
                required |= _strings_in(node.value)
    return {"required": required, "used": required | possible}


@cache
def _issues() -> set[str]:
    keys: set[str] = set()
    for path in HA_MODULES:
        module = _module(path)
        constants = _module_constants(module)
        for node in ast.walk(module):
            if (
                isinstance(node, ast.Call)
                and _call_name(node) in ("async_create_issue", "create_issue")
                and (value := _keyword(node, "translation_key")) is not None
                and (key := _resolve(value, constants))
            ):
                keys.add(key)
    return keys


# ------------------------------------------------------- services, selectors


@cache
def _services() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "services.yaml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@cache
def _selectors() -> dict[str, set[str]]:
    """``translation_key`` -> the options of its select selector."""
    found: dict[str, set[str]] = {}
    for service in _services().values():
        for field in (service or {}).get("fields", {}).values():
            select = (field.get("selector") or {}).get("select")
            if select and "translation_key" in select:
                found[select["translation_key"]] = {
                    o if isinstance(o, str) else o["value"] for o in select["options"]
                }
    module = _flow_package()
    constants = _module_constants(module)
    for node in ast.walk(module):
        if (
            isinstance(node, ast.Call)
            and _call_name(node) == "SelectSelectorConfig"
            and (value := _keyword(node, "translation_key")) is not None
            and (key := _resolve(value, constants))
        ):
            options: set[str] = set()
            for option in ast.walk(_keyword(node, "options") or node):
                if isinstance(option, ast.Starred) and isinstance(
                    option.value, ast.Name
                ):
                    options |= set(getattr(const, option.value.id, ()))
                elif isinstance(option, (ast.Name, ast.Constant)) and (
                    text := _resolve(option, constants)
                ):
                    options.add(text)
            found[key] = options
    return found


# ------------------------------------------------------------------ checks


def _required_keys() -> dict[str, str]:
    """Every key the code needs, with where the need comes from."""
    needed: dict[str, str] = {}
    for prefix, flow in _flows().items():
        for key in flow["required"]:
            needed[key] = f"the {prefix} flow"
        for step in flow["required"]:
            if ".step." in step:
                needed.setdefault(step, f"the {prefix} flow")
    needed = {(f"{k}.title" if ".step." in k else k): v for k, v in needed.items()}
    for key, facts in _entities().items():
        if facts["name"]:
            needed[f"{key}.name"] = "an entity description"
        for state in facts["states"]:
            needed[f"{key}.state.{state}"] = "an ENUM sensor's options"
        for attribute in facts["attributes"]:
            needed[f"{key}.state_attributes.{attribute}.name"] = "an entity attribute"
    for key in _exceptions()["required"]:
        needed[f"exceptions.{key}.message"] = "a translated error or notification"
    for key in _issues():
        needed[f"issues.{key}.title"] = "a repair issue"
    for name, service in _services().items():
        needed[f"services.{name}.name"] = "services.yaml"
        needed[f"services.{name}.description"] = "services.yaml"
        for field in (service or {}).get("fields", {}):
            needed[f"services.{name}.fields.{field}.name"] = "services.yaml"
            needed[f"services.{name}.fields.{field}.description"] = "services.yaml"
    for key, options in _selectors().items():
        for option in options:
            needed[f"selector.{key}.options.{option}"] = "a select selector"
    return needed


def _is_used(key: str) -> bool:
    parts = key.split(".")
    section = parts[0]
    if section in ("config", "options") or (
        section == "issues" and len(parts) > 2 and parts[2] == "fix_flow"
    ):
        return _flow_key_used(key)
    if section == "entity":
        entity = _entities().get(".".join(parts[:3]))
        if entity is None:
            return False
        if parts[3] == "name":
            return bool(entity["name"])
        if parts[3] == "state":
            return parts[4] in entity["states"]
        if parts[3] == "state_attributes":
            return parts[4] in entity["attributes"]
        return False
    if section == "exceptions":
        return parts[1] in _exceptions()["used"]
    if section == "issues":
        return parts[1] in _issues() and parts[2] in ("title", "description")
    if section == "services":
        service = _services().get(parts[1])
        if service is None and parts[1] in _services():
            service = {}
        if service is None:
            return False
        if parts[2] in ("name", "description"):
            return True
        return parts[2] == "fields" and parts[3] in (service or {}).get("fields", {})
    if section == "selector":
        return parts[2] == "options" and parts[3] in _selectors().get(parts[1], set())
    return False


@pytest.mark.parametrize("name", list(FILES))
def test_every_key_the_code_uses_exists(name: str) -> None:
    """The code's keys are in strings.json, en.json and fr.json."""
    keys = _leaves(_strings(name))
    missing = sorted(
        f"{key} (used by {where})"
        for key, where in _required_keys().items()
        if key not in keys
        and not (
            key.endswith(".title")
            and ".step." in key
            and key[:-6] + ".description" in keys
        )
        and not (
            key.endswith(".title")
            and ".step." in key
            and any(k.startswith(key[:-6] + ".") for k in keys)
        )
    )
    assert not missing, f"add to {name}:\n  " + "\n  ".join(missing)


def test_select_selectors_are_translated() -> None:
    """Each select selector of services.yaml names its ``selector`` translations."""
    untranslated = sorted(
        f"services.yaml: {name}.{field_name}"
        for name, service in _services().items()
        for field_name, field in (service or {}).get("fields", {}).items()
        if "select" in (field.get("selector") or {})
        and "translation_key" not in field["selector"]["select"]
    )
    assert not untranslated, "give these a translation_key:\n  " + "\n  ".join(
        untranslated
    )


def test_issues_have_a_description_or_a_fix_flow() -> None:
    """hassfest: an issue has a title and a description, or a fix flow."""
    strings = _strings("strings.json")["issues"]
    for key in _issues():
        assert key in strings, f"add issues.{key} to strings.json"
        assert "title" in strings[key]
        assert ("description" in strings[key]) != ("fix_flow" in strings[key]), key


@pytest.mark.parametrize("name", list(FILES))
def test_every_key_is_used(name: str) -> None:
    """Nothing in the files is dead: each key has a use in the code."""
    unused = sorted(key for key in _leaves(_strings(name)) if not _is_used(key))
    assert not unused, (
        f"remove from {name} (or use them; the rules are in this test's docstring):\n  "
        + "\n  ".join(unused)
    )


# ------------------------------------------------------------- hassfest rules

_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")
_URL = re.compile(
    r"((https?|ftps?|mqtts?|socks5|scp)://|www\.)[a-z0-9]+([.-][a-z0-9]+)*\.[a-z]{2,5}",
    re.IGNORECASE,
)
_HTML = re.compile(r"<[a-z/][^>]*>", re.IGNORECASE)
_SINGLE_QUOTED = re.compile(r"'\{\w+\}'")
_STEP_PARTS = {
    "title",
    "description",
    "data",
    "data_description",
    "menu_options",
    "submit",
}
_FLOW_PARTS = {"step", "error", "abort", "progress", "create_entry", "flow_title"}


def _hassfest_problems(strings: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for key in sorted(_leaves(strings)):
        value = _get(strings, key)
        where = f"{key}: {value!r}"
        if not isinstance(value, str):
            problems.append(f"{where} is not a string")
            continue
        if value != value.strip():
            problems.append(f"{where} has leading or trailing spaces")
        if _URL.search(value):
            problems.append(f"{where} contains a URL: use a description placeholder")
        if _HTML.search(value):
            problems.append(f"{where} contains HTML")
        if _SINGLE_QUOTED.search(value):
            problems.append(f"{where} single-quotes a placeholder")
        fields = [f for _, f, _, _ in string.Formatter().parse(value) if f]
        if any(not f.isidentifier() for f in fields):
            problems.append(f"{where} has a placeholder that is no identifier")
        parts = key.split(".")
        if fields and parts[0] == "entity" and parts[3] != "name":
            problems.append(f"{where}: no placeholders in states and attributes")
        if fields and parts[0] == "entity" and parts[3:4] == ["state_attributes"]:
            problems.append(f"{where}: no placeholders in attribute names")
    for section in ("config", "options"):
        flow = strings.get(section, {})
        problems += [
            f"{section}.{k}: not a flow part" for k in flow if k not in _FLOW_PARTS
        ]
        for step_id, step in flow.get("step", {}).items():
            problems += [
                f"{section}.step.{step_id}.{k}: not a step part"
                for k in step
                if k not in _STEP_PARTS
            ]
            extra = set(step.get("data_description", {})) - set(step.get("data", {}))
            problems += [
                f"{section}.step.{step_id}.data_description.{k} is not in data"
                for k in sorted(extra)
            ]
    for platform, entities in strings.get("entity", {}).items():
        for key, entity in entities.items():
            for state in entity.get("state", {}):
                if not _KEY.match(state):
                    problems.append(f"entity.{platform}.{key}.state.{state}: bad key")
            for attribute in entity.get("state_attributes", {}):
                if not _KEY.match(attribute):
                    problems.append(
                        f"entity.{platform}.{key}.state_attributes.{attribute}: bad key"
                    )
            if not _KEY.match(key):
                problems.append(f"entity.{platform}.{key}: bad key")
    for key, exception in strings.get("exceptions", {}).items():
        if not re.fullmatch(r"[a-z0-9_]+", key) or set(exception) - {"message"}:
            problems.append(f"exceptions.{key}: slug key with only a message")
    for name, service in strings.get("services", {}).items():
        if not _KEY.match(name) or not {"name", "description"} <= set(service):
            problems.append(f"services.{name}: needs a name and a description")
        for field, texts in service.get("fields", {}).items():
            if not _KEY.match(field) or not {"name", "description"} <= set(texts):
                problems.append(
                    f"services.{name}.fields.{field}: needs a name and a description"
                )
    for key, selector in strings.get("selector", {}).items():
        for option in selector.get("options", {}):
            if not _KEY.match(option):
                problems.append(f"selector.{key}.options.{option}: bad key")
    return problems


def _get(tree: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        tree = tree[part]
    return tree


@pytest.mark.parametrize("name", list(FILES))
def test_hassfest_rules(name: str) -> None:
    """The rules of hassfest's translation schema that apply to WakeHub."""
    problems = _hassfest_problems(_strings(name))
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


def test_the_rules_catch_what_they_should() -> None:
    """Each hassfest rule refuses a bad file (so a pass means something)."""
    bad = {
        "config": {
            "step": {
                "user": {
                    "data": {"host": "Host"},
                    "data_description": {
                        "host": "e.g. https://nas.lan:8006",
                        "port": "Not a field",
                    },
                    "description": " '{name}' <b>",
                }
            }
        },
        "entity": {"sensor": {"status": {"state": {"On": "On {x}"}}}},
        "services": {"start": {"name": "Start"}},
    }
    problems = "\n".join(_hassfest_problems(bad))
    for expected in (
        "contains a URL",
        "is not in data",
        "leading or trailing spaces",
        "single-quotes a placeholder",
        "contains HTML",
        "no placeholders in states",
        "bad key",
        "needs a name and a description",
    ):
        assert expected in problems
