"""mathwp model side: §8.6 encoding, target-masked UniLM loss, Solver round trip on a tiny random model,
bad input, eval/train scripts and the `zoo solve` CLI."""

import json
import sys

import pytest
import torch
import torch.nn.functional as F
from conftest import DATA, REPO, VOCAB

import zoo
from mathwp import Solver
from mathwp.data import prepared, read_problems
from mathwp.seq2seq import (
    MAX_NUMBERS,
    PLACEHOLDERS,
    collate,
    decode_expression,
    encode_pair,
    load_tokenizer,
    mask_expression,
    mask_numbers,
    target_mask,
    unilm_loss,
    unmask_expression,
)
from mathwp.solver import evaluate_expression

sys.path.insert(0, str(REPO / "scripts"))
import eval_mathwp  # noqa: E402
import train_mathwp  # noqa: E402

APE_VOCAB = VOCAB / "derived" / "ape210k_simplified_vocab.txt"
QUESTION = "学校把135本练习本平均分给3个班，每班多少本？"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These tiny models run fastest (and steadiest on a busy machine) on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(APE_VOCAB)


def tiny_model(tokenizer, seed=0):
    torch.manual_seed(seed)
    config = zoo.ZooConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=256, type_vocab_size=2, attention="unilm",
    )  # fmt: skip
    return zoo.ZooForLM(config).eval()


@pytest.fixture(scope="module")
def model_dir(tokenizer, tmp_path_factory):
    folder = tmp_path_factory.mktemp("mathwp_tiny")
    Solver(tiny_model(tokenizer), tokenizer, max_new_tokens=8).save_pretrained(folder)
    return folder


def test_encoding_vector(tokenizer):
    ids, segs = encode_pair(tokenizer, QUESTION, "135/3")
    assert ids == [2, 2008, 3311, 2726, 8805, 3213, 5196, 637, 3213, 2296, 1670, 1044, 5212, 22, 600, 4306, 7922,
                   3578, 4306, 1812, 2106, 3213, 7941, 3, 8805, 18, 22, 3]  # fmt: skip
    assert segs == [0] * 24 + [1] * 4
    assert tokenizer.ids_to_tokens(ids[24:]) == ["135", "/", "3", "[SEP]"]
    assert decode_expression(tokenizer, tokenizer.tokens_to_ids(["56", "*", "1", "/", "4", "+", "1", "/", "2"])) == (
        "56*1/4+1/2"
    )
    assert decode_expression(tokenizer, tokenizer.tokens_to_ids(["3", "[SEP]", "+", "1"])) == "3"


def test_number_placeholders():
    question, numbers = mask_numbers("一根电线长56米，第一次用去1/4，第二次用去1/2米，还有3.5米")
    assert question == "一根电线长[n0]米，第一次用去[n1]/[n2]，第二次用去[n3]/[n4]米，还有[n5]米"
    assert numbers == ["56", "1", "4", "1", "2", "3.5"]
    masked = mask_expression("56*1/4+1/2+3.50+100", numbers)
    assert masked == "[n0]*[n1]/[n2]+[n1]/[n4]+[n5]+100"  # same value -> first placeholder; constants stay
    assert unmask_expression(masked, numbers) == "56*1/4+1/2+3.5+100"
    assert unmask_expression("[n9]+1", numbers) == "[n9]+1"  # unknown placeholder is left for safe_eval to refuse
    many, nums = mask_numbers(" ".join(str(i) for i in range(MAX_NUMBERS + 3)))
    assert len(nums) == MAX_NUMBERS and many.endswith(f"[n{MAX_NUMBERS - 1}] 20 21 22")
    tok = load_tokenizer({t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "本", *PLACEHOLDERS])}, True)
    assert tok.tokenize("[n0]本[n12]") == ["[CLS]", "[n0]", "本", "[n12]", "[SEP]"]
    assert decode_expression(tok, tok.tokens_to_ids(["[n0]", "[PAD]", "[n1]", "[SEP]", "[n2]"])) == "[n0][n1]"


def _batch(tokenizer):
    pairs = [(QUESTION, "135/3"), ("一根电线长56米，用去1/4，还剩多少米？", "56*(1-1/4)")]
    return collate([dict(zip(["input_ids", "token_type_ids"], encode_pair(tokenizer, q, e))) for q, e in pairs])


def test_target_mask_covers_expression_and_final_sep(tokenizer):
    batch = _batch(tokenizer)
    mask = target_mask(batch)
    assert mask[0].nonzero().flatten().tolist() == [23, 24, 25, 26]  # predicted at [SEP]...: 135 / 3 [SEP]
    assert mask.sum(1).tolist() == [4, int(batch["token_type_ids"][1].sum())]


def test_unilm_loss_is_masked_cross_entropy(tokenizer):
    model = tiny_model(tokenizer)
    batch = _batch(tokenizer)
    logits = model(**batch).logits[:, :-1]
    mask = target_mask(batch)
    expected = F.cross_entropy(logits[mask], batch["input_ids"][:, 1:][mask])
    assert torch.allclose(unilm_loss(model, batch), expected, atol=1e-5)
    # targets see the question (changing it changes the loss) but not later target tokens
    altered = {k: v.clone() for k, v in batch.items()}
    altered["input_ids"][0, 5] = 100
    assert unilm_loss(model, altered).item() != unilm_loss(model, batch).item()
    altered = {k: v.clone() for k, v in batch.items()}
    altered["input_ids"][0, 26] = 100
    changed = model(**altered).logits[0, :-1] - logits[0]
    assert changed[23:26].abs().max() < 1e-5 and changed[26].abs().max() > 1e-5


def test_solver_round_trip(tokenizer, model_dir):
    solver = Solver(tiny_model(tokenizer), tokenizer, max_new_tokens=8)
    loaded = Solver.from_pretrained(model_dir)
    questions = [QUESTION, "一根电线长56米，第一次用去1/4，第二次用去1/2米，现在比原来短了多少米？", "3个苹果"]
    batched = loaded.solve(questions, batch_size=3)
    assert [r.expression for r in batched] == [r.expression for r in solver.solve(questions, batch_size=1)]
    assert [r.expression for r in loaded.solve(questions, batch_size=2, beam_size=2)] == [
        r.expression for q in questions for r in loaded.solve(q, beam_size=2)
    ]
    for r in batched:
        assert isinstance(r.expression, str)
        assert (r.value is None) == (r.error is not None)
        json.dumps(r.to_dict(), ensure_ascii=False)


@pytest.mark.parametrize("placeholders", [False, True])
def test_solver_learns_to_copy(placeholders):
    """Overfit four problems: the trained solver must produce the exact gold expressions and answers."""
    vocab = load_tokenizer(APE_VOCAB).vocab
    vocab.update({t: len(vocab) + i for i, t in enumerate(PLACEHOLDERS)})
    tokenizer = load_tokenizer(vocab, placeholders)
    samples = [s for _, s in prepared(read_problems(DATA / "ape210k" / "valid.ape.json")[:4])]
    pairs = [(q, e) for q, e, _ in samples]
    if placeholders:
        pairs = [(masked, mask_expression(e, numbers)) for q, e in pairs for masked, numbers in [mask_numbers(q)]]
    batch = collate([dict(zip(["input_ids", "token_type_ids"], encode_pair(tokenizer, q, e))) for q, e in pairs])
    model = tiny_model(tokenizer, seed=1).train()
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(80):
        loss = unilm_loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    solver = Solver(model, tokenizer, max_new_tokens=24, number_placeholders=placeholders)
    results = solver.solve([q for q, _, _ in samples], batch_size=4)
    assert [r.expression for r in results] == [e for _, e, _ in samples]
    assert all(r.error is None for r in results)


def test_bad_questions(tokenizer, model_dir, recwarn):
    solver = Solver.from_pretrained(model_dir)
    solver.maxlen = 40
    empty, no_digits, long, english = solver.solve(["  ", "小明有几个苹果？", "一" * 100 + "3个", "What is 3 plus 4?"])
    assert empty.error == "empty question" and empty.expression is None
    assert any("no digits" in w for w in no_digits.warnings)
    assert any("truncated" in w for w in long.warnings) and long.expression is not None
    assert english.expression is not None
    assert any("truncated" in str(w.message) for w in recwarn)
    with pytest.raises(ValueError):
        solver.solve([None])


def test_refused_expression_keeps_reason():
    value, answer, error = evaluate_expression("9**9**9**9")
    assert value is None and answer is None and "exponent" in error
    assert evaluate_expression("(1+1/4)*2") == (pytest.approx(2.5), "2.5", None)


def test_eval_script_json_line(model_dir, capsys):
    assert eval_mathwp.main(["--data", str(DATA / "ape210k" / "valid.ape.json"), "--model", str(model_dir),
                             "--limit", "6", "--batch-size", "4"]) == 0  # fmt: skip
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["records"] == 6 and summary["evaluated"] == 6
    assert 0.0 <= summary["accuracy"] <= 1.0 and summary["correct"] <= 6


def test_cli_solve(model_dir, capsys):
    from nlpzoo.cli import main

    assert main(["solve", "--model", str(model_dir), "--json", QUESTION, ""]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["question"] for r in lines] == [QUESTION, ""]
    assert lines[1]["error"] == "empty question"
    assert main(["solve", "--model", str(model_dir)]) == 2
    assert main(["solve", "--model", str(model_dir / "missing"), QUESTION]) == 1
    for bad in (["--num-samples", "-1"], ["--num-samples", "1000000"], ["--num-samples", "2", "--temperature", "0"]):
        assert main(["solve", "--model", str(model_dir), *bad, QUESTION]) == 2


def test_cli_solve_passes_self_consistency_options(model_dir, capsys, monkeypatch):
    from mathwp.solver import Solver
    from nlpzoo.cli import main

    seen = []
    original = Solver.solve

    def spy(self, questions, **kwargs):
        seen.append({k: kwargs.get(k) for k in ("num_samples", "temperature", "seed")})
        return original(self, questions, **kwargs)

    monkeypatch.setattr(Solver, "solve", spy)
    assert main(["solve", "--model", str(model_dir), "--json", QUESTION]) == 0
    assert main(["solve", "--model", str(model_dir), "--json", "--num-samples", "3", "--temperature", "0.5",
                 "--seed", "1", QUESTION]) == 0
    assert seen == [{"num_samples": None, "temperature": None, "seed": 0},  # None: the model's stored default
                    {"num_samples": 3, "temperature": 0.5, "seed": 1}]
    voted = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert voted["question"] == QUESTION


def test_cli_solve_stdin_and_text_output(model_dir, capsys, monkeypatch):
    import io

    from nlpzoo.cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO(QUESTION + "\n\n3个苹果\n"))
    assert main(["solve", "--model", str(model_dir), "-"]) == 0
    out = capsys.readouterr().out
    assert out.count("expression:") == 2 and QUESTION in out


@pytest.mark.parametrize("options", [[], ["--number-placeholders"]])
def test_train_script_smoke(tmp_path, options):
    lines = (DATA / "ape210k" / "valid.ape.json").read_text(encoding="utf-8").splitlines()[:24]
    data = tmp_path / "mini.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    assert train_mathwp.main(["--data", str(data), "--output", str(out), "--dev-size", "4", "--hidden", "32",
                              "--layers", "2", "--heads", "4", "--intermediate", "64", "--max-steps", "4",
                              "--batch-size", "8", "--warmup-steps", "0", *options]) == 0  # fmt: skip
    assert len((out / "dev_ids.txt").read_text().split()) == 4
    solver = Solver.from_pretrained(out / "final")
    assert solver.number_placeholders == bool(options)
    assert len(solver.solve(QUESTION)) == 1


def test_default_model_path_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        Solver.from_pretrained(tmp_path)


def test_shipped_model(capsys):
    """The shipped default loads with no argument (API and CLI) and solves a one-step problem."""
    from nlpzoo.cli import main

    result = Solver.from_pretrained().solve("一件衣服原价200元，现在打八折出售，现价多少元？")[0]
    assert result.error is None and result.answer == "160"
    assert main(["solve", "--json", "一件衣服原价200元，现在打八折出售，现价多少元？"]) == 0
    assert json.loads(capsys.readouterr().out)["answer"] == "160"
