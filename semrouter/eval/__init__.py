"""``semrouter eval`` and ``semrouter bench``: prove on your own data that routing pays off.

One module per command (:mod:`classify`, :mod:`jailbreak`, :mod:`pii`, :mod:`cache`, :mod:`reasoning`,
:mod:`load`), the metric arithmetic in :mod:`metrics` (pure functions, no plotting), and the Markdown/PNG
report in :mod:`report`. The evaluations run the real pipeline offline through the dry-run path
(:func:`semrouter.dryrun.route_request`), so a figure describes exactly what live traffic would get.

This package stays light to import: ``semrouter --help`` loads :mod:`semrouter.eval.cli` (argparse only);
models, numpy and matplotlib are imported by the command that needs them.
"""
