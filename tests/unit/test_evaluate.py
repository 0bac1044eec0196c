"""Benchmark metrics: drugshift.evaluate."""

import math

import numpy as np
import pytest
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

from drugshift.evaluate import DEFAULT_THRESHOLD, classification_metrics, predicted_labels

KEYS = {"f1", "auroc", "ap", "precision", "recall", "ami", "ari", "f1_weighted", "n", "n_sensitive"}


def test_metrics_on_a_hand_made_example():
    y = [1, 1, 0, 0]
    p = [0.9, 0.4, 0.6, 0.1]  # predicted labels 1, 0, 1, 0: TP 1, FN 1, FP 1, TN 1
    m = classification_metrics(y, p)
    assert set(m) == KEYS
    assert m["precision"] == pytest.approx(0.5)
    assert m["recall"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(0.5)
    assert m["auroc"] == pytest.approx(0.75)  # 3 of 4 positive/negative pairs ranked right
    assert m["ap"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert m["ami"] == pytest.approx(adjusted_mutual_info_score(y, [1, 0, 1, 0]))
    assert m["ari"] == pytest.approx(adjusted_rand_score(y, [1, 0, 1, 0]))
    assert m["f1_weighted"] == pytest.approx(0.5)
    assert m["n"] == 4 and m["n_sensitive"] == 2


def test_perfect_and_inverted_predictions():
    y = np.array([0, 0, 1, 1, 1])
    good = classification_metrics(y, [0.1, 0.2, 0.8, 0.9, 0.7])
    assert good["f1"] == good["auroc"] == good["ap"] == good["ami"] == good["ari"] == 1.0
    bad = classification_metrics(y, [0.9, 0.8, 0.2, 0.1, 0.3])
    assert bad["auroc"] == 0.0 and bad["f1"] == 0.0
    # inverted labels are perfectly informative for AMI/ARI, which ignore label names
    assert bad["ari"] == pytest.approx(1.0)


def test_threshold_is_inclusive():
    assert DEFAULT_THRESHOLD == 0.5
    assert predicted_labels([0.49, 0.5, 0.51]).tolist() == [0, 1, 1]
    assert predicted_labels(np.float32([0.5])).tolist() == [1]  # float32 0.5 is exact
    m = classification_metrics([0, 1], [0.5, 0.5])
    assert m["recall"] == 1.0 and m["precision"] == 0.5
    assert classification_metrics([0, 1], [0.5, 0.7], threshold=0.6)["f1"] == 1.0


def test_single_class_gives_nan_not_an_error():
    m = classification_metrics([1, 1, 1], [0.9, 0.2, 0.7])
    assert math.isnan(m["auroc"]) and math.isnan(m["ap"])
    assert m["recall"] == pytest.approx(2 / 3)
    m0 = classification_metrics([0, 0], [0.1, 0.2])
    assert m0["f1"] == 0.0 and m0["n_sensitive"] == 0


@pytest.mark.parametrize(
    "y, p, match",
    [
        ([0, 1], [0.5], "values"),
        ([], [], "at least one"),
        ([0, 2], [0.1, 0.2], "0/1"),
        ([0, 1], [0.1, 1.2], r"\[0, 1\]"),
        ([0, 1], [0.1, float("nan")], "finite"),
    ],
)
def test_bad_inputs_raise(y, p, match):
    with pytest.raises(ValueError, match=match):
        classification_metrics(y, p)


def test_predicted_labels_keep_the_shape_and_label_missing_as_resistant():
    prob = np.array([[0.2, np.nan], [0.5, 0.8]])
    labels = predicted_labels(prob, threshold=0.6)
    assert labels.shape == (2, 2) and labels.tolist() == [[0, 0], [0, 1]]
