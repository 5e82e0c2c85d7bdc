"""The demo's report and its handling of run-local, without training a real swarm."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from swarm_learning import demo
from swarm_learning.demo import DemoConfig, DemoFailed

RUN_LOCAL_SUMMARY: dict[str, Any] = {
    "sites": [
        {"name": f"site-{i}", "exit_code": 0, "final_weights_sha256": "ab" * 32, "log": f"site-{i}/ml.log"}
        for i in (1, 2, 3)
    ],
    "rounds": 26,
    "wall_seconds": 95.0,
}


def _config(tmp_path: Path, **overrides: object) -> DemoConfig:
    values: dict = {
        "framework": "pytorch",
        "nodes": 3,
        "workdir": tmp_path / "work",
        "summary_path": tmp_path / "s.json",
    }
    values.update(overrides)
    return DemoConfig(**values)


def test_summary_extends_the_run_local_summary_with_accuracies_and_verdicts(tmp_path: Path) -> None:
    summary = demo.build_summary(
        _config(tmp_path), RUN_LOCAL_SUMMARY, [0.96, 0.96, 0.96], [0.85, 0.9, 0.88], 0.97
    )
    assert summary["rounds"] == 26 and summary["wall_seconds"] == 95.0
    assert summary["framework"] == "pytorch" and summary["central_accuracy"] == 0.97
    assert [s["swarm_accuracy"] for s in summary["sites"]] == [0.96] * 3
    assert [s["local_accuracy"] for s in summary["sites"]] == [0.85, 0.9, 0.88]
    assert summary["sites"][0]["delta_vs_central"] == pytest.approx(-0.01)
    assert summary["same_final_model"] is True
    assert summary["acceptance"] == {
        "swarm_beats_local": True,
        "within_3_points_of_central": True,
        "passed": True,
    }


def test_summary_flags_a_swarm_worse_than_a_site_alone_or_far_from_central(tmp_path: Path) -> None:
    sites = [dict(s) for s in RUN_LOCAL_SUMMARY["sites"]]
    sites[2]["final_weights_sha256"] = "cd" * 32
    summary = demo.build_summary(
        _config(tmp_path), {**RUN_LOCAL_SUMMARY, "sites": sites}, [0.9, 0.9, 0.9], [0.85, 0.92, 0.8], 0.97
    )
    assert summary["same_final_model"] is False
    assert summary["acceptance"]["swarm_beats_local"] is False
    assert summary["acceptance"]["within_3_points_of_central"] is False
    assert summary["acceptance"]["passed"] is False


def test_report_shows_each_site_and_whether_all_ended_with_the_same_model(tmp_path: Path) -> None:
    summary = demo.build_summary(
        _config(tmp_path), RUN_LOCAL_SUMMARY, [0.96, 0.96, 0.96], [0.85, 0.9, 0.88], 0.97
    )
    console = Console(record=True, width=120)
    demo.print_report(summary, console)
    text = console.export_text()
    for expected in ("site-1", "site-3", "96.0%", "85.0%", "97.0%", "-1.0 pt", "abababababab"):
        assert expected in text
    assert "same final model on all sites: yes" in text


def test_accuracy_chart_is_written_as_png(tmp_path: Path) -> None:
    summary = demo.build_summary(
        _config(tmp_path), RUN_LOCAL_SUMMARY, [0.96, 0.96, 0.96], [0.85, 0.9, 0.88], 0.97
    )
    path = demo.save_plot(summary, tmp_path / "accuracy.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_local_is_called_with_one_data_dir_per_site_and_the_epochs(tmp_path: Path) -> None:
    cfg = _config(tmp_path, epochs=7)
    cmd = demo.run_local_command(cfg)
    assert cmd[1:4] == ["-m", "swarm_learning.cli", "run-local"]
    assert cmd[cmd.index("--nodes") + 1] == "3"
    assert [cmd[i + 1] for i, a in enumerate(cmd) if a == "--data-dir"] == [
        str(cfg.data_dir / f"site-{i}") for i in (1, 2, 3)
    ]
    assert cmd[cmd.index("--program") + 1].endswith("examples/digits/digits_pyt.py")
    assert "MAX_EPOCHS=7" in cmd and "MIN_PEERS=3" in cmd


def _fake_run_local(tmp_path: Path, body: str) -> list[str]:
    script = tmp_path / "fake_run_local.py"
    script.write_text(body)
    return [sys.executable, str(script)]


def test_a_failing_run_local_fails_the_demo_with_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = _fake_run_local(
        tmp_path, "import sys\nsys.stderr.write('SN did not start: port taken\\n')\nsys.exit(3)\n"
    )
    monkeypatch.setattr(demo, "run_local_command", lambda cfg: failing)
    with pytest.raises(DemoFailed, match=r"(?s)exit 3.*SN did not start: port taken"):
        demo.run_swarm(_config(tmp_path), Console(quiet=True))


def test_swarm_accuracies_are_read_from_each_sites_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _config(tmp_path)
    body = (
        "import json, pathlib\n"
        f"swarm = pathlib.Path({str(cfg.swarm_dir)!r})\n"
        f"summary = {RUN_LOCAL_SUMMARY!r}\n"
        "for i in (1, 2, 3):\n"
        "    (swarm / f'site-{i}').mkdir(parents=True, exist_ok=True)\n"
        "    (swarm / f'site-{i}' / 'result.json').write_text(json.dumps({'test_accuracy': 0.9 + i / 100}))\n"
        "(swarm / 'summary.json').write_text(json.dumps(summary))\n"
    )
    monkeypatch.setattr(demo, "run_local_command", lambda cfg: _fake_run_local(tmp_path, body))
    summary, accuracies = demo.run_swarm(cfg, Console(quiet=True))
    assert summary["rounds"] == 26
    assert accuracies == pytest.approx([0.91, 0.92, 0.93])


def test_demo_cli_reports_a_failed_swarm_with_a_non_zero_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    failing = _fake_run_local(tmp_path, "import sys\nsys.stderr.write('no SL could start\\n')\nsys.exit(1)\n")
    monkeypatch.setattr(demo, "run_local_command", lambda cfg: failing)
    code = demo.main(["--workdir", str(tmp_path / "work"), "--summary", str(tmp_path / "s.json")])
    assert code == 1
    assert "no SL could start" in capsys.readouterr().out
    assert not (tmp_path / "s.json").exists()
    assert json.loads((tmp_path / "work" / "data" / "manifest.json").read_text())["nodes"] == 3
