"""Rule paper_codeae_maps: CODE-AE Fig. 2a-c — cell lines and patients on one t-SNE map of the
original expression, of a plain autoencoder's embedding and of CODE-AE-ADV's embedding, by domain
and tissue, each titled with its cross-validated domain-classifier AUROC (from pretraining's
deconfounding.json where there is one)."""

import json

import pandas as pd

from drugshift import runlog
from drugshift.cohorts import match_samples, read_samples, tcga_study
from drugshift.deconfounding import domain_auroc
from drugshift.domain_map import domain_map, embed_with_encoder
from drugshift.io.depmap import read_sample_info
from drugshift.io.gdsc import read_cell_line_details
from drugshift.models.codeae import CodeAE
from drugshift.plots import save_figure
from drugshift.plots.codeae_paper import domain_embedding

log = runlog.start(snakemake.log[0])
inp, out, seed = snakemake.input, snakemake.output, snakemake.params.seed
cell_lines = pd.read_parquet(inp.cell_lines)
patients = pd.read_parquet(inp.patients).drop(columns="cohort")
# Tissue per sample as a TCGA study code: the cohorts' phenotypes, and GDSC's TCGA cancer type of
# the cell lines (without it, DepMap's primary disease: another vocabulary).
tissues = [tcga_study(match_samples(read_samples(path), patients.index)["tumour_type"].dropna())
           for key, path in inp.items() if key.startswith("samples_")]
if "cell_line_details" in inp.keys():  # cell lines are keyed by COSMIC id
    details = read_cell_line_details(inp.cell_line_details)
    tissues.append(pd.Series(details["tcga_type"].to_numpy(), index=details["cosmic_id"].astype(str)).dropna())
elif "cell_line_info" in inp.keys():
    info = read_sample_info(inp.cell_line_info).dropna(subset=["cosmic_id"])
    tissues.append(pd.Series(info["primary_disease"].to_numpy(), index=info["cosmic_id"].astype(str)))
tissue = pd.concat(tissues) if tissues else pd.Series(dtype=str)
tissue = tissue[~tissue.index.duplicated()]
representations = {"codeae_fig2a": ("original expression", None), "codeae_fig2b": ("plain-AE embedding", "encoder_ae"),
                   "codeae_fig2c": ("CODE-AE-ADV embedding", "encoder_codeae_adv")}
reported = {}  # representation -> the AUROC pretraining measured
for key in inp.keys():
    if key.startswith("deconfounding_"):
        with open(inp[key]) as f:
            aurocs = json.load(f)["domain_auroc"]
        reported["input"] = aurocs["input"]
        reported[f"encoder_{key.removeprefix('deconfounding_')}"] = aurocs["embedding"]
for key, (title, encoder) in representations.items():
    if key not in out.keys():
        continue
    source, target = cell_lines, patients
    if encoder:
        model = CodeAE.load(inp[encoder])
        source, target = embed_with_encoder(model, cell_lines), embed_with_encoder(model, patients)
    auroc = reported.get(encoder or "input")
    if auroc is None:
        auroc = domain_auroc(source.to_numpy(), target.to_numpy(), seed=seed)
    coords = domain_map(source, target, seed=seed, tissue=tissue)
    save_figure(domain_embedding(coords, title, domain_auroc=auroc), out[key])
    log.info("%s: %d cell lines, %d patients, domain AUROC %.3f", title, len(source), len(target), auroc)
