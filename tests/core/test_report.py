import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from peertrial.report import Section, build


def _write(out):
    sec = Section("Example section", out, slug="01_example")
    sec.text("First paragraph.\n\nSecond <b>paragraph</b>.")
    sec.code("Random-Effects Model (k = 3)")
    sec.table(pd.DataFrame({"estimate": [0.123456]}, index=["itt"]), "Effects")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    sec.figure(fig, "line", "A line")
    sec.save()
    return build(out)


def test_report_is_self_contained_and_reproducible(tmp_path):
    first = _write(tmp_path / "a").read_bytes()
    second = _write(tmp_path / "b").read_bytes()
    assert first == second
    text = first.decode()
    assert "data:image/png;base64," in text
    assert "Second &lt;b&gt;paragraph&lt;/b&gt;." in text
    assert "0.123" in text
    assert (tmp_path / "a" / "01_example" / "effects.csv").exists()
