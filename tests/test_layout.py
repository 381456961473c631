"""The package's folders show the architecture (docs/architecture.md): lower layers never
import higher ones, there are no import circles, only the web folder imports gradio, every
module stays under 400 lines, and the public imports keep working. Imports inside functions
count too: a circle through a lazy import is still a circle."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "emoalign"
MAX_LINES = 400
# the layer of each folder (and of the top-level modules); a module may import its own layer
# (but not a sibling folder of the same layer) and every layer below it
LAYERS = {"paths": 0, "cache": 0, "digest": 0, "lazy": 0,
          "audio": 1, "text": 1,
          "safety": 2, "answer": 2,
          "learn": 3, "library": 3,
          "web": 4, "commands": 4, "cli": 5, "": 6}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every emoalign module `name` imports, at the top or inside a function."""
    tree = ast.parse(path.read_text())
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                full = f"{module}.{alias.name}"
                found.add(full if full in known else module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in known and m != name}


def part(module: str) -> str:
    """The folder (or top-level module) a module belongs to: its layer's key."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


GRAPH = {name: imports_of(name, path, set(modules())) for name, path in modules().items()}


def test_every_module_has_a_layer():
    assert {part(m) for m in GRAPH} <= set(LAYERS), {part(m) for m in GRAPH} - set(LAYERS)


def test_lower_layers_never_import_higher_ones():
    wrong = [f"{a} -> {b}" for a, targets in GRAPH.items() for b in targets
             if part(a) and LAYERS[part(b)] > LAYERS[part(a)]]
    assert not wrong, wrong


def test_folders_of_one_layer_do_not_import_each_other():
    wrong = [f"{a} -> {b}" for a, targets in GRAPH.items() for b in targets
             if part(a) != part(b) and part(a) and LAYERS[part(b)] == LAYERS[part(a)]]
    assert not wrong, wrong


def test_no_import_circles():
    """Depth-first search for a back edge over the module graph (lazy imports included), and
    over the graph of folders."""
    def cycle(graph: dict[str, set[str]]) -> list[str] | None:
        state, stack = {}, []

        def visit(node):
            state[node] = "open"
            stack.append(node)
            for nxt in sorted(graph.get(node, ())):
                if state.get(nxt) == "open":
                    return stack[stack.index(nxt):] + [nxt]
                if nxt not in state and (found := visit(nxt)):
                    return found
            state[node] = "done"
            stack.pop()
            return None
        for node in sorted(graph):
            if node not in state and (found := visit(node)):
                return found
        return None

    assert cycle(GRAPH) is None, " -> ".join(cycle(GRAPH))
    folders: dict[str, set[str]] = {}
    for a, targets in GRAPH.items():
        folders.setdefault(part(a), set()).update(part(b) for b in targets if part(b) != part(a))
    folders.pop("", None)  # the package's __init__ names every folder, lazily
    assert cycle(folders) is None, " -> ".join(cycle(folders))


def test_only_the_web_folder_imports_gradio():
    users = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            if any(n.split(".")[0] == "gradio" for n in names):
                users.append(name)
    assert users and all(part(u) == "web" for u in users), users


def test_no_module_over_400_lines():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_every_folder_says_what_it_is_and_what_it_may_import():
    for folder in (p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()):
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text()))
        assert doc and "import" in doc, folder.name


@pytest.mark.parametrize("name", ["EmotionPipeline", "Prediction", "SongAnalysis", "load_audio",
                                  "load_encoder", "load_label_set", "load_adapter", "Library"])
def test_public_names_resolve(name):
    import emoalign
    assert getattr(emoalign, name).__name__ == name
    assert name in dir(emoalign)


def test_folder_exports_resolve():
    for folder in ("audio", "text", "answer", "learn", "library"):
        package = importlib.import_module(f"emoalign.{folder}")
        for name in package.__all__:
            assert getattr(package, name) is not None, (folder, name)
    with pytest.raises(AttributeError):
        importlib.import_module("emoalign.text").no_such_name


def test_light_imports_stay_light():
    """The CLI's help and the library's store do not pay for torch or gradio."""
    code = ("import sys, emoalign.cli, emoalign.library, emoalign.text.labels;"
            "from emoalign.library import Library;"
            "print(sorted({'torch', 'gradio'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=PACKAGE.parent, check=True).stdout
    assert out.strip() == "[]"
