import hashlib

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from drugshift.simulate import DemoSpec, ScDatasetSpec, simulate_demo


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _small_spec(seed=1):
    return DemoSpec(seed=seed, n_cell_lines=60, n_background_genes=80, n_patients=40, n_pdtc=8,
                    datasets=[ScDatasetSpec("SC1", "Demotinib", "lung", 120, 0.5, ("a", "b"))])


def test_same_seed_gives_byte_identical_files(tmp_path):
    simulate_demo(tmp_path / "a", _small_spec())
    simulate_demo(tmp_path / "b", _small_spec())
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert a == b and len(a) >= 15
    simulate_demo(tmp_path / "c", _small_spec(seed=2))
    assert _digest(tmp_path / "c") != a


def test_planted_program_drives_auc_and_cells(demo_world):
    folder, truth = demo_world
    drug = "Demotinib"
    genes = truth["drugs"][drug]["response_genes"]
    expr = pd.read_csv(folder / "gdsc/Cell_line_RMA_proc_basalExp.txt", sep="\t", index_col=0).drop(columns="GENE_title")
    response = pd.read_csv(folder / "gdsc/GDSC2_fitted_dose_response.csv")
    response = response[response["DRUG_NAME"] == drug].set_index("COSMIC_ID")["AUC"]
    # The program's score (mean of its positively loaded genes) must anti-correlate with AUC.
    score = expr.loc[genes].T
    score.index = score.index.str.replace("DATA.", "").astype(int)
    pc1 = score.sub(score.mean()).to_numpy() @ np.linalg.svd(score.sub(score.mean()).to_numpy(), full_matrices=False)[2][0]
    rho = spearmanr(pc1, response.reindex(score.index), nan_policy="omit").correlation
    assert abs(rho) > 0.5, rho
    # A decoy background gene carries no such signal.
    decoy = expr.loc["GENE0001"].to_numpy()
    assert abs(spearmanr(decoy, response.reindex(score.index), nan_policy="omit").correlation) < 0.3


def test_single_cells_have_qc_tail_and_truth(demo_world):
    folder, truth = demo_world
    counts = pd.read_csv(folder / "geo/GSEDEMO1/GSEDEMO1_counts.txt.gz", sep="\t", index_col=0)
    meta = pd.read_csv(folder / "geo/GSEDEMO1/GSEDEMO1_cell_metadata.csv")
    assert list(counts.columns) == list(meta["cell"])
    assert (counts.to_numpy() >= 0).all() and np.issubdtype(counts.to_numpy().dtype, np.integer)
    mito = counts.loc[counts.index.str.startswith("MT-")].sum() / counts.sum()
    assert 0.02 < mito.median() < 0.08
    assert (mito > 0.1).mean() > 0.02  # damaged cells for QC to remove
    assert meta["response"].sum() == truth["datasets"]["GSEDEMO1"]["n_sensitive"]
    assert set(meta["condition"]) == {"DMSO", "Demotinib_resistant"}
