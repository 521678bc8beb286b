"""The typed config: six sections (data, model, train, eval, output, tune), validated at the edge.

Every field has a best-practice default and a description. Unknown keys are errors with a
"did you mean"; every error is reported at once with the file, the YAML line and the dotted key.
Loading never imports torch, so ``deepfit config show`` stays fast.

One module per part: ``base`` (the section base class), ``data``, ``model``, ``train`` and ``run`` (eval,
output, tune and the whole ``Config``) hold the schema; ``loading`` reads YAML, dicts and ``--set``
overrides; ``messages`` turns validation errors into plain words. Everything public is re-exported here.
"""

from deepfit.config.architectures import (
    AutoModelConfig,
    ConvConfig,
    CustomConfig,
    GANConfig,
    MLPConfig,
    NGramConfig,
    RNNConfig,
    TabMConfig,
    TextRNNConfig,
    TransformerConfig,
)
from deepfit.config.base import NamedSection, Section
from deepfit.config.data import (
    AugmentConfig,
    CleanConfig,
    DataConfig,
    ImageConfig,
    PreprocessConfig,
    SequenceConfig,
    SplitConfig,
    StreamConfig,
    TextConfig,
    TimeSeriesConfig,
)
from deepfit.config.loading import flatten, load_config, load_saved_config, merge_overrides, parse_overrides
from deepfit.config.model import ModelConfig, saved_model_config
from deepfit.config.run import Config, EvalConfig, OutputConfig, PrunerConfig, SamplerConfig, TuneConfig
from deepfit.config.train import (
    DiagnosticsConfig,
    EarlyStoppingConfig,
    FineTuneConfig,
    OptimizerConfig,
    ScheduleConfig,
    TrainConfig,
)

__all__ = [
    "AugmentConfig",
    "AutoModelConfig",
    "CleanConfig",
    "Config",
    "ConvConfig",
    "CustomConfig",
    "DataConfig",
    "DiagnosticsConfig",
    "EarlyStoppingConfig",
    "EvalConfig",
    "FineTuneConfig",
    "GANConfig",
    "ImageConfig",
    "MLPConfig",
    "ModelConfig",
    "NGramConfig",
    "NamedSection",
    "OptimizerConfig",
    "OutputConfig",
    "PreprocessConfig",
    "PrunerConfig",
    "RNNConfig",
    "SamplerConfig",
    "ScheduleConfig",
    "Section",
    "SequenceConfig",
    "SplitConfig",
    "StreamConfig",
    "TabMConfig",
    "TextConfig",
    "TextRNNConfig",
    "TimeSeriesConfig",
    "TrainConfig",
    "TransformerConfig",
    "TuneConfig",
    "flatten",
    "load_config",
    "load_saved_config",
    "merge_overrides",
    "parse_overrides",
    "saved_model_config",
]
