"""Signals: what the router observes about a request (keywords, similarity, domain, language, ...).

* :mod:`semrouter.signals.config`: every signal's pydantic config (what :mod:`semrouter.config` needs);
* :mod:`semrouter.signals.result`: :class:`SignalResult`, what a signal reports;
* :mod:`semrouter.signals.base` and one module per family: the evaluators, which read the request context;
* :mod:`semrouter.signals.registry`: ``type`` → (config, evaluator), and :func:`build_signal`.

This package module imports none of them, so importing the config does not load the evaluators.
"""
