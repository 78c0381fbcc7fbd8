"""`zoo demo`: every package on the shipped defaults, offline, on sample texts shipped with the toolkit.

Sections: WoBERT tokenization, math word problems, a chat exchange, a CAIL2020 and an LCSTS summary with their
ROUGE, sentence similarities before and after whitening. A section whose default model is not installed says so
and the rest go on.

The samples are not picked by looking at outputs: `build_samples` chooses them from the public datasets by the
fixed rules in `SAMPLE_RULES` (for the solver, from the held-out dev slice written next to the shipped model, so
a retrained model brings its own dev slice), and a test checks that the shipped file is what the rules give.
After retraining a model, run `python -m nlpzoo.demo PATH/TO/shared` to rebuild the file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

from nlpzoo.console import add_common_arguments

SAMPLES = Path(__file__).resolve().parent / "resources" / "demo_samples.json"
SECTIONS = ("tokenize", "solve", "chat", "summarize", "embed")

# Fixed inputs of the tokenizer section: a plain sentence and the sentence of WoBERT's own README.
TOKENIZE_TEXTS = ["今天天气很好，我想去公园玩。", "WoBERT是以词为单位的中文BERT模型，我们在2020年9月开源了它。"]
# The example contexts of the original nezha_gpt_dialog README (one turn, and three turns).
CHAT_CONTEXTS = [["我最近天天吃火锅"], ["你那天气好吗", "还好，不热，有点冷", "那你得穿多厚的衣服"]]
SOLVE_COUNT, SOLVE_MAX_CHARS = 3, 40
SUMMARIZE_MAX_CHARS = 2500
EMBED_COUNT = 6
SAMPLE_RULES = {
    "tokenize": "TOKENIZE_TEXTS in nlpzoo/demo.py (WoBERT's README sentence and a plain one)",
    "solve": f"shared/data/ape210k/valid.ape.json: the first {SOLVE_COUNT} problems of the shipped solver's "
             "held-out dev slice (mathwp/models/default/dev_ids.txt, in its order) that mathwp.prepare keeps and "
             f"whose question has at most {SOLVE_MAX_CHARS} characters",
    "chat": "CHAT_CONTEXTS in nlpzoo/demo.py (the example contexts of the original nezha_gpt_dialog README)",
    "summarize": "shared/data/cail2020_sfzy/train.json: the first document with at most "
                 f"{SUMMARIZE_MAX_CHARS} characters among those the shipped extractor never trained on "
                 "(summarize/models/default/extractor_held_out.json; all documents if that file is absent)",
    "summarize_news": "shared/data/lcsts_clge/val.tsv, line 1 (LCSTS via CLUEbenchmark/CLGE; held-out dev pair, "
                      "the shipped pipeline's own domain)",
    "embed": f"shared/data/sts_en/stsb_dev.tsv: the first {EMBED_COUNT} pairs (STS Benchmark dev, CC BY-SA 4.0)",
}


def _solve_samples(data: Path) -> list[dict]:
    from mathwp import prepare, read_problems

    dev_ids = (Path(__import__("mathwp").__file__).parent / "models" / "default" / "dev_ids.txt").read_text(
        encoding="utf-8").split()
    problems = {p.id: p for p in read_problems(data / "ape210k" / "valid.ape.json")}
    rows = []
    for pid in dev_ids:
        sample = prepare(problems[pid].text, problems[pid].equation, problems[pid].answer) if pid in problems \
            else None
        if sample is not None and len(sample[0]) <= SOLVE_MAX_CHARS:
            rows.append({"id": pid, "question": sample[0], "answer": sample[2]})
        if len(rows) == SOLVE_COUNT:
            break
    return rows


def _cail_sample(data: Path) -> dict:
    from summarize.pipeline import DEFAULT_PATH

    held_out_file = DEFAULT_PATH / "extractor_held_out.json"
    held_out = json.loads(held_out_file.read_text(encoding="utf-8")).get("train.json") \
        if held_out_file.is_file() else None
    with open(data / "cail2020_sfzy" / "train.json", encoding="utf-8") as f:
        for index, line in enumerate(f):
            record = json.loads(line)
            text = "\n".join(s["sentence"] for s in record["text"])
            if len(text) <= SUMMARIZE_MAX_CHARS and (held_out is None or index in held_out):
                return {"id": record["id"], "text": text, "summary": record["summary"]}
    raise ValueError("no CAIL2020 document is short enough")


def build_samples(shared: Path) -> dict:
    """The demo's samples, chosen from the public datasets under `shared` by `SAMPLE_RULES`."""
    data = Path(shared) / "data"
    summary, text = (data / "lcsts_clge" / "val.tsv").read_text(encoding="utf-8").splitlines()[0].split("\t")[:2]
    pairs = []
    for line in (data / "sts_en" / "stsb_dev.tsv").read_text(encoding="utf-8").splitlines()[1:EMBED_COUNT + 1]:
        score, s1, s2 = line.split("\t")[:3]
        pairs.append({"score": float(score), "s1": s1, "s2": s2})
    return {"_sources": SAMPLE_RULES, "tokenize": TOKENIZE_TEXTS, "solve": _solve_samples(data),
            "chat": CHAT_CONTEXTS, "summarize": _cail_sample(data), "embed": pairs,
            "summarize_news": {"id": "lcsts_clge/val.tsv:1", "text": text, "summary": summary}}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    parser.add_argument("--json", action="store_true", help="print one JSON object per section instead of text")
    parser.add_argument("--debug", action="store_true", help="print the traceback of a failing section on stderr")
    add_common_arguments(parser, reads_input=False)


class _Printer:
    def __init__(self, as_json: bool, quiet: bool = False):
        self.as_json = as_json
        self.quiet = quiet

    def line(self, text: str = "") -> None:
        if not self.as_json:
            print(text, flush=True)

    def status(self, text: str) -> None:
        """A progress note on stderr, so slow steps show what they are doing without polluting --json output."""
        if not self.quiet:
            print(f"  … {text}", file=sys.stderr, flush=True)


def _tokenize(samples, out: _Printer, device) -> dict:
    from wobert import WoBertTokenizer, default_tokenizer_path
    from zoo.tokenization import Tokenizer

    folder = default_tokenizer_path()
    tok = WoBertTokenizer.from_pretrained(folder)
    chars_tok = Tokenizer(folder / "vocab.txt")  # the same vocab without jieba: BERT's character tokenization
    rows = []
    for text in samples["tokenize"]:
        words = tok.tokenize(text)
        chars = chars_tok.tokenize(text)[1:-1]
        saving = 1 - len(words) / max(len(chars), 1)
        out.line(f"  {text}")
        out.line(f"    WoBERT ({len(words)} tokens): {' '.join(words)}")
        out.line(f"    char BERT ({len(chars)} tokens), {saving:.0%} shorter with words")
        rows.append({"text": text, "tokens": words, "char_tokens": len(chars), "saving": round(saving, 3)})
    return {"texts": rows}


def _solve(samples, out: _Printer, device) -> dict:
    from mathwp import Solver

    out.status("loading the shipped math solver")
    solver = Solver.from_pretrained(device=device)
    out.line("  (the shipped solver is a small CPU-trained demo model: 28.4% answer accuracy on its dev split with its")
    out.line("   default self-consistency, 27.2% greedy;")
    out.line("   mathwp/models/default/README.md has the numbers: read the marks below in that light)")
    rows = []
    for item, result in zip(samples["solve"], solver.solve([s["question"] for s in samples["solve"]])):
        shown = result.answer if result.error is None else f"(no answer: {result.error})"
        mark = "correct" if result.answer is not None and _same_value(result.value, item["answer"]) else "wrong"
        out.line(f"  {item['question']}")
        out.line(f"    expression {result.expression}  =  {shown}   [reference {item['answer']}: {mark}]")
        rows.append({**result.to_dict(), "reference": item["answer"], "correct": mark == "correct"})
    return {"problems": rows}


def _same_value(value, reference: str) -> bool:
    from mathwp import MathEvalError, is_equal, safe_eval

    try:
        return value is not None and is_equal(value, safe_eval(reference))
    except MathEvalError:
        return False


def _chat(samples, out: _Printer, device) -> dict:
    from dialog import ChatBot

    out.status("loading the shipped chat model")
    bot = ChatBot.from_pretrained(device=device)
    out.line("  (the shipped chat model is a 1.4M-parameter CPU-trained demo: dev perplexity 61.9, distinct-2 17.1%,")
    out.line("   BLEU-2 2.26 with its preset; expect fluent-ish, shallow replies)")
    rows = []
    for history in samples["chat"]:
        reply = bot.reply(history, seed=42)
        for i, turn in enumerate(history):
            out.line(f"  {'AB'[i % 2]}: {turn}")
        out.line(f"  {'AB'[len(history) % 2]}: {reply}")
        out.line()
        rows.append({"history": history, "reply": reply})
    return {"dialogs": rows}


def _summarize(samples, out: _Printer, device) -> dict:
    from summarize import Summarizer, extract_oracle, rouge

    doc = samples["summarize"]
    out.line(f"  document {doc['id']} ({len(doc['text'])} characters), reference summary {len(doc['summary'])}")
    oracle = extract_oracle(doc["text"], doc["summary"])
    out.line(f"  stage A, oracle extraction: {len(oracle.labels)} of {len(oracle.clauses)} clauses, "
             f"word-level CAIL2020 main {oracle.main:.3f} (the extractive upper bound)")
    result = {"id": doc["id"], "oracle_clauses": oracle.labels, "oracle_main_word": round(oracle.main, 4)}
    out.status("loading the shipped SPACES pipeline")
    try:
        summarizer = Summarizer.from_pretrained(device=device)
    except FileNotFoundError as err:
        out.line(f"  generator: not shipped in this build ({err})")
        return {**result, "summary": None}
    out.status(f"summarizing a {len(doc['text'])}-character judgment")
    summary = summarizer.summarize(doc["text"])
    scores = rouge(summary, doc["summary"], unit="word")
    out.line("  (the shipped pipeline is a small model trained on LCSTS news posts, its extractor also on 16 CAIL")
    out.line("   judgments, not this one: LCSTS dev char main 0.157 (lead-18: 0.168); on judgments its extracts")
    out.line("   still hold header/signature clauses in 13 of 20 out-of-fold documents)")
    out.line(f"  summary:   {summary}")
    out.line(f"  reference: {doc['summary'][:120]}…")
    _scores(out, scores, "word")
    news = samples["summarize_news"]
    out.line()
    out.line(f"  a held-out LCSTS news post ({len(news['text'])} characters), the pipeline's own domain:")
    news_summary = summarizer.summarize(news["text"])
    news_scores = rouge(news_summary, news["summary"], unit="char")
    out.line(f"  summary:   {news_summary}")
    out.line(f"  reference: {news['summary']}")
    _scores(out, news_scores, "char")
    return {**result, "summary": summary, "rouge_word": scores, "news_summary": news_summary,
            "news_rouge_char": news_scores}


def _scores(out: _Printer, scores: dict, unit: str) -> None:
    out.line(f"  {unit} ROUGE-1/2/L F: " + " / ".join(f"{scores[k]:.3f}" for k in ("rouge-1", "rouge-2", "rouge-l"))
             + f"   CAIL2020 main: {scores['main']:.3f}")


def _embed(samples, out: _Printer, device) -> dict:
    import numpy as np

    from whitening import SentenceEncoder, default_encoder_path, default_whitening

    out.status("loading the sentence encoder and its shipped whitening")
    encoder = SentenceEncoder(default_encoder_path(), pooling="mean", device=device)
    whitening = default_whitening()
    pairs = samples["embed"]
    a = encoder.encode([p["s1"] for p in pairs], normalize=False)
    b = encoder.encode([p["s2"] for p in pairs], normalize=False)

    def cos(x, y):
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        y = y / np.linalg.norm(y, axis=1, keepdims=True)
        return (x * y).sum(1)

    before = cos(a, b)
    after = cos(whitening.transform(a), whitening.transform(b))
    out.line(f"  encoder: all-MiniLM-L6-v2, mean pooling; whitening k={whitening.n_components}")
    out.line("  gold  cos    cos+whitening  pair")
    rows = []
    for p, x, y in zip(pairs, before, after):
        out.line(f"  {p['score']:.2f}  {x:+.3f}  {y:+.3f}         {p['s1']} | {p['s2']}")
        rows.append({**p, "cosine": round(float(x), 4), "cosine_whitened": round(float(y), 4)})
    return {"pairs": rows}


RUNNERS = {"tokenize": ("WoBERT word-level tokenization", _tokenize), "solve": ("Math word problems", _solve),
           "chat": ("Chit-chat", _chat), "summarize": ("Long-document summarization (SPACES)", _summarize),
           "embed": ("Sentence similarity and BERT-whitening", _embed)}


def _report_failure(name: str, err: Exception, out: _Printer, debug: bool) -> None:
    """One line with the exception's type and message, and where to look: the traceback with --debug."""
    out.line(f"  FAILED: {type(err).__name__}: {err}")
    if debug:
        traceback.print_exception(err, file=sys.stderr)
    else:
        print(f"zoo demo: section {name!r} failed: {type(err).__name__}: {err}\n"
              f"  rerun `zoo demo --only {name} --debug` for the traceback; `zoo version` lists the installed "
              f"versions to quote in a bug report", file=sys.stderr, flush=True)


def run(args) -> int:
    samples = json.loads(SAMPLES.read_text(encoding="utf-8"))
    out = _Printer(args.json, args.quiet)
    failures = 0
    for name in args.only or SECTIONS:
        title, runner = RUNNERS[name]
        out.line(f"== {title}")
        start = time.perf_counter()
        try:
            result = {"section": name, "ok": True, **runner(samples, out, args.device)}
        except ModuleNotFoundError as err:  # an optional dependency of one section
            out.line(f"  skipped: {err} (install it to run this section)")
            result = {"section": name, "ok": False, "skipped": str(err)}
        except Exception as err:  # one broken section must not hide the others; the exit code reports it
            failures += 1
            result = {"section": name, "ok": False, "error": f"{type(err).__name__}: {err}"}
            _report_failure(name, err, out, debug=getattr(args, "debug", False))
        result["seconds"] = round(time.perf_counter() - start, 2)
        if args.json:
            print(json.dumps(result, ensure_ascii=False, default=str), flush=True)
        else:
            out.line(f"  ({result['seconds']:.1f} s)")
            out.line()
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m nlpzoo.demo PATH/TO/shared   (rewrites " + str(SAMPLES) + ")")
    SAMPLES.write_text(json.dumps(build_samples(Path(sys.argv[1])), ensure_ascii=False, indent=1) + "\n",
                       encoding="utf-8")
