#!/usr/bin/env python3
"""Write every conformance case under tests/cases (deterministic; rerun
after editing a generator, then tests/regen.sh for the expectations)."""
import os, sys, importlib
sys.path.insert(0, os.path.dirname(__file__))
from common import write_cases
root = os.path.join(os.path.dirname(__file__), "..", "cases")
for mod in ["core", "patches", "generators", "names", "more", "issue15", "areas"]:
    try:
        m = importlib.import_module(mod)
    except ModuleNotFoundError:
        continue
    write_cases(root, m.CASES)
