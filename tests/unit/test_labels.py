import numpy as np
import pandas as pd
import pytest

from drugshift.labels import (
    binarise_drug,
    condition_labels,
    threshold_labels,
    waterfall_cutoff,
    waterfall_labels,
)


def test_linear_curve_cuts_at_median():
    auc = pd.Series(np.linspace(0.2, 0.9, 101), index=[f"c{i}" for i in range(101)])
    cut = waterfall_cutoff(auc)
    assert cut.branch == "median"
    assert cut.linearity > 0.99
    assert cut.cutoff == pytest.approx(0.55)
    labels = waterfall_labels(auc)
    assert labels.index.equals(auc.index)
    assert labels.sum() == 50  # strictly below the median
    assert labels["c0"] == 1 and labels["c100"] == 0


def test_bent_curve_cuts_at_the_elbow():
    # 80 resistant lines on a plateau near 0.95 and 20 sensitive lines dropping steeply:
    # the point farthest from the chord is the last plateau point before the drop.
    plateau = np.linspace(0.97, 0.90, 80)
    drop = np.linspace(0.60, 0.10, 20)
    auc = pd.Series(np.concatenate([plateau, drop]))
    cut = waterfall_cutoff(auc)
    assert cut.branch == "max_distance"
    assert cut.linearity < 0.95
    assert cut.cutoff == pytest.approx(0.90)
    labels = waterfall_labels(auc)
    assert labels.sum() == 20
    assert (labels[80:] == 1).all() and (labels[:80] == 0).all()


def test_cutoff_is_the_max_perpendicular_distance_point():
    # Hand-built: sorted y = [1.0, 0.98, 0.96, 0.94, 0.2, 0.0]; the chord from (0, 1) to (5, 0) is
    # y = 1 - x/5, so the vertical gaps are 0, 0.18, 0.36, 0.54, 0, 0: the elbow is 0.94, not the
    # median 0.95.
    cut = waterfall_cutoff(pd.Series([0.2, 0.0, 0.94, 1.0, 0.96, 0.98]))  # unsorted on purpose
    assert cut.branch == "max_distance" and cut.linearity < 0.95
    assert cut.cutoff == pytest.approx(0.94)


def test_missing_auc_stays_missing():
    auc = pd.Series([0.1, np.nan, 0.5, 0.9, 0.8, 0.3])
    labels = waterfall_labels(auc)
    assert np.isnan(labels[1])
    assert labels.notna().sum() == 5


def test_too_few_values_is_an_error():
    with pytest.raises(ValueError, match="at least 3"):
        waterfall_cutoff(pd.Series([0.1, np.nan, 0.2]))


def test_threshold_methods():
    auc = pd.Series([0.1, 0.2, 0.3, 0.4, 1.0])
    assert threshold_labels(auc, "mean").tolist() == [1, 1, 1, 0, 0]  # mean 0.4
    assert threshold_labels(auc, "median").tolist() == [1, 1, 0, 0, 0]
    z = pd.Series([-1.0, 0.5, -0.1, 2.0, np.nan])
    assert threshold_labels(auc, "zscore", z)[:4].tolist() == [1, 0, 1, 0]
    with pytest.raises(ValueError, match="unknown threshold"):
        threshold_labels(auc, "mode")


def test_binarise_drug_prefers_later_dataset():
    response = pd.DataFrame({
        "dataset": ["GDSC1", "GDSC2", "GDSC2", "GDSC2", "GDSC1"],
        "cosmic_id": [1, 1, 2, 3, 4],
        "cell_line_name": ["A", "A", "B", "C", "D"],
        "drug": ["X"] * 5,
        "auc": [0.1, 0.9, 0.2, 0.5, 0.3],
        "z_score": [0.0] * 5,
    })
    table = binarise_drug(response, "X", "median", ["GDSC1", "GDSC2"])
    assert table.set_index("cell_line").loc["1", "auc"] == 0.9
    assert len(table) == 4
    with pytest.raises(ValueError, match="not in the response table"):
        binarise_drug(response, "Y")


def test_condition_labels():
    cond = pd.Series(["DMSO", "resistant", "400nM", "withdrawn", "other"])
    labels = condition_labels(cond, ["DMSO", "400nM"], ["resistant", "withdrawn"])
    assert labels.tolist()[:4] == [1, 0, 1, 0]
    assert np.isnan(labels.iloc[4])
    with pytest.raises(ValueError, match="both sensitive and resistant"):
        condition_labels(cond, ["DMSO"], ["DMSO"])


def test_condition_labels_match_numeric_codes_across_types():
    codes = pd.Series([1.0, 0.0, np.nan, 1.0])  # a 0/1 column with a gap reads as float
    labels = condition_labels(codes, [1], ["0"])
    assert labels.tolist()[:2] == [1, 0] and np.isnan(labels.iloc[2]) and labels.iloc[3] == 1
