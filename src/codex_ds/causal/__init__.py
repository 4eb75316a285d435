"""Observational causal effects: does a feature that users choose (chat, say) change an outcome?

Estimators take arrays (:class:`~codex_ds.causal.design.CausalData`) and return values
(:class:`~codex_ds.causal.effects.EffectEstimate` or a
:class:`~codex_ds.causal.effects.CausalError` saying why not):

* :mod:`~codex_ds.causal.propensity` -- logit/probit propensity model and its calibration;
* :mod:`~codex_ds.causal.matching` -- nearest-neighbour matching on the logit of the score
  (1:k, with or without replacement, caliper), Abadie–Imbens standard errors;
* :mod:`~codex_ds.causal.weighting` -- IPW (stabilised, Crump trimming, effective sample size);
* :mod:`~codex_ds.causal.doubly_robust` -- AIPW; :mod:`~codex_ds.causal.regression` --
  regression adjustment; :mod:`~codex_ds.causal.stratification` -- subclassification;
* :mod:`~codex_ds.causal.bootstrap` -- percentile intervals (a batched fast path for AIPW);
* :mod:`~codex_ds.causal.balance` -- SMD balance tables and overlap diagnostics;
* :mod:`~codex_ds.causal.sensitivity` -- E-value, Rosenbaum bounds, refutations;
* :mod:`~codex_ds.causal.estimate` -- everything at once (``codex-ds causal estimate``);
* :mod:`~codex_ds.causal.dataset` -- the per-user table from the warehouse (the I/O edge).

Methods, formulas and references: docs/METHODOLOGY.md, "Causal inference".
"""
