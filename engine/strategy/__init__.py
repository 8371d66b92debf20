"""The plugin API and what runs a plugin: params, the Strategy base class, the plugin
loader, the pipeline from bars to Signals (features, cached walk-forward predictions,
the signal rule), the signal funnel and the no-lookahead audit."""

from mlbt.strategy.base import Conditions, Context, Grid, Param, Strategy
from mlbt.strategy.funnel import funnel_lines, signal_funnel
from mlbt.strategy.lookahead import StageResult, audit
from mlbt.strategy.pipeline import Prepared, features_of, make_signals, prepare
from mlbt.strategy.plugins import PluginError, load_strategy
from mlbt.strategy.universe import ALLOCATIONS, prepare_assets, universe_signals

__all__ = ["ALLOCATIONS", "Conditions", "Context", "Grid", "Param", "PluginError", "Prepared", "StageResult",
           "Strategy", "audit", "features_of", "funnel_lines", "load_strategy", "make_signals", "prepare",
           "prepare_assets", "signal_funnel", "universe_signals"]
