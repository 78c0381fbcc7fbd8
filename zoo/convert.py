"""`zoo convert SRC DST`: an original TF checkpoint or bert4keras `.weights` file -> a Hugging Face folder.

    zoo convert chinese_wobert_plus_L-12_H-768_A-12 wobert-plus-hf
    zoo convert nezha_gpt_dialog nezha-gpt-dialog-hf
    zoo convert my_task/best_model.weights my-task-hf     # bert_config.json / config.json beside it

Plain BERT (absolute positions) is written as a standard `BertForMaskedLM` folder (model_type "bert", Hugging
Face weight names, MLM decoder tied to the word embeddings) that vanilla `transformers` loads; NEZHA (relative
positions, which transformers 5 no longer ships) is written in the zoo's own layout (model_type "zoo"). Both load
with `zoo.from_pretrained(DST)`. vocab.txt is copied and the BERT tokenizer files are written next to it.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from .loading import CheckpointError

__all__ = ["convert"]

_BERT_KEYS = ("vocab_size hidden_size num_hidden_layers num_attention_heads intermediate_size hidden_act "
              "hidden_dropout_prob attention_probs_dropout_prob max_position_embeddings type_vocab_size "
              "initializer_range layer_norm_eps").split()


def _write_tokenizer(vocab: Path, dst: Path, do_lower_case: bool, max_length: int | None) -> None:
    """vocab.txt plus a BERT tokenizer_config.json: `AutoTokenizer` / `BertTokenizer(Fast)` build from these files
    in transformers 4 and 5 alike (no tokenizer.json, whose schema moves between releases)."""
    shutil.copyfile(vocab, dst / "vocab.txt")
    specials = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                "mask_token": "[MASK]"}
    config = {"tokenizer_class": "BertTokenizer", "do_lower_case": do_lower_case, "tokenize_chinese_chars": True,
              "strip_accents": None, **specials}
    if max_length:
        config["model_max_length"] = max_length
    (dst / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (dst / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n", encoding="utf-8")


def convert(src, dst, *, overwrite: bool = False, do_lower_case: bool = True) -> Path:
    """Write the original checkpoint at `src` (folder, TF checkpoint prefix or `.weights` file) as a Hugging Face
    folder `dst` (model.safetensors, config.json, vocab + tokenizer files when a vocab.txt is beside it)."""
    from safetensors.torch import save_file

    from .bert4keras_io import read_original

    found = read_original(src)
    if found is None:
        raise CheckpointError(f"{src} is not a TF checkpoint folder / prefix or a bert4keras .weights file "
                              "(expected bert_config.json or config.json with bert_model.ckpt.* / model.ckpt.*, "
                              "or a .weights file next to its config)")
    original, cfg, state = found
    dst = Path(dst).expanduser()
    if dst.exists() and any(dst.iterdir()) and not overwrite:
        raise FileExistsError(f"{dst} exists and is not empty; pass overwrite=True (--overwrite)")
    dst.mkdir(parents=True, exist_ok=True)

    has_head = any(k.startswith("cls.predictions.") for k in state)
    if cfg["model_type"] == "bert":
        config = {k: cfg[k] for k in _BERT_KEYS if k in cfg}
        config.update(model_type="bert", architectures=["BertForMaskedLM" if has_head else "BertModel"],
                      position_embedding_type="absolute", pad_token_id=cfg.get("pad_token_id", 0),
                      tie_word_embeddings=True)
        (dst / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        tensors = {k: v.contiguous() for k, v in state.items()}
        save_file(tensors, str(dst / "model.safetensors"), metadata={"format": "pt"})
    else:
        from .loading import from_pretrained

        model = from_pretrained(original.source, head="mlm" if has_head else None)
        model.save_pretrained(str(dst))
    vocab = original.folder / "vocab.txt"
    if vocab.is_file():
        max_length = cfg.get("max_position_embeddings") if cfg["model_type"] == "bert" else None
        _write_tokenizer(vocab, dst, do_lower_case, max_length)
    return dst


if __name__ == "__main__":  # python -m zoo.convert SRC DST (the same as `zoo convert`, without the CLI layer)
    _parser = argparse.ArgumentParser(prog="python -m zoo.convert", description=__doc__.split("\n\n")[0])
    _parser.add_argument("src")
    _parser.add_argument("dst")
    _parser.add_argument("--overwrite", action="store_true")
    _parser.add_argument("--cased", action="store_true")
    _args = _parser.parse_args()
    print(convert(_args.src, _args.dst, overwrite=_args.overwrite, do_lower_case=not _args.cased))
