"""What we rely on inside transformers, named so that the next rename is found by CI, not by a user.

Each assertion message names the installed transformers version and the code of ours that depends on it."""

import inspect

import transformers
import wobert
from transformers import PreTrainedTokenizer
from transformers.utils import ModelOutput

from wobert.tokenization import WoBertTokenizer

VERSION = transformers.__version__

# keyword arguments that WoBertTokenizer._encode_plus passes on to PreTrainedTokenizer._encode_plus (the generic
# path for pre-tokenized input); return_offsets_mapping and split_special_tokens arrive through **kwargs
ENCODE_PLUS_ARGS = {
    "text", "text_pair", "add_special_tokens", "padding_strategy", "truncation_strategy", "max_length", "stride",
    "is_split_into_words", "pad_to_multiple_of", "padding_side", "return_tensors", "return_token_type_ids",
    "return_attention_mask", "return_overflowing_tokens", "return_special_tokens_mask", "return_length",
    "verbose", "kwargs",
}


def test_slow_tokenizer_hooks_we_override_still_exist():
    for hook in ("_encode_plus", "_tokenize", "_convert_token_to_id", "_convert_id_to_token"):
        assert hasattr(PreTrainedTokenizer, hook), (
            f"transformers {VERSION}: PreTrainedTokenizer.{hook} is gone; WoBertTokenizer (wobert/tokenization.py) "
            f"overrides it")
    params = set(inspect.signature(PreTrainedTokenizer._encode_plus).parameters)
    missing = ENCODE_PLUS_ARGS - params
    assert not missing, (f"transformers {VERSION}: PreTrainedTokenizer._encode_plus no longer takes {sorted(missing)}; "
                         f"WoBertTokenizer._encode_plus mirrors that signature")


def test_calls_are_routed_through_encode_plus(monkeypatch):
    tok = WoBertTokenizer.from_pretrained(wobert.default_tokenizer_path())
    calls = []
    original = WoBertTokenizer._encode_plus

    def spy(self, *args, **kwargs):
        calls.append(kwargs.get("text", args[0] if args else None))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(WoBertTokenizer, "_encode_plus", spy)
    tok("今天天气很好")
    tok(["今天", "天气"], padding=True)
    tok("我爱北京", "天安门", return_offsets_mapping=True)
    assert len(calls) == 3, (f"transformers {VERSION}: PreTrainedTokenizer.__call__ no longer reaches _encode_plus "
                             f"for str / batch / pair input; the WoBERT fast path (offsets, exact bert4keras "
                             f"tokenization) would be skipped")


def test_model_output_base_we_subclass():
    params = inspect.signature(ModelOutput.__init__).parameters
    assert "args" in params or "kwargs" in params, f"transformers {VERSION}: ModelOutput.__init__ changed"
    assert hasattr(ModelOutput, "to_tuple"), f"transformers {VERSION}: ModelOutput.to_tuple is gone (zoo/modeling.py)"
