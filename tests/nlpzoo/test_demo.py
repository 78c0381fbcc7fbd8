"""`zoo demo`: runs offline on the shipped defaults, from any directory, reports every section, and shows
samples chosen by its stated rules (not picked by their outputs)."""

import json
import os
import subprocess
import sys

from conftest import REPO, SHARED

from nlpzoo.cli import main
from nlpzoo.demo import SAMPLE_RULES, SAMPLES, build_samples


def test_demo_json_sections(capsys):
    code = main(["demo", "--only", "tokenize", "summarize", "--json"])
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    by_name = {r["section"]: r for r in out}
    tokenize = by_name["tokenize"]
    first = tokenize["texts"][0]
    assert first["tokens"] == ["今", "天", "天", "气", "很", "好", "，", "我", "想", "去", "公园", "玩", "。"]
    assert first["char_tokens"] == 14
    summary = by_name["summarize"]
    assert 0 < summary["oracle_main_word"] <= 1 and summary["oracle_clauses"]
    assert summary["summary"] and summary["news_summary"]  # the shipped pipeline wrote both summaries
    assert 0 <= summary["news_rouge_char"]["main"] <= 1


def test_demo_runs_from_another_directory(tmp_path):
    """Package data, not the repo layout: the demo must not read ../shared or the working directory."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "nlpzoo", "demo", "--only", "tokenize"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert "公园" in result.stdout


def test_shipped_samples_follow_the_stated_rules(shared):
    """The shipped sample file is exactly what the rules select from the public data and the shipped dev slice;
    after retraining a model, `python -m nlpzoo.demo ../shared` rebuilds it."""
    shipped = json.loads(SAMPLES.read_text(encoding="utf-8"))
    assert shipped == build_samples(SHARED)
    assert shipped["_sources"] == SAMPLE_RULES
    dev_ids = (REPO / "mathwp" / "models" / "default" / "dev_ids.txt").read_text(encoding="utf-8").split()
    assert [s["id"] for s in shipped["solve"]] == [i for i in dev_ids if i in {s["id"] for s in shipped["solve"]}]
    assert set(s["id"] for s in shipped["solve"]) <= set(dev_ids)


def test_a_failing_section_names_the_error_and_where_to_look(monkeypatch, capsys):
    import nlpzoo.demo as demo

    def broken(samples, out, device):
        raise TypeError("ZooModelOutput.__init__() got an unexpected keyword argument 'cache'")

    monkeypatch.setitem(demo.RUNNERS, "tokenize", ("Tokenize", broken))
    assert main(["demo", "--only", "tokenize"]) == 1
    captured = capsys.readouterr()
    assert "FAILED: TypeError: ZooModelOutput.__init__()" in captured.out
    assert "--only tokenize --debug" in captured.err and "Traceback" not in captured.err
    assert main(["demo", "--only", "tokenize", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err
