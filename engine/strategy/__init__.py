"""The plugin API and what runs a plugin: params, the Strategy base class, the plugin
loader, the pipeline from bars to Signals (features, cached walk-forward predictions,
the signal rule), the signal funnel and the no-lookahead audit."""

from mlbt.strategy.base import Conditions, Context, Grid, Param, Strategy
from mlbt.strategy.cross_section import CrossContext, check_cross, is_cross_sectional
from mlbt.strategy.funnel import (
    FEW_TRADES,
    bankrupt_notes,
    few_trades_notes,
    funnel_lines,
    merged_funnel,
    signal_funnel,
)
from mlbt.strategy.lookahead import StageResult, audit, audit_cross, audit_pooled
from mlbt.strategy.pipeline import Prepared, features_of, make_signals, prepare
from mlbt.strategy.plugins import PluginError, load_strategy
from mlbt.strategy.pooled import is_pooled
from mlbt.strategy.twins import Twins, random_twins, tradable_start
from mlbt.strategy.universe import (
    ALLOCATIONS,
    VOL_WINDOW,
    UniverseContext,
    prepare_assets,
    prepare_context,
    resolve_allocation,
    universe_signals,
)

__all__ = ["ALLOCATIONS", "Conditions", "Context", "CrossContext", "FEW_TRADES", "Grid", "Param", "PluginError",
           "Prepared", "StageResult", "Strategy", "Twins", "UniverseContext", "VOL_WINDOW", "audit", "audit_cross",
           "audit_pooled", "bankrupt_notes", "check_cross", "features_of", "few_trades_notes", "funnel_lines",
           "is_cross_sectional", "is_pooled", "load_strategy", "make_signals", "merged_funnel", "prepare",
           "prepare_assets", "prepare_context", "random_twins", "resolve_allocation", "signal_funnel",
           "tradable_start", "universe_signals"]
