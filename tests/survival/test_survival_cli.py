import pandas as pd

from peertrial.cli import main

from .survival_refs import SURV, frame


def test_cli_km_cox_cuminc_readmission(tmp_path, capsys):
    path = tmp_path / "d.csv"
    df = frame(SURV["ties_days"])
    df.to_csv(path, index=False)
    assert main(["survival", "km", str(path), "--time", "time", "--event", "status==1", "--group", "arm",
                 "--tau", "365", "--plot", str(tmp_path / "km.png")]) == 0
    out = capsys.readouterr().out
    assert "Kaplan-Meier" in out and "Restricted mean" in out and (tmp_path / "km.png").exists()
    assert main(["survival", "cox", str(path), "--time", "time", "--event", "event", "--covariates", "arm",
                 "age", "--cluster", "site", "--ph"]) == 0
    assert "GLOBAL" in capsys.readouterr().out
    assert main(["survival", "cuminc", str(path), "--time", "time", "--status", "status", "--group", "arm",
                 "--fine-gray", "arm"]) == 0
    assert "Gray's test" in capsys.readouterr().out
    r = pd.DataFrame({"arm": [0, 1] * 20, "site": [i % 7 + 1 for i in range(40)], "diagnosis": ["a", "b", "c", "a", "b"] * 8,
                      "readmitted_12m": [0, 0, 1, 1, 0, 1, 0, 1] * 5})
    r.to_csv(tmp_path / "r.csv", index=False)
    assert main(["survival", "readmission", str(tmp_path / "r.csv"), "--outcome", "readmitted_12m",
                 "--covariates", "site", "diagnosis"]) == 0
    assert "risk_ratio" in capsys.readouterr().out


def test_cli_bad_column_is_an_error(tmp_path, capsys):
    path = tmp_path / "d.csv"
    frame(SURV["basic"]).to_csv(path, index=False)
    assert main(["survival", "cox", str(path), "--time", "time", "--event", "nope==1", "--covariates", "arm"]) == 1
    assert "nope" in capsys.readouterr().err


def test_cli_covariates_as_one_formula(tmp_path, capsys):
    path = tmp_path / "d.csv"
    df = frame(SURV["ties_days"])
    df.to_csv(path, index=False)
    assert main(["survival", "cox", str(path), "--time", "time", "--event", "event",
                 "--covariates", "arm + C(site) + age"]) == 0
    out = capsys.readouterr().out
    assert "site2" in out and "age" in out


def test_cli_warnings_are_one_line_without_python_source(tmp_path):
    # a warning printed by the command line read "/…/bin/peertrial:8: UserWarning: ... sys.exit(main())"
    import os
    import subprocess
    import sys

    path = tmp_path / "d.csv"
    df = frame(SURV["ties_days"])
    df.loc[0, "age"] = None
    df.to_csv(path, index=False)
    code = ("import sys; from peertrial.cli import main; "
            f"sys.exit(main(['survival', 'cox', {str(path)!r}, '--time', 'time', '--event', 'event', "
            "'--covariates', 'arm', 'age']))")
    env = {**os.environ, "PYTHONWARNINGS": ""}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "peertrial: warning: 1 rows with missing values in ['age'] omitted" in done.stderr
    assert "Warning:" not in done.stderr and "sys.exit" not in done.stderr


def test_cli_km_plot_labels_conf_types_and_exact_ties(tmp_path, capsys, monkeypatch):
    # the KM figure said "Proportion not readmitted" whatever the data (e.g. deaths in survival::lung);
    # --conf-type offered 3 of kaplan_meier's 5 types and --ties left out "exact"
    import peertrial.plot.survival as ps

    seen = {}
    real = ps.km_plot

    def spy(km, **kw):
        seen.update(kw)
        return real(km, **kw)

    monkeypatch.setattr(ps, "km_plot", spy)
    path = tmp_path / "d.csv"
    frame(SURV["ties_days"]).to_csv(path, index=False)
    assert main(["survival", "km", str(path), "--time", "time", "--event", "status==1", "--conf-type", "logit",
                 "--plot", str(tmp_path / "km.png")]) == 0
    assert seen["ylabel"] == "Proportion event-free" and seen["xlabel"] == "Days"
    assert main(["survival", "km", str(path), "--time", "time", "--event", "status==1", "--conf-type", "arcsin",
                 "--ylabel", "Proportion alive", "--xlabel", "Months", "--plot", str(tmp_path / "km2.png")]) == 0
    assert seen["ylabel"] == "Proportion alive" and seen["xlabel"] == "Months"
    assert main(["survival", "cox", str(path), "--time", "time", "--event", "event", "--covariates", "arm",
                 "--ties", "exact"]) == 0
    assert "ties = 'exact'" in capsys.readouterr().out
