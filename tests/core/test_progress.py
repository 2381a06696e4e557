"""Progress bars: no tqdm.auto (and its 'IProgress not found' warning in Jupyter) without ipywidgets."""

import subprocess
import sys


def test_text_bar_without_ipywidgets_and_no_module_imports_tqdm_auto(monkeypatch):
    import tqdm.std

    from peertrial._progress import progress_bar

    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails
    assert progress_bar() is tqdm.std.tqdm
    code = ("import sys, peertrial.randomise.simulation, peertrial.simulate.power; "
            "print('tqdm.auto' in sys.modules or 'tqdm.autonotebook' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
