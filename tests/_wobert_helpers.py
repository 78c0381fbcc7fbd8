"""Shared test data for the wobert / zoo tokenizer tests: spec vectors, hub-layout folders, tiny checkpoints."""

import json
import shutil

import torch
from conftest import VOCAB
from transformers import BertConfig, BertForMaskedLM

# §8.1: text -> (plus ids, base ids or None)
WOBERT_VECTORS = [
    ("今天天气很好，我想去公园玩。", [101, 306, 1231, 1231, 2653, 1722, 1266, 5661, 1909, 1857, 752, 9804, 3188, 179, 102],
     [2, 690, 1820, 1820, 3597, 2422, 1861, 7923, 2668, 2581, 1242, 14772, 4280, 410, 3]),
    ("我爱北京天安门", [101, 1909, 3101, 11447, 38331, 102], [2, 2668, 4162, 13626, 13631, 3]),
    ("WoBERT是以词为单位的中文BERT模型。",
     [101, 164, 48920, 49258, 2274, 323, 4628, 230, 11732, 3399, 7456, 5850, 48979, 22290, 179, 102], None),
    ("他说：“你好！”", [101, 314, 4656, 5663, 175, 8967, 5658, 176, 102], [2, 699, 6331, 7937, 1, 20632, 7912, 1, 3]),
    ("T恤衫打8折，iPhone 12售价5999元",
     [101, 161, 1799, 4515, 1939, 129, 1970, 5661, 48063, 5680, 13312, 35520, 48559, 501, 102], None),
    ("Café的咖啡很好喝", [101, 43266, 3399, 13205, 1722, 15209, 102], None),
    ("科学空间：https://kexue.fm",
     [101, 26833, 27030, 5663, 47590, 131, 120, 120, 152, 48781, 49021, 119, 5938, 102], None),
    ("我们在2020年9月开源了WoBERT", [101, 18578, 1101, 43169, 1625, 130, 2334, 17444, 266, 164, 48920, 49258, 102],
     [2, 13588, 1661, 8337, 2298, 29, 3198, 2357, 3874, 648, 64, 10945, 10605, 3]),
    ("   多个   空格\t和\n换行  ", [101, 14438, 27012, 873, 2068, 4503, 102], [2, 15148, 4857, 3318, 1368, 2839, 6020, 3]),
    ("abc☃def中国", [101, 35613, 100, 5893, 48565, 7423, 102], None),
]
DECODE_VECTORS = [
    ("WoBERT是以词为单位的中文BERT模型。", "wobert是以词为单位的中文bert 模型。"),
    ("T恤衫打8折，iPhone 12售价5999元", "t恤衫打8折，iphone 12 售价5999元"),
    ("科学空间：https://kexue.fm", "科学空间：https: //kexue. fm"),
    ("1.5+2=3.5", "1.5+2=3.5"),
]


def hub_folder(tmp_path_factory, kind: str):
    """The junnyu/wobert_chinese_{base,plus_base} layout: config.json, vocab.txt, tokenizer_config.json naming
    WoBertTokenizer, special_tokens_map.json."""
    folder = tmp_path_factory.mktemp(f"wobert_{kind}")
    shutil.copy(VOCAB / f"wobert_{kind}_vocab.txt", folder / "vocab.txt")
    shutil.copy(VOCAB / f"wobert_{kind}_config.json", folder / "config.json")
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": True, "tokenizer_class": "WoBertTokenizer"}), encoding="utf-8")
    specials = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                "mask_token": "[MASK]"}
    (folder / "special_tokens_map.json").write_text(json.dumps(specials), encoding="utf-8")
    return folder


TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=128, type_vocab_size=2)


def tiny_bert(folder, vocab_file):
    """A random BertForMaskedLM saved like the hub checkpoints (plus its vocab.txt)."""
    torch.manual_seed(0)
    vocab_size = sum(1 for _ in open(vocab_file, encoding="utf-8"))
    model = BertForMaskedLM(BertConfig(vocab_size=vocab_size, **TINY)).eval()
    model.save_pretrained(folder)
    shutil.copy(vocab_file, folder / "vocab.txt")
    return model
