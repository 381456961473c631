"""Names a package exports, imported on first use (PEP 562): `import emoalign.text.labels` or
`emoalign --help` then never pays for torch through a package's `__init__`."""

from __future__ import annotations

from importlib import import_module


def exports(package: str, where: dict[str, str]):
    """`__getattr__`, `__dir__` and `__all__` for `package`, whose name `n` lives in its
    submodule `where[n]`."""
    def __getattr__(name: str):
        if name in where:
            value = getattr(import_module(f"{package}.{where[name]}"), name)
            setattr(import_module(package), name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(vars(import_module(package))) | set(where))

    return __getattr__, __dir__, sorted(where)
