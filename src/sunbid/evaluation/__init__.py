"""Evaluation 评标 (SPEC E-3, E-4): evaluation methods as data, price formulas, scoring, ranking, committees.

* :mod:`sunbid.evaluation.model` — the method's frozen data model; :mod:`sunbid.evaluation.jsonread` — strict JSON
  reading with field paths (pure).
* :mod:`sunbid.evaluation.methods` — the method definition (JSON, ``sunbid.evaluation-method/1``): parsed and
  validated against the legal ranges of RULES.md §2, with errors naming the field (pure).
* :mod:`sunbid.evaluation.price` — benchmark price 评标基准价 and price scores, exact ``Decimal`` (pure).
* :mod:`sunbid.evaluation.scoring` — aggregation of expert scores, totals, ranking, ties, candidates and the
  score-deviation check of E-4 (pure).
* :mod:`sunbid.evaluation.committee` — composition rules of the evaluation committee (pure).
* :mod:`sunbid.evaluation.csvfiles` — the calculator's bids and scores CSV files, errors with line and column (pure).
* :mod:`sunbid.evaluation.cli` — ``sunbid calc price-scores | evaluate | check-method | methods | committee``.

The file format and worked examples are in ``docs/evaluation-methods.md``.
"""
