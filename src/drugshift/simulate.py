"""The embedded demo world: a seeded simulator that writes raw files in the formats the real
sources publish, so every rule after it runs exactly as it would on downloaded data.

Biology of the simulation
-------------------------
* A gene universe carries ``n_programs`` latent *gene programs* (co-regulated modules of
  ``genes_per_program`` genes each), mitochondrial genes, sex-linked genes and background genes.
* Every bulk sample (cell line, patient, PDTC model) has a program-activity vector ``z``.
  Its log expression is ``baseline + loadings @ z + tissue effect + noise``.
* Each drug's response is driven by one program: the higher that program's activity, the more
  sensitive the sample (lower dose-response AUC). Those program genes are the drug's *planted
  response genes*, saved in the ground truth.
* A single-cell dataset is one cancer line split into a sensitive and a resistant subpopulation
  that differ in the drug's program, each with sub-clusters from other programs; counts are
  Poisson draws around that profile with per-cell library sizes, dropout, a mitochondrial
  fraction, and a damaged-cell tail that QC should remove.
* Domain shifts: every platform (GDSC arrays, DepMap RNA-seq, single cells, TCGA, PDTC) has its
  own gene-wise offsets and scales; patients additionally carry confounders (sex, tumour type)
  that cell lines do not.

Files written (paths relative to ``outdir``; formats as the upstream files):
``gdsc/GDSC1_fitted_dose_response.csv``, ``gdsc/GDSC2_fitted_dose_response.csv``,
``gdsc/Cell_line_RMA_proc_basalExp.txt``, ``gdsc/Cell_Lines_Details.csv``,
``depmap/CCLE_expression.csv``, ``depmap/sample_info.csv``,
``geo/<dataset>/<dataset>_counts.txt.gz`` (genes × cells UMI), ``geo/<dataset>/<dataset>_cell_metadata.csv``,
``tcga/tcga_RSEM_gene_tpm.tsv.gz`` (Xena genes × samples, log2(TPM+0.001)),
``tcga/TCGA_phenotype.tsv``, ``tcga/clinical_drug.txt``,
``pdtc/ExpressionModels.csv``, ``pdtc/DrugResponsesAUCModels.txt``,
``genesets/demo_programs.gmt`` and ``truth.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

MITO_GENES = [
    "MT-ND1", "MT-ND2", "MT-CO1", "MT-CO2", "MT-ATP8", "MT-ATP6", "MT-CO3",
    "MT-ND3", "MT-ND4L", "MT-ND4", "MT-ND5", "MT-ND6", "MT-CYB",
]
SEX_GENES = ["XIST", "RPS4Y1", "DDX3Y", "KDM5D", "UTY", "EIF1AY"]
# gzip stamps the current time into its header unless told otherwise: fix it so that the
# same seed gives byte-identical files.
GZIP = {"method": "gzip", "mtime": 0}
TISSUES = ["lung", "breast", "skin", "haematopoietic", "prostate"]
TCGA_TYPES = {"lung": "LUAD", "breast": "BRCA", "skin": "SKCM", "haematopoietic": "LAML", "prostate": "PRAD"}
DISEASES = {
    "lung": "lung adenocarcinoma", "breast": "breast invasive carcinoma",
    "skin": "skin cutaneous melanoma", "haematopoietic": "acute myeloid leukemia",
    "prostate": "prostate adenocarcinoma",
}


@dataclass
class DrugSpec:
    """A simulated drug: its name, the program that drives response, and in which screens it is."""

    name: str
    program: int
    screens: tuple[str, ...] = ("GDSC1", "GDSC2")


@dataclass
class ScDatasetSpec:
    """A simulated single-cell dataset: one cancer line treated with one drug."""

    name: str
    drug: str
    tissue: str
    n_cells: int = 600
    frac_sensitive: float = 0.5
    conditions: tuple[str, str] = ("untreated", "drug_tolerant")


@dataclass
class DemoSpec:
    """Every knob of the demo world. Defaults keep the whole demo DAG to minutes on 2 cores."""

    seed: int = 20241122
    n_cell_lines: int = 320
    n_background_genes: int = 420
    n_programs: int = 8
    genes_per_program: int = 25
    program_strength: float = 1.0
    n_patients: int = 240
    n_pdtc: int = 30
    depmap_fraction: float = 0.75
    drugs: list[DrugSpec] = field(default_factory=lambda: [
        DrugSpec("Demotinib", 0),
        DrugSpec("Simuplatin", 1),
        DrugSpec("Mocktaxel-2", 2, ("GDSC2",)),
    ])
    datasets: list[ScDatasetSpec] = field(default_factory=lambda: [
        ScDatasetSpec("GSEDEMO1", "Demotinib", "lung", 600, 0.45, ("DMSO", "Demotinib_resistant")),
        ScDatasetSpec("GSEDEMO2", "Simuplatin", "skin", 600, 0.55, ("parental", "Simuplatin_holiday")),
    ])

    @classmethod
    def from_dict(cls, d: dict) -> "DemoSpec":
        """Build a spec from the config's ``simulate`` mapping (unknown keys are an error)."""
        d = dict(d)
        d.pop("enabled", None)
        drugs = [DrugSpec(x["name"], int(x["program"]), tuple(x.get("screens", ("GDSC1", "GDSC2"))))
                 for x in d.pop("drugs", [])] or None
        datasets = [ScDatasetSpec(x["name"], x["drug"], x["tissue"], int(x.get("n_cells", 600)),
                                  float(x.get("frac_sensitive", 0.5)),
                                  tuple(x.get("conditions", ("sensitive", "resistant"))))
                    for x in d.pop("datasets", [])] or None
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown simulate keys: {unknown}; known: {sorted(known)}")
        spec = cls(**d)
        if drugs:
            spec.drugs = drugs
        if datasets:
            spec.datasets = datasets
        return spec


class _World:
    """Shared latent structure: genes, program loadings, baselines, platform shifts."""

    def __init__(self, spec: DemoSpec, rng: np.random.Generator):
        self.spec = spec
        self.rng = rng
        n_prog_genes = spec.n_programs * spec.genes_per_program
        self.program_genes = [
            [f"PRG{k + 1}G{j + 1:02d}" for j in range(spec.genes_per_program)]
            for k in range(spec.n_programs)
        ]
        background = [f"GENE{i + 1:04d}" for i in range(spec.n_background_genes)]
        self.genes = np.array(
            [g for block in self.program_genes for g in block] + background + SEX_GENES + MITO_GENES
        )
        n = len(self.genes)
        self.n_genes = n
        # Baseline log2 expression: a spread like real arrays, mito genes high.
        self.baseline = rng.normal(6.0, 1.5, n)
        self.baseline[-len(MITO_GENES):] = rng.normal(10.0, 0.5, len(MITO_GENES))
        # Loadings: program genes load on their program (some negatively), weak elsewhere.
        self.loadings = rng.normal(0.0, 0.08, (n, spec.n_programs))
        for k in range(spec.n_programs):
            sign = np.where(rng.random(spec.genes_per_program) < 0.8, 1.0, -1.0)
            rows = slice(k * spec.genes_per_program, (k + 1) * spec.genes_per_program)
            self.loadings[rows, k] = sign * rng.uniform(0.6, 1.2, spec.genes_per_program) * spec.program_strength
        self.loadings[-len(MITO_GENES) - len(SEX_GENES):] = 0.0
        self.tissue_effect = {t: rng.normal(0.0, 0.5, n) * (rng.random(n) < 0.3) for t in TISSUES}
        self.sex_idx = np.arange(n_prog_genes + spec.n_background_genes, n_prog_genes + spec.n_background_genes + len(SEX_GENES))

    def platform_shift(self, scale_sd: float, offset_sd: float) -> tuple[np.ndarray, np.ndarray]:
        """Gene-wise (scale, offset) of one measurement platform: the domain shift."""
        return (np.exp(self.rng.normal(0.0, scale_sd, self.n_genes)),
                self.rng.normal(0.0, offset_sd, self.n_genes))

    def log_expression(self, z: np.ndarray, tissues: list[str], sex: np.ndarray | None, noise: float) -> np.ndarray:
        """Samples × genes log2 expression from program activities ``z`` (samples × programs)."""
        x = self.baseline + z @ self.loadings.T
        x += np.stack([self.tissue_effect[t] for t in tissues])
        if sex is not None:
            female = (sex == "Female")[:, None]
            sex_effect = np.zeros(self.n_genes)
            sex_effect[self.sex_idx[0]] = 4.0  # XIST up in females
            sex_effect[self.sex_idx[1:]] = -4.0  # Y genes down in females
            x = x + np.where(female, sex_effect, -sex_effect) / 2
        return x + self.rng.normal(0.0, noise, x.shape)


def _drug_auc(z: np.ndarray, program: int, rng: np.random.Generator, noise: float = 0.6) -> np.ndarray:
    """Dose-response AUC in (0, 1): high activity of the drug's program → low AUC (sensitive).

    A second program contributes weakly and noise blurs the rest, so that no single gene
    predicts response perfectly.
    """
    secondary = (program + 4) % z.shape[1]
    logit = 1.2 - 1.4 * z[:, program] - 0.5 * z[:, secondary] + rng.normal(0.0, noise, len(z))
    return 1.0 / (1.0 + np.exp(-logit))


def _write_gdsc(world: _World, outdir: Path, z: np.ndarray, cosmic: np.ndarray, names: list[str],
                tissues: list[str]) -> None:
    spec, rng = world.spec, world.rng
    gdsc = outdir / "gdsc"
    gdsc.mkdir(parents=True, exist_ok=True)
    # Fitted dose response, in the official release's column layout.
    for screen in ("GDSC1", "GDSC2"):
        rows = []
        for drug_id, drug in enumerate(spec.drugs, start=1000 if screen == "GDSC2" else 1):
            if screen not in drug.screens:
                continue
            measured = rng.random(len(z)) < 0.92  # not every line is screened with every drug
            auc = _drug_auc(z, drug.program, rng)
            ln_ic50 = np.log(10.0) * (4.0 * auc - 2.0) + rng.normal(0, 0.3, len(z))
            zscore = (ln_ic50 - ln_ic50.mean()) / ln_ic50.std()
            for i in np.flatnonzero(measured):
                rows.append({
                    "DATASET": screen, "NLME_RESULT_ID": 300 + (screen == "GDSC2"),
                    "NLME_CURVE_ID": 15_000_000 + len(rows), "COSMIC_ID": int(cosmic[i]),
                    "CELL_LINE_NAME": names[i], "SANGER_MODEL_ID": f"SIDM{int(cosmic[i]) % 100000:05d}",
                    "TCGA_DESC": TCGA_TYPES[tissues[i]], "DRUG_ID": drug_id, "DRUG_NAME": drug.name,
                    "PUTATIVE_TARGET": f"PROGRAM{drug.program + 1}", "PATHWAY_NAME": "Simulated",
                    "COMPANY_ID": 1046, "WEBRELEASE": "Y", "MIN_CONC": 0.0025, "MAX_CONC": 10.0,
                    "LN_IC50": round(float(ln_ic50[i]), 6), "AUC": round(float(auc[i]), 6),
                    "RMSE": round(float(rng.uniform(0.02, 0.12)), 6), "Z_SCORE": round(float(zscore[i]), 6),
                })
        pd.DataFrame(rows).to_csv(gdsc / f"{screen}_fitted_dose_response.csv", index=False)

    # RMA basal expression: genes × cell lines, DATA.<COSMIC_ID> columns; no mito probes.
    scale, offset = world.platform_shift(0.1, 0.3)
    expr = world.log_expression(z, tissues, None, noise=0.35) * scale + offset
    keep = ~np.char.startswith(world.genes.astype(str), "MT-")
    table = pd.DataFrame(expr[:, keep].T.round(4), columns=[f"DATA.{c}" for c in cosmic])
    table.insert(0, "GENE_title", [f"simulated gene {g}" for g in world.genes[keep]])
    table.insert(0, "GENE_SYMBOLS", world.genes[keep])
    table.to_csv(gdsc / "Cell_line_RMA_proc_basalExp.txt", sep="\t", index=False)

    details = pd.DataFrame({
        "Sample Name": names, "COSMIC identifier": cosmic.astype(float),
        "Whole Exome Sequencing (WES)": "Y", "Copy Number Alterations (CNA)": "Y",
        "Gene Expression": "Y", "Methylation": "Y", "Drug Response": "Y",
        "GDSC Tissue descriptor 1": tissues, "GDSC Tissue descriptor 2": tissues,
        "Cancer Type (matching TCGA label)": [TCGA_TYPES[t] for t in tissues],
        "Microsatellite (MS) instability (I) Status = (S)table, (L)ow, (H)igh": "MSS/MSI-L",
        "Screen Medium (legend to be added)": "R", "Growth Properties": "Adherent",
    })
    details.to_csv(gdsc / "Cell_Lines_Details.csv", index=False)


def _write_depmap(world: _World, outdir: Path, z: np.ndarray, cosmic: np.ndarray, names: list[str],
                  tissues: list[str], sex: np.ndarray) -> None:
    spec, rng = world.spec, world.rng
    dep = outdir / "depmap"
    dep.mkdir(parents=True, exist_ok=True)
    n = len(z)
    ach = np.array([f"ACH-{i + 1:06d}" for i in range(n)])
    in_ccle = rng.random(n) < spec.depmap_fraction
    scale, offset = world.platform_shift(0.15, 0.6)
    # RNA-seq log2(TPM+1): compress arrays' range, clip at zero like real TPM.
    expr = np.clip(world.log_expression(z, tissues, sex, noise=0.4) * scale + offset - 1.0, 0, None)
    entrez = 1000 + np.arange(world.n_genes)
    table = pd.DataFrame(expr[in_ccle].round(6), index=ach[in_ccle],
                         columns=[f"{g} ({e})" for g, e in zip(world.genes, entrez)])
    table.to_csv(dep / "CCLE_expression.csv")
    info = pd.DataFrame({
        "DepMap_ID": ach, "stripped_cell_line_name": [x.replace("-", "") for x in names],
        "CCLE_Name": [f"{x.replace('-', '')}_{t.upper()}" for x, t in zip(names, tissues)],
        "Alias": "", "COSMICID": cosmic.astype(float), "sex": sex, "source": "DEMO",
        "RRID": "", "sample_collection_site": tissues, "primary_or_metastasis": "Primary",
        "primary_disease": [DISEASES[t] for t in tissues], "Subtype": "", "age": "",
        "Sanger_Model_ID": [f"SIDM{int(c) % 100000:05d}" for c in cosmic], "lineage": tissues,
    })
    # A few DepMap lines without a COSMIC id, as in the real table.
    info.loc[rng.random(n) < 0.03, "COSMICID"] = np.nan
    info.to_csv(dep / "sample_info.csv", index=False)


def _simulate_cells(world: _World, ds: ScDatasetSpec, z_line: np.ndarray, program: int,
                    scale: np.ndarray, offset: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    """UMI counts (cells × genes) and per-cell metadata for one single-cell dataset."""
    spec, rng = world.spec, world.rng
    n = ds.n_cells
    sensitive = rng.random(n) < ds.frac_sensitive
    z = np.tile(z_line, (n, 1)) + rng.normal(0.0, 0.35, (n, spec.n_programs))
    # The drug's program separates the subpopulations (as it separates sensitive cell lines).
    z[:, program] += np.where(sensitive, 1.0, -1.0)
    # Sub-clusters within each subpopulation, driven by a program unrelated to the drug.
    other = (program + 3) % spec.n_programs
    sub = rng.integers(0, 2, n)
    z[:, other] += np.where(sub == 1, 1.5, -1.5)
    logx = world.log_expression(z, [ds.tissue] * n, None, noise=0.2) * scale + offset
    rate = np.exp2(logx - logx.max(axis=1, keepdims=True))
    mito = np.char.startswith(world.genes.astype(str), "MT-")
    # Mitochondrial fraction ~4 %, with a damaged-cell tail at 20–40 % that QC must remove.
    damaged = rng.random(n) < 0.05
    mito_frac = np.where(damaged, rng.uniform(0.2, 0.4, n), rng.uniform(0.02, 0.06, n))
    rate[:, mito] = rate[:, mito] / rate[:, mito].sum(1, keepdims=True) * mito_frac[:, None]
    rate[:, ~mito] = rate[:, ~mito] / rate[:, ~mito].sum(1, keepdims=True) * (1 - mito_frac[:, None])
    library = rng.lognormal(np.log(4000), 0.35, n)
    library[rng.random(n) < 0.04] = rng.uniform(150, 400)  # empty droplets / low-quality cells
    counts = rng.poisson(rate * library[:, None])
    counts[rng.random(counts.shape) < 0.15] = 0  # technical dropout on top of Poisson sampling
    barcodes = ["".join(rng.choice(list("ACGT"), 12)) + f"-{i}" for i in range(n)]
    meta = pd.DataFrame({
        "cell": barcodes,
        "condition": np.where(sensitive, ds.conditions[0], ds.conditions[1]),
        "response": sensitive.astype(int),
        "subcluster": sub,
        "batch": ds.name,
    })
    return counts, meta


def _write_single_cells(world: _World, outdir: Path, z_lines: np.ndarray, tissues: list[str]) -> dict:
    spec, rng = world.spec, world.rng
    programs = {d.name: d.program for d in spec.drugs}
    truth = {}
    for ds in spec.datasets:
        if ds.drug not in programs:
            raise ValueError(f"simulate.datasets: {ds.name} uses unknown drug {ds.drug!r}")
        folder = outdir / "geo" / ds.name
        folder.mkdir(parents=True, exist_ok=True)
        # The parent line: a typical line of its tissue, neither clearly sensitive nor resistant.
        candidates = [i for i, t in enumerate(tissues) if t == ds.tissue] or list(range(len(tissues)))
        parent = int(rng.choice(candidates))
        z_line = z_lines[parent].copy()
        z_line[programs[ds.drug]] = 0.0
        scale, offset = world.platform_shift(0.2, 0.5)
        counts, meta = _simulate_cells(world, ds, z_line, programs[ds.drug], scale, offset)
        # Drop a few genes so the single-cell gene set only partly overlaps the bulk one.
        keep_genes = rng.random(world.n_genes) > 0.04
        keep_genes[np.char.startswith(world.genes.astype(str), "MT-")] = True
        table = pd.DataFrame(counts[:, keep_genes].T, columns=meta["cell"])
        table.insert(0, "GENE", world.genes[keep_genes])
        table.to_csv(folder / f"{ds.name}_counts.txt.gz", sep="\t", index=False, compression=GZIP)
        meta.to_csv(folder / f"{ds.name}_cell_metadata.csv", index=False)
        truth[ds.name] = {
            "drug": ds.drug, "n_cells": ds.n_cells, "parent_line_index": parent,
            "sensitive_condition": ds.conditions[0], "resistant_condition": ds.conditions[1],
            "n_sensitive": int(meta["response"].sum()),
        }
    return truth


def _write_patients(world: _World, outdir: Path) -> dict:
    """TCGA (Xena TPM, phenotype, clinical drug table) and PDTC (expression, AUC) cohorts."""
    spec, rng = world.spec, world.rng
    tcga = outdir / "tcga"
    tcga.mkdir(parents=True, exist_ok=True)
    n = spec.n_patients
    tissues = list(rng.choice(TISSUES, n, p=[0.3, 0.3, 0.15, 0.1, 0.15]))
    sex = np.where(rng.random(n) < 0.5, "Female", "Male")
    sex[np.array(tissues) == "prostate"] = "Male"
    z = rng.normal(0.0, 1.0, (n, spec.n_programs))
    scale, offset = world.platform_shift(0.2, 0.8)
    # Patients: strong confounders (tumour type, sex) and a purity-like global shift.
    logx = world.log_expression(z, tissues, sex, noise=0.5) * scale + offset
    for t in TISSUES:  # tumour-type effects in patients are stronger than in cell lines
        rows = np.array(tissues) == t
        logx[rows] += world.tissue_effect[t] * 1.5
    tpm = np.exp2(logx)
    tpm = tpm / tpm.sum(1, keepdims=True) * 1e6
    barcodes = [f"TCGA-DM-{i + 1:04d}" for i in range(n)]
    samples = [f"{b}-01" for b in barcodes]
    xena = pd.DataFrame(np.log2(tpm + 0.001).T.round(4), columns=samples)
    xena.insert(0, "sample", world.genes)
    xena.to_csv(tcga / "tcga_RSEM_gene_tpm.tsv.gz", sep="\t", index=False, compression=GZIP)
    pd.DataFrame({
        "sample": samples, "sample_type_id": 1, "sample_type": "Primary Tumor",
        "_primary_disease": [DISEASES[t] for t in tissues], "_gender": [s.upper() for s in sex],
    }).to_csv(tcga / "TCGA_phenotype.tsv", sep="\t", index=False)

    rows = []
    for drug in spec.drugs:
        treated = rng.random(n) < 0.3
        p_resp = 1.0 - _drug_auc(z, drug.program, rng, noise=0.6)
        for i in np.flatnonzero(treated):
            responded = rng.random() < p_resp[i]
            best = rng.choice(["Complete Response", "Partial Response"]) if responded else \
                rng.choice(["Stable Disease", "Clinical Progressive Disease"])
            rows.append({"bcr_patient_barcode": barcodes[i], "pharmaceutical_therapy_drug_name": drug.name,
                         "pharmaceutical_therapy_type": "Chemotherapy", "treatment_best_response": best,
                         "days_to_drug_therapy_start": int(rng.integers(0, 60))})
    clinical = pd.DataFrame(rows)
    # GDC-style biotab: two extra header lines under the column names.
    header2 = pd.DataFrame([["bcr_patient_barcode", "pharmaceutical_therapy_drug_name",
                             "pharmaceutical_therapy_type", "treatment_best_response",
                             "days_to_drug_therapy_start"],
                            ["CDE_ID:2003301", "CDE_ID:2975232", "CDE_ID:2840", "CDE_ID:2786", "CDE_ID:3392"]],
                           columns=clinical.columns)
    pd.concat([header2, clinical]).to_csv(tcga / "clinical_drug.txt", sep="\t", index=False)

    pdtc = outdir / "pdtc"
    pdtc.mkdir(parents=True, exist_ok=True)
    m = spec.n_pdtc
    zp = rng.normal(0.0, 1.0, (m, spec.n_programs))
    models = [f"DM{i + 1:03d}" for i in range(m)]
    scale, offset = world.platform_shift(0.15, 0.5)
    px = world.log_expression(zp, ["breast"] * m, np.array(["Female"] * m), noise=0.4) * scale + offset
    pd.DataFrame(px.round(5), index=pd.Index(models, name="Sample"), columns=world.genes).to_csv(pdtc / "ExpressionModels.csv")
    prow = []
    for drug in spec.drugs:
        auc = _drug_auc(zp, drug.program, rng)
        for i, model in enumerate(models):
            prow.append({"Model": model, "Drug": drug.name, "AUC": round(float(auc[i]), 6),
                         "iC50": round(float(np.exp(6 * auc[i])), 4), "D1_CONC": 10.0, "D5_CONC": 0.0039,
                         "perc.iC50": round(float(100 * auc[i]), 3)})
    pd.DataFrame(prow).to_csv(pdtc / "DrugResponsesAUCModels.txt", sep="\t", index=False)
    return {"tcga_patients": n, "tcga_treated": int(len(clinical)), "pdtc_models": m}


def _write_genesets(world: _World, outdir: Path) -> dict:
    """Program gene sets (the planted truth) plus decoy sets of random background genes."""
    rng = world.rng
    folder = outdir / "genesets"
    folder.mkdir(parents=True, exist_ok=True)
    sets = {f"DEMO_PROGRAM_{k + 1}": genes for k, genes in enumerate(world.program_genes)}
    background = [g for g in world.genes if g.startswith("GENE")]
    for j in range(30):
        sets[f"DEMO_DECOY_{j + 1}"] = list(rng.choice(background, 25, replace=False))
    with open(folder / "demo_programs.gmt", "w") as fh:
        for name, genes in sets.items():
            fh.write("\t".join([name, "simulated"] + list(genes)) + "\n")
    return sets


def simulate_demo(outdir: str | Path, spec: DemoSpec | None = None) -> dict:
    """Write the whole demo world under ``outdir`` and return the ground truth.

    The ground truth (also written to ``outdir/truth.json``) lists, per drug, the program and
    its planted response genes, and per single-cell dataset its drug and conditions.
    Same ``spec.seed`` → byte-identical files.
    """
    spec = spec or DemoSpec()
    outdir = Path(outdir)
    rng = np.random.default_rng(spec.seed)
    world = _World(spec, rng)
    n = spec.n_cell_lines
    tissues = list(rng.choice(TISSUES, n))
    sex = np.where(rng.random(n) < 0.5, "Female", "Male")
    cosmic = 900000 + rng.choice(np.arange(1, 99999), n, replace=False)
    names = [f"DEMO-{i + 1:03d}" for i in range(n)]
    z = rng.normal(0.0, 1.0, (n, spec.n_programs))
    _write_gdsc(world, outdir, z, cosmic, names, tissues)
    _write_depmap(world, outdir, z, cosmic, names, tissues, sex)
    sc_truth = _write_single_cells(world, outdir, z, tissues)
    patient_truth = _write_patients(world, outdir)
    _write_genesets(world, outdir)
    truth = {
        "seed": spec.seed,
        "drugs": {d.name: {"program": f"DEMO_PROGRAM_{d.program + 1}",
                           "response_genes": world.program_genes[d.program],
                           "screens": list(d.screens)} for d in spec.drugs},
        "datasets": sc_truth,
        **patient_truth,
        "confounders": ["sex", "tumour type"],
    }
    (outdir / "truth.json").write_text(json.dumps(truth, indent=2))
    return truth
