"""Shared test setup: offline hub, few threads, paths to ../shared."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NLPZOO_SHARED", REPO.parent / "shared"))
VOCAB = SHARED / "vocab"
DATA = SHARED / "data"


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared data folder not found at {SHARED} (set NLPZOO_SHARED)")
    return SHARED


@pytest.fixture
def fresh_accelerate_state():
    """Each Trainer builds an Accelerator; accelerate keeps process-wide singletons between them."""
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    yield
    AcceleratorState._reset_state(True)
    GradientState._reset_state()
