"""Risk model: tender-grouped folds, evaluation against the baseline, model files, unsupervised score, reasons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sunbid.core.errors import ValidationFailed
from sunbid.screening import model as models
from sunbid.screening.explain import explain, flagged
from sunbid.screening.features import FEATURE_NAMES, TenderTable, tender_table
from sunbid.screening.io import parse_csv_text
from sunbid.screening.service import score
from sunbid.screening.synthetic import synthetic_csv

TREES = 40  # the production forest has 500 trees; fewer keep the tests quick


@pytest.fixture(scope="module")
def table() -> TenderTable:
    return tender_table(parse_csv_text(synthetic_csv(90, seed=3)))


def test_folds_put_every_tender_in_exactly_one_test_fold_and_keep_both_classes(table: TenderTable) -> None:
    folds = models.tender_folds(table, seed=0)
    assert len(folds) == 5
    tested = np.concatenate([te for _, te in folds])
    assert sorted(tested.tolist()) == list(range(len(table)))
    ids = np.array(table.tender_ids)
    for tr, te in folds:
        assert not set(ids[tr]) & set(ids[te])
        assert set(table.labels[te]) == {0, 1}
    again = models.tender_folds(table, seed=0)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again, strict=True))


def test_folds_group_by_tender_even_when_a_tender_id_repeats() -> None:
    # Two rows of the same tender id must land in the same fold: groups are tender ids, not row numbers.
    t = TenderTable(["a", "a", "b", "c", "d", "e", "f", "g"], {}, np.array([1, 1, 0, 1, 0, 0, 1, 0]))
    for tr, te in models.tender_folds(t, seed=1, n_folds=2):
        assert (0 in te) == (1 in te)
        assert not {t.tender_ids[i] for i in tr} & {t.tender_ids[i] for i in te}


def test_unlabelled_tenders_are_left_out_of_the_folds() -> None:
    text = synthetic_csv(40, seed=5).replace(",1\n", ",\n", 8)  # a few collusive bids lose their label ...
    data = parse_csv_text(text)
    t = tender_table(data)
    assert (t.labels < 0).any()  # ... so that some tender is unlabelled
    folds = models.tender_folds(t, seed=0)
    tested = np.concatenate([te for _, te in folds])
    assert (t.labels[tested] >= 0).all()
    assert sorted(tested) == [i for i, label in enumerate(t.labels) if label >= 0]  # every labelled one is tested


def test_too_few_labelled_tenders_of_a_class_is_an_error() -> None:
    t = TenderTable(["a", "b", "c"], {}, np.array([1, 0, 0]))
    with pytest.raises(ValidationFailed) as info:
        models.tender_folds(t, seed=0)
    assert info.value.code == "screen.labels_insufficient"


def test_evaluation_reports_model_and_baseline_under_the_same_folds(table: TenderTable) -> None:
    ev = models.evaluate(table, seed=0, trees=TREES)
    d = ev.to_dict()
    assert d["tenders"] == len(table) and d["positives"] == int(table.labels.sum())
    assert 0.9 <= d["roc_auc"] <= 1.0 and d["baseline_roc_auc"] > 0.8
    assert d["cv"]["folds"] == 5 and sum(d["cv"]["fold_sizes"]) == len(table)
    assert d["baseline_features"] == ["cv", "spread", "diffp", "rd", "kurtosis", "skewness", "ks"]
    assert set(d["features"]) <= set(FEATURE_NAMES) and "win_rate_max" in d["features"]
    assert not np.isnan(ev.oof).any()
    assert models.evaluate(table, seed=0, trees=TREES).roc_auc == ev.roc_auc  # fixed seed: reproducible


def test_saved_model_reloads_to_the_same_predictions(table: TenderTable, tmp_path: Path) -> None:
    trained = models.train(table, seed=0, source="synthetic.csv", trees=TREES)
    path = tmp_path / "m.npz"
    digest = models.save_model(trained, path)
    again = models.load_model(path)
    assert again.names == trained.names and again.digest() == digest
    assert np.array_equal(again.predict(table), trained.predict(table))


def test_model_files_are_checked(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValidationFailed) as info:
        models.load_model(bad)
    assert info.value.code == "screen.model_invalid"
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros((2, 1)), y=np.array([0, 1]), meta=np.array('{"format": "x"}'))
    with pytest.raises(ValidationFailed):
        models.load_model(other)
    with pytest.raises(ValidationFailed) as missing:
        models.load_model(tmp_path / "none.npz")
    assert missing.value.code == "screen.model_not_found"


def test_unsupervised_score_ranks_synthetic_cartels_high(table: TenderTable) -> None:
    scores, ref = models.unsupervised_scores(table)
    assert ((scores > 0) & (scores < 1)).all()
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(table.labels, scores) > 0.9
    assert set(ref.names) <= set(models.UNSUPERVISED_FEATURES)


def test_reasons_are_bilingual_and_on_the_suspicious_side(table: TenderTable) -> None:
    trained = models.train(table, seed=0, trees=TREES)
    reasons = explain(table, trained.reference)
    top = int(np.argmax(trained.predict(table)))
    assert 1 <= len(reasons[top]) <= 3
    for r in reasons[top]:
        d = r.to_dict()
        assert d["text_zh"].startswith(d["name_zh"]) and d["text_en"].startswith(d["name_en"])
        assert "常见值" in d["text_zh"] and "typical" in d["text_en"]
        assert d["contribution"] > 0
    assert [c.contribution for c in reasons[top]] == sorted((c.contribution for c in reasons[top]), reverse=True)
    assert len(flagged(table, trained.reference)) == len(table)


def test_a_tender_with_ordinary_values_has_no_reason() -> None:
    ref = models.Reference(["cv"], np.array([0.05]), np.array([0.01]), np.array([-1.0]), np.array([1.0]))
    t = TenderTable(["x", "y"], {"cv": np.array([0.06, 0.01])}, np.array([-1, -1]))
    reasons = explain(t, ref)
    assert reasons[0] == []
    assert reasons[1][0].feature == "cv" and "偏低" in reasons[1][0].text_zh and "low" in reasons[1][0].text_en


def test_score_uses_cross_validation_on_labelled_and_unsupervised_on_unlabelled_files() -> None:
    labelled = parse_csv_text(synthetic_csv(40, seed=8))
    res = score(labelled, trees=TREES)
    assert res.method == "cross_validated" and res.evaluation is not None
    assert [r["rank"] for r in res.tenders] == list(range(1, 41))
    assert res.tenders[0]["score"] >= res.tenders[-1]["score"]
    unlabelled = parse_csv_text(synthetic_csv(40, seed=8).replace(",0\n", ",\n").replace(",1\n", ",\n"))
    res2 = score(unlabelled)
    assert res2.method == "unsupervised" and all(r["label"] is None for r in res2.tenders)
