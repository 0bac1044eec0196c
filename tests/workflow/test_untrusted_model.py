"""A model folder swapped for one carrying a pickle payload, in a results folder the workflow
reuses: the prediction rule refuses it naming the file, and the payload never runs."""

import shutil

import torch

from conftest import Payload, snakemake


def test_the_workflow_never_runs_code_from_a_model_folder(demo_run, tmp_path):
    work = tmp_path / "wf"
    shutil.copytree(demo_run, work, symlinks=True)
    weights = work / "results/codeae/codeae_adv/demotinib/model/weights.pt"
    marker = tmp_path / "executed"
    torch.save({"format": "drugshift-model", "tensors": {}, "x": Payload(marker)}, weights)
    proc = snakemake(["--cores", "1", "--forcerun", "predict_codeae",
                      "results/codeae/codeae_adv/demotinib/predictions.parquet"], work, check=False)
    assert proc.returncode != 0
    log = work / "logs/codeae/predict/codeae_adv/demotinib.log"
    text = (log.read_text() if log.exists() else "") + proc.stdout + proc.stderr
    assert "not readable as drugshift weights" in text and "weights.pt" in text, text[-3000:]
    assert not marker.exists()
