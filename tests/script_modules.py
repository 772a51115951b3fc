"""The scripts under test, loaded from their files as modules (scripts/ is not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str, suffix: str = "under_test") -> ModuleType:
    """``scripts/NAME.py`` as a module registered as ``NAME_SUFFIX`` (dataclasses look their module
    up in ``sys.modules`` while the class is built)."""
    spec = importlib.util.spec_from_file_location(f"{name}_{suffix}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
