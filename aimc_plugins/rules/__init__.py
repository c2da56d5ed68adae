"""Transfer rules: Tiki-Taka variants in plain Python over aihwkit's compiled tiles.

A rule (:class:`~aimc_plugins.rules.rule.TransferRule`) declares its arrays
(:class:`~aimc_plugins.rules.rule.Array`) and acts on them after each gradient update through
:class:`~aimc_plugins.rules.arrays.Arrays`; :func:`~aimc_plugins.rules.setup.rule_setup` turns it
into the ``TrainingSetup`` an optimizer factory returns. The public names are re-exported from
:mod:`aimc_plugins`.
"""
