"""mathwp.training: the seeded dev split, vocab trimming, number masking and the encoded length buckets."""

from conftest import VOCAB

from mathwp.seq2seq import PLACEHOLDERS
from mathwp.training import DIGIT_PIECES, build_tokenizer, split_dev, training_buckets

SAMPLES = [("小明有3个苹果，又买了5个，一共几个？", "3+5", "8"), ("一本书12元，买2本多少元？", "12*2", "24"),
           ("100减去25等于多少", "100-25", "75")]


def test_split_dev_is_seeded_and_disjoint():
    problems = list(range(50))
    train, dev = split_dev(problems, 10, seed=3)
    assert len(dev) == 10 and sorted(train + dev) == problems
    assert split_dev(problems, 10, seed=3) == (train, dev) and split_dev(problems, 10, seed=4)[1] != dev


def test_trimmed_vocab_keeps_data_tokens_digits_and_specials():
    tokenizer, keep = build_tokenizer(VOCAB / "derived" / "ape210k_simplified_vocab.txt")
    assert keep is None
    full, _ = training_buckets(SAMPLES, tokenizer, 64, batch_size=2, seed=0)
    buckets, trimmed = training_buckets(SAMPLES, tokenizer, 64, batch_size=2, seed=0, trim=True)
    assert len(trimmed) < len(tokenizer)
    assert [trimmed.id_to_token(i) for i in range(4)] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    assert all(trimmed.token_to_id(t) != trimmed.token_to_id("[UNK]") for t in DIGIT_PIECES if t in tokenizer.vocab)
    decode = lambda tok, bucket: [[tok.id_to_token(i) for i in ids] for ids in bucket["input_ids"]]  # noqa: E731
    assert [decode(trimmed, b) for b in buckets] == [decode(tokenizer, b) for b in full]  # same text, new ids
    assert sorted(len(ids) for b in buckets for ids in b["input_ids"]) == [len(ids) for b in buckets for ids in
                                                                        b["input_ids"]]


def test_number_placeholders_mask_question_and_expression():
    tokenizer, _ = build_tokenizer(VOCAB / "derived" / "ape210k_simplified_vocab.txt", number_placeholders=True)
    buckets, trimmed = training_buckets(SAMPLES[:1], tokenizer, 64, batch_size=1, seed=0,
                                        number_placeholders=True, trim=True)
    tokens = [trimmed.id_to_token(i) for i in buckets[0]["input_ids"][0]]
    assert tokens.count("[n0]") == 2 and tokens.count("[n1]") == 2 and "3" not in tokens
    assert all(trimmed.token_to_id(p) != trimmed.token_to_id("[UNK]") for p in PLACEHOLDERS)
