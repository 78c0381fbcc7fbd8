"""One save/load convention for every model-like object (`save_pretrained(folder)` / `from_pretrained(folder)`),
and `AutoTokenizer` on every shipped model folder (ids equal to the package's own tokenizer)."""

import json

import numpy as np
import pytest
import torch
from conftest import REPO

QUESTION = "一件衣服原价200元，现在打八折出售，现价多少元？"
TEXTS = ["你好啊，今天天气怎么样？", "ABC公司在2020年的收入是3.5亿元", "被告人张某犯盗窃罪，判处有期徒刑三年。"]


def test_every_model_like_object_has_save_pretrained_and_from_pretrained():
    from dialog import ChatBot
    from mathwp import Solver
    from summarize import Summarizer
    from whitening import SentenceEncoder, Whitening

    for cls in (ChatBot, Solver, Summarizer, Whitening, SentenceEncoder):
        assert callable(getattr(cls, "save_pretrained", None)), cls
        assert getattr(cls.from_pretrained, "__self__", None) is cls, f"{cls.__name__}.from_pretrained is a classmethod"


def test_chatbot_round_trip_nezha_shipped_default(tmp_path):
    from dialog.chatbot import ChatBot

    bot = ChatBot.from_pretrained(max_new_tokens=12)
    bot.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "zoo"  # NEZHA: relative positions
    back = ChatBot.from_pretrained(tmp_path)
    assert back.family == bot.family and back.preset == bot.preset
    history = ["你好", "你好啊，最近怎么样"]
    assert back.reply(history, do_sample=False) == bot.reply(history, do_sample=False)
    assert back.reply(history, seed=3) == bot.reply(history, seed=3)


@pytest.mark.parametrize("layout", ["openai-gpt", "gpt2"])
def test_chatbot_round_trip_cdial_layouts_save_as_standard_gpt(tmp_path, layout):
    from _dialog_helpers import gpt2_layout, openai_gpt_layout
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from dialog.chatbot import ChatBot

    (openai_gpt_layout if layout == "openai-gpt" else gpt2_layout)(tmp_path / "hub")
    bot = ChatBot.from_pretrained(tmp_path / "hub")
    bot.save_pretrained(tmp_path / "saved")
    assert json.loads((tmp_path / "saved" / "config.json").read_text())["model_type"] == layout
    back = ChatBot.from_pretrained(tmp_path / "saved")
    history = ["别爱我没结果", "你这样会失去我的"]
    assert back.family == "cdial-gpt"
    assert back.reply(history, do_sample=False, max_new_tokens=8) == bot.reply(history, do_sample=False,
                                                                                 max_new_tokens=8)
    vanilla = AutoModelForCausalLM.from_pretrained(tmp_path / "saved").eval()
    ids = torch.tensor([[0, 13086, 770, 1860, 2]])
    with torch.no_grad():
        torch.testing.assert_close(vanilla(ids).logits, bot.model(ids).logits, atol=1e-5, rtol=1e-5)
    tok = AutoTokenizer.from_pretrained(tmp_path / "saved")
    assert tok("[speaker1]你好")["input_ids"][1] == 13086


def test_solver_round_trip_and_hub_style_loading(tmp_path):
    from mathwp import Solver

    solver = Solver.from_pretrained()
    solver.save_pretrained(tmp_path)
    back = Solver.from_pretrained(tmp_path)
    assert back.solve(QUESTION)[0].answer == solver.solve(QUESTION)[0].answer == "160"
    assert (tmp_path / "tokenizer_config.json").is_file()


def test_summarizer_round_trip(tmp_path):
    from summarize import Summarizer

    summarizer = Summarizer.from_pretrained()
    text = ("原告张三与被告李四借款合同纠纷一案，原告诉称被告借款十万元未还，请求判令被告偿还借款本金及利息。"
            "被告辩称已经归还部分借款。本院认为，借款事实清楚，被告应当偿还剩余借款。")
    summarizer.save_pretrained(tmp_path)
    back = Summarizer.from_pretrained(tmp_path)
    summary = summarizer.summarize(text, max_new_tokens=12)
    assert summary and back.summarize(text, max_new_tokens=12) == summary


def test_whitening_save_pretrained_from_pretrained_and_aliases(tmp_path):
    from whitening import Whitening

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8)) @ rng.normal(size=(8, 8))
    w = Whitening(n_components=4).fit(x)
    w.save_pretrained(tmp_path / "a")
    back = Whitening.from_pretrained(tmp_path / "a")
    np.testing.assert_array_equal(back.transform(x), w.transform(x))
    w.save(tmp_path / "b")  # sentence-transformers' names stay as aliases
    np.testing.assert_array_equal(Whitening.load(tmp_path / "b").transform(x), w.transform(x))


@pytest.fixture(scope="module")
def tiny_encoder_folder(tmp_path_factory):
    from _whitening_helpers import make_tiny_minilm_layout

    return make_tiny_minilm_layout(tmp_path_factory.mktemp("tiny_bert"))


def test_sentence_encoder_round_trip_keeps_pooling_length_and_whitening(tiny_encoder_folder, tmp_path):
    from whitening import SentenceEncoder

    sentences = ["a man is playing a guitar", "the cat sits on the mat", "stocks fell sharply today",
                 "a woman is slicing an onion"] * 12
    encoder = SentenceEncoder(tiny_encoder_folder, pooling="mean", max_length=24, device="cpu")
    encoder.fit_whitening(sentences, n_components=6, regularization=0.1)
    encoder.save_pretrained(tmp_path)
    back = SentenceEncoder.from_pretrained(tmp_path, device="cpu")
    assert (back.pooling, back.max_length, back.dimension) == ("mean", 24, 6)
    np.testing.assert_allclose(back.encode(sentences[:4]), encoder.encode(sentences[:4]), rtol=1e-6, atol=1e-6)
    assert SentenceEncoder.from_pretrained(tmp_path, pooling="cls", device="cpu").pooling == "cls"


def test_whitening_sentence_transformers_module_loads_without_an_extra_flag(tiny_encoder_folder, tmp_path):
    st = pytest.importorskip("sentence_transformers")
    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # 5.x, the declared floor
        from sentence_transformers.models import Pooling, Transformer

    from whitening import Whitening, load_sentence_transformer

    transformer = Transformer(str(tiny_encoder_folder), max_seq_length=32)
    pooling = Pooling(32, "mean")  # the tiny encoder's hidden size
    sentences = ["a man is playing a guitar", "the cat sits on the mat", "stocks fell", "an onion"] * 12
    raw = st.SentenceTransformer(modules=[transformer, pooling], device="cpu").encode(sentences)
    model = st.SentenceTransformer(modules=[transformer, pooling, Whitening(4, 0.1).fit(raw)], device="cpu")
    model.save(str(tmp_path / "st"))
    reloaded = load_sentence_transformer(tmp_path / "st", device="cpu")
    np.testing.assert_allclose(reloaded.encode(sentences[:4]), model.encode(sentences[:4]), rtol=1e-5, atol=1e-6)
    modules = json.loads((tmp_path / "st" / "modules.json").read_text())
    modules[-1]["type"] = "evil.Module"
    (tmp_path / "st" / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ValueError, match="trust_remote_code"):
        load_sentence_transformer(tmp_path / "st")


# ------------------------------------------------------------------------------ AutoTokenizer everywhere


def _shipped():
    from mathwp.seq2seq import load_tokenizer
    from summarize.vocab import word_tokenizer
    from zoo.tokenization import Tokenizer

    summarize = REPO / "summarize" / "models" / "default"
    return {
        "dialog": (REPO / "dialog/models/default",
                   lambda f: Tokenizer(str(f / "vocab.txt"), do_lower_case=True)),
        "mathwp": (REPO / "mathwp/models/default", lambda f: load_tokenizer(f / "vocab.txt", True)),
        "summarize-generator": (summarize / "generator",
                                lambda f: word_tokenizer(f / "vocab.txt", summarize / "user_dict.txt")),
        "wobert": (REPO / "wobert/resources/wobert_plus", None),
    }


@pytest.mark.parametrize("name", ["dialog", "mathwp", "summarize-generator", "wobert"])
def test_auto_tokenizer_on_every_shipped_folder_matches_our_tokenizer(name):
    import wobert  # noqa: F401  (registers WoBertTokenizer for AutoTokenizer)
    from transformers import AutoTokenizer

    folder, ours = _shipped()[name]
    tok = AutoTokenizer.from_pretrained(folder)
    texts = TEXTS + (["小明有[n0]个苹果，吃了[n1]个"] if name == "mathwp" else [])
    if ours is None:
        ours = wobert.WoBertTokenizer.from_pretrained(folder)
        assert all(tok(t)["input_ids"] == ours(t)["input_ids"] for t in texts)
        return
    reference = ours(folder)
    for text in texts:
        assert tok(text)["input_ids"] == reference.encode(text)[0], text


def test_every_shipped_folder_with_a_vocab_has_a_tokenizer_config():
    vocabs = [p.parent for p in REPO.glob("*/models/**/vocab.txt")] + [p.parent for p in
                                                                        REPO.glob("*/resources/**/vocab.txt")]
    assert vocabs
    missing = [str(f.relative_to(REPO)) for f in vocabs if not (f / "tokenizer_config.json").is_file()]
    assert not missing, f"folders AutoTokenizer cannot read: {missing}"
