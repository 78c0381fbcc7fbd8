"""nlpzoo's shared core: one transformer that loads Hugging Face checkpoints, masks, KV cache,
a batched generation engine and a small training frame. Model packages build on it."""

__version__ = "0.1.0"

from importlib import import_module as _import_module

# Public names, resolved lazily so that `import zoo` (and the CLI) stay fast.
_EXPORTS = {
    "ZooConfig": "zoo.configuration",
    "ZooModel": "zoo.modeling",
    "ZooForLM": "zoo.modeling",
    "KVCache": "zoo.cache",
    "from_pretrained": "zoo.loading",
    "generate": "zoo.generation",
    "Trainer": "zoo.training",
    "TrainingArguments": "zoo.training",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'zoo' has no attribute {name!r}")
    value = getattr(_import_module(module), name)
    globals()[name] = value
    return value


def _register_auto_classes() -> None:
    """Make `AutoConfig`/`AutoModel*` know model_type "zoo" as soon as `zoo` is imported."""
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM

    from .configuration import ZooConfig
    from .modeling import ZooForLM, ZooModel

    AutoConfig.register("zoo", ZooConfig, exist_ok=True)
    AutoModel.register(ZooConfig, ZooModel, exist_ok=True)
    AutoModelForMaskedLM.register(ZooConfig, ZooForLM, exist_ok=True)
    AutoModelForCausalLM.register(ZooConfig, ZooForLM, exist_ok=True)


_register_auto_classes()
