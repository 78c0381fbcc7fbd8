"""`zoo demo`: runs offline on the shipped defaults, from any directory, and reports every section."""

import json
import subprocess
import sys

from nlpzoo.cli import main


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
    result = subprocess.run([sys.executable, "-m", "nlpzoo", "demo", "--only", "tokenize"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "公园" in result.stdout
