"""Multi-turn chit-chat language models (NEZHA-GPT and CDial-GPT formats)."""

from dialog.chatbot import PRESETS, ChatBot
from dialog.data import read_dialogs, split_dev
from dialog.formats import CDialGPTFormat, DialogInputError, NezhaGPTFormat, build_nezha_gpt_vocab
from dialog.metrics import bleu, distinct

__all__ = ["ChatBot", "PRESETS", "NezhaGPTFormat", "CDialGPTFormat", "DialogInputError", "build_nezha_gpt_vocab",
           "read_dialogs", "split_dev", "bleu", "distinct"]
