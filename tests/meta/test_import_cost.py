"""Importing peertrial.meta loads no scipy (about 0.1-0.3 s): scipy's modules load on first use."""

import subprocess
import sys


def test_import_meta_loads_no_scipy():
    code = "import sys, peertrial.meta; print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", out
