"""The two services import in one direction only (docs/conventions.md, "The shape of the house").

* ``bot/`` (Rasa server) never imports ``actions/``, ``knowledge/`` or ``desk/``: it runs in
  another environment, with another SQLAlchemy;
* ``knowledge/`` never imports ``actions/``, ``bot/`` or ``desk/``;
* ``desk/`` (the staff console, in the action server's environment) never imports ``bot/``,
  ``actions/`` or Rasa: it reaches conversations through the Rasa server's desk API;
* ``banktext/``, which both services import, imports neither service, no framework
  and no database library: the standard library, and ``opencc`` only inside functions.

Read from the source with :mod:`ast`, so nothing is imported to check it, and any
import counts, at module level or inside a function, a ``TYPE_CHECKING`` block or an
``importlib.import_module("...")`` call.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "bot": {"actions", "knowledge", "desk"},
    "knowledge": {"actions", "bot", "desk"},
    "desk": {"actions", "bot", "rasa", "rasa_sdk"},
    "banktext": {"rasa", "rasa_sdk", "sqlalchemy", "bot", "actions", "knowledge", "desk"},
}
#: what banktext may import lazily, inside a function, besides the standard library (both environments have them)
BANKTEXT_LAZY = {"opencc", "cryptography"}


def imports(source: str) -> list[tuple[str, int, bool]]:
    """Every absolute import in ``source``: (top-level package, line, whether at module level)."""
    tree = ast.parse(source)
    module_level = {id(node) for node in tree.body}
    for node in tree.body:  # imports guarded by if/try at module level still run at import time
        if isinstance(node, ast.If | ast.Try):
            module_level.update(id(child) for child in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        found += [(name.split(".")[0], node.lineno, id(node) in module_level) for name in names]
    return found


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def test_the_scanner_sees_every_kind_of_import():
    source = (
        "import actions.privacy\n"
        "from knowledge.queries import x\n"
        "from . import sibling\n"
        "try:\n    import sqlalchemy\nexcept ImportError:\n    pass\n"
        "def f():\n    import opencc\n    importlib.import_module('bot.settings')\n"
    )
    assert imports(source) == [
        ("actions", 1, True),
        ("knowledge", 2, True),
        ("sqlalchemy", 5, True),
        ("opencc", 9, False),
        ("bot", 10, False),
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_against_the_direction(package):
    modules = _modules(package)
    assert modules, f"no modules found under {package}/"
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in modules
        for name, line, _ in imports(path.read_text(encoding="utf-8"))
        if name in FORBIDDEN[package]
    ]
    assert not wrong, "\n".join(wrong)


def test_banktext_needs_only_the_standard_library():
    allowed = set(sys.stdlib_module_names) | {"banktext", "__future__"}
    wrong = []
    for path in _modules("banktext"):
        for name, line, at_module_level in imports(path.read_text(encoding="utf-8")):
            if name in allowed or (name in BANKTEXT_LAZY and not at_module_level):
                continue
            wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not wrong, "\n".join(wrong)
