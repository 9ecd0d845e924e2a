"""The package's one rule: a layer imports only from layers below it, never from a higher one or a
sibling (imports inside functions count too; ``if TYPE_CHECKING:`` imports do not).

    data, models, losses, viz, reporting  <-  methods  <-  engine, artifacts  <-  workflows  <-  cli, ui  <-  benchmarks
"""

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "da_demo"
RANKS = {
    "data": 0,
    "models": 0,
    "losses": 0,
    "viz": 0,
    "reporting": 0,
    "validators": 0,
    "methods": 1,
    "engine": 2,
    "artifacts": 2,
    "workflows": 3,
    "cli": 4,
    "ui": 4,
    "__main__": 5,
    "benchmarks": 5,
}


def part_of(module: str) -> str:
    """``da_demo.engine.trainer`` → ``engine``; the root package itself → ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every ``da_demo`` module imported anywhere in the file, with its line, outside TYPE_CHECKING blocks."""
    tree = ast.parse(path.read_text())
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(child) for statement in node.body for child in ast.walk(statement)}
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("da_demo")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("da_demo"):
                # ``from . import x`` may name a submodule: count the submodule's part
                names = (
                    [f"{target}.{alias.name}" for alias in node.names] if target == "da_demo" else [target]
                )
                found += [(node.lineno, name) for name in names]
    return found


def violations() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = part_of(module_name(path))
        for line, target in imported_modules(path):
            other = part_of(target)
            if other in ("", "__version__") or other == own:
                continue
            if own == "" or other not in RANKS or own not in RANKS:
                problems.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} {own or 'da_demo'} imports {target} "
                    "(a part the layer table does not know)"
                )
            elif RANKS[other] >= RANKS[own]:
                problems.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} {own} imports {target}: "
                    f"{other} is not below {own}"
                )
    return problems


def test_layers_import_downward_only():
    assert violations() == []


def test_every_part_of_the_package_has_a_layer():
    parts = {
        path.stem if path.is_file() else path.name
        for path in PACKAGE.iterdir()
        if (path.is_dir() and (path / "__init__.py").exists())
        or (path.suffix == ".py" and path.stem != "__init__")
    }
    assert parts <= set(RANKS), parts - set(RANKS)


def test_the_checker_sees_imports_hidden_in_functions(tmp_path, monkeypatch):
    fake = tmp_path / "da_demo"
    (fake / "engine").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "engine" / "__init__.py").write_text("")
    (fake / "engine" / "runs.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ..workflows import training\n"
        "def save():\n    from ..artifacts.checkpoints import save_checkpoint\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    problems = violations()
    assert len(problems) == 1 and "engine imports da_demo.artifacts.checkpoints" in problems[0]


#: functions allowed to be long: the Gradio layout builders, which lay a tab out component by component
LAYOUT_BUILDERS = {"build", "layout", "build_demo"}


def test_modules_and_functions_stay_readable():
    """No module over 400 lines; no function over 80 lines outside the Gradio layout builders."""
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 400:
            problems.append(f"{path.relative_to(PACKAGE.parent)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name not in LAYOUT_BUILDERS:
                length = node.end_lineno - node.lineno + 1
                if length > 80:
                    problems.append(
                        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}: {length} lines"
                    )
    assert problems == []
