"""Tumour classification with sex as a confounding factor (CODE-AE paper, Fig. 2d–g; Methods,
"Tumour classification with sex as a confounding factor").

The experiment asks whether an embedding removes a biological confounder while keeping the
signal of interest: a classifier of tumour type is trained on the samples of one sex only and
scored on the samples of the other sex.

1. **Samples.** Those of one patient cohort with an expression profile, a known sex
   (``Female``/``Male``) and a tumour type; samples whose ``sample_type`` says *normal* (solid
   tissue normal, blood normal) are dropped by default, since they are not tumours.
2. **Genes** (:func:`prepare_inputs`): CODE-AE's feature step (:func:`drugshift.features.select_genes`
   with ``codeae.features``' score and ``k``) applied to this cohort alone, i.e. with the whole
   cohort (both sexes pooled) as the single domain, then every gene z-scored over the cohort
   (``standardise``), as the feature step z-scores each source. Pooled, not per sex, on
   purpose: within one sex the sex-linked genes (XIST, the Y genes) hardly vary, so a per-sex
   selection would drop the very confounder the experiment is about, and a per-sex z-score
   would remove the sex shift of every gene before any method sees it. On the demo cohort
   the pooled ``unique`` selection keeps XIST, DDX3Y, KDM5D, UTY and EIF1AY; the per-sex union
   keeps none of them.
3. **Pretraining** (unlabelled): one encoder per method with the two sexes as CODE-AE's two
   domains, female as the source (CODE-AE's cell-line side) and male as the target (the
   patient side), by the library's own :meth:`drugshift.models.codeae.CodeAE.pretrain`: every
   sample with a known sex (``pretrain_on="all"``, the default; no tumour-type label used)
   or only the samples of the two classes (``"task"``). The embedding is the shared encoder's
   output (CODE-AE variants and DSN) or the baseline encoder's (``ae``, ``dae``, ``vae``,
   ``adae``, ``coral``). ``raw`` has no encoder: the classifier sees the standardised genes.
4. **Task** (:func:`choose_classes`): binary, the two most frequent tumour types among those
   with at least ``min_per_class`` samples in *each* sex (counted over both sexes together,
   ties by name); the first is the positive class. Sex-specific types (prostate, ovary,
   uterus, testis) fall out by that rule. No drug-response label is involved.
5. **Classifier and folds**: for each direction (``male_to_female``: trained on male samples,
   scored on female ones; ``female_to_male``) a stratified ``n_folds``-fold split of the
   training sex's labelled samples (:func:`drugshift.splits.cv_folds`, the same folds for every
   method, so methods are paired by fold). Each fold fits an Elastic Net (logistic regression
   with an elastic-net penalty, :func:`drugshift.models.baselines.fit_shallow` ``elasticnet``:
   standardisation fitted on the training rows, balanced class weights, ``C`` and
   ``l1_ratio`` chosen by an inner 3-fold CV on those rows only) on the fold's training part
   and scores it on **all** labelled samples of the other sex (AUROC, and AUPRC as sklearn's
   average precision); the fold's own held-out rows give the within-sex AUROC for reference.
6. **Comparison** (:func:`confounder_tests`): per direction and metric, the method with the
   best mean against every other, by the two-sample t-test over folds that the paper uses
   (Student's, equal variances) and, because the folds are shared, a paired Wilcoxon
   signed-rank test.

Deterministic for a ``seed`` on the CPU: the seed sets the folds, the Elastic Net solver and
every method's pretraining seed.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["DIRECTIONS", "METRICS", "choose_classes", "confounder_tests", "prepare_inputs",
           "sex_confounder_experiment"]

#: Direction → (training sex, test sex).
DIRECTIONS = {"male_to_female": ("Male", "Female"), "female_to_male": ("Female", "Male")}
#: The two metrics, in the paper's panel order (d/f: AUPRC, e/g: AUROC).
METRICS = ("AUPRC", "AUROC")
#: Sex values accepted (any case); everything else counts as unknown.
SEXES = ("Female", "Male")
#: The sex used as CODE-AE's source domain in pretraining (the other is the target).
SOURCE_SEX = "Female"
PRETRAIN_ON = ("all", "task")

_log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- samples and classes


def _tidy_samples(samples: pd.DataFrame) -> pd.DataFrame:
    """``samples`` indexed by sample id with ``sex`` as ``Female``/``Male``/NA and str
    ``tumour_type``. Accepts the id as the index or as a ``sample`` column."""
    if not isinstance(samples, pd.DataFrame):
        raise ValueError(f"samples must be a DataFrame, got {type(samples).__name__}")
    table = samples.set_index("sample") if "sample" in samples.columns else samples.copy()
    missing = [c for c in ("tumour_type", "sex") if c not in table.columns]
    if missing:
        raise ValueError(f"samples lack the column(s) {', '.join(missing)}; expected sample, tumour_type, "
                         f"sample_type (optional) and sex (Female/Male); found {', '.join(map(str, table.columns))}")
    table = table.copy()
    table.index = pd.Index(table.index.astype(str).str.strip(), name="sample")
    if table.index.duplicated().any():
        raise ValueError(f"duplicated sample id(s) in samples: {', '.join(table.index[table.index.duplicated()][:5])}")
    sex = table["sex"].astype("string").str.strip().str.capitalize()
    table["sex"] = sex.where(sex.isin(SEXES))
    tt = table["tumour_type"].astype("string").str.strip()
    table["tumour_type"] = tt.where(tt != "")
    return table


def choose_classes(samples: pd.DataFrame, min_per_class: int = 10) -> list[str]:
    """The two tumour types of the task: the two most frequent (over both sexes together) among
    those with at least ``min_per_class`` samples in *each* sex; ties are broken by name. The
    first is the positive class. Samples without a sex or a tumour type are not counted.

    Args:
        samples: per-sample annotation with columns ``tumour_type`` and ``sex``
            (``Female``/``Male``, any case; the sample id as index or a ``sample`` column).
        min_per_class: the least number of samples of a type in each sex.

    Raises:
        ValueError: missing columns, ``min_per_class < 1``, or fewer than two types that
            qualify (the message gives the counts per sex).
    """
    if int(min_per_class) < 1:
        raise ValueError(f"min_per_class must be >= 1, got {min_per_class}")
    table = _tidy_samples(samples).dropna(subset=["sex", "tumour_type"])
    counts = pd.crosstab(table["tumour_type"], table["sex"]).reindex(columns=list(SEXES), fill_value=0)
    eligible = counts[(counts >= int(min_per_class)).all(axis=1)]
    if len(eligible) < 2:
        shown = "; ".join(f"{t}: {r['Female']} female, {r['Male']} male" for t, r in counts.iterrows()) or "none"
        raise ValueError(f"the sex-confounder task needs two tumour types with at least {min_per_class} samples "
                         f"in each sex; {len(eligible)} qualify. Counts: {shown}")
    order = pd.DataFrame({"total": eligible.sum(axis=1), "name": eligible.index}, index=eligible.index)
    order = order.sort_values(["total", "name"], ascending=[False, True], kind="stable")
    return [str(t) for t in order.index[:2]]


def _keep_samples(expression: pd.DataFrame, samples: pd.DataFrame, exclude_normal: bool) -> pd.DataFrame:
    """The annotation of the samples the experiment may use: in ``expression``, a known sex,
    and (``exclude_normal``) a ``sample_type`` without "normal"."""
    table = _tidy_samples(samples)
    table = table[table.index.isin(expression.index.astype(str)) & table["sex"].notna()]
    if exclude_normal and "sample_type" in table.columns:
        normal = table["sample_type"].astype("string").str.contains("normal", case=False, na=False)
        table = table[~normal.to_numpy()]
    return table


# --------------------------------------------------------------------------- inputs


def prepare_inputs(expression: pd.DataFrame, samples: pd.DataFrame, features: Mapping | None = None, *,
                   exclude_normal: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The model inputs of the experiment: ``(X, annotation)``, ``X`` samples × selected genes
    (float32; z-scored over the cohort when ``features['standardise']``), ``annotation`` the
    tidy per-sample table of the same rows (index ``sample``; ``tumour_type``, ``sex``, …).

    ``features``: ``method`` (gene score, default ``unique``), ``k`` (genes kept, default
    1000) and ``standardise`` (default true), as ``codeae.features``. Genes are selected with
    the whole cohort as one domain (module docstring, step 2).

    Raises:
        ValueError: expression that is not a numeric samples × genes table, missing columns in
            ``samples``, or fewer than 10 samples of a sex.
    """
    from drugshift.features import select_genes, standardise_domains

    if not isinstance(expression, pd.DataFrame) or expression.shape[1] == 0:
        raise ValueError("expression must be a samples × genes DataFrame with at least one gene")
    expression = expression.copy()
    expression.index = expression.index.astype(str)
    expression = expression.drop(columns=[c for c in ("cohort",) if c in expression.columns])
    non_numeric = [c for c in expression.columns if not pd.api.types.is_numeric_dtype(expression[c])]
    if non_numeric:
        raise ValueError(f"expression has non-numeric column(s) {non_numeric[:5]}; expected samples × genes")
    table = _keep_samples(expression, samples, exclude_normal)
    per_sex = table["sex"].value_counts().reindex(list(SEXES), fill_value=0)
    if (per_sex < 10).any():
        raise ValueError(f"the sex-confounder experiment needs at least 10 samples of each sex with expression "
                         f"and a known sex (pretraining has one domain per sex); got {per_sex['Female']} female "
                         f"and {per_sex['Male']} male of {len(expression)} expression profiles")
    f = {"method": "unique", "k": 1000, "standardise": True, **dict(features or {})}
    data = expression.loc[table.index]
    genes = select_genes({"cohort": data}, int(f["k"]), f["method"])
    if f["standardise"]:
        X = standardise_domains({"cohort": data}, genes)["cohort"]
    else:
        X = data[genes].astype(np.float32)
    if not np.isfinite(X.to_numpy()).all():
        raise ValueError("expression holds missing or infinite values in the selected genes")
    return X, table


# --------------------------------------------------------------------------- the experiment


def _method_params(method: str, params: Mapping | None, seed: int, pretrain_epochs: int | None):
    """The resolved parameters of a pretrained method, with the experiment's seed and epochs."""
    from drugshift.models.codeae import method_params_from_dict
    from drugshift.params import resolve_codeae_params

    given = (params or {}).get(method)
    p = method_params_from_dict(given) if given is not None else resolve_codeae_params({"seed": seed}, method)
    if p.method != method:
        raise ValueError(f"parameters of {p.method!r} given for method {method!r}")
    changes = {"seed": int(seed)}
    if pretrain_epochs is not None:
        changes["pretrain_epochs" if p.kind == "codeae" else "max_epochs"] = int(pretrain_epochs)
    return type(p)(p.method, p.kind, p.pretrain.replace(**changes), p.architecture, p.finetune)


def _check_methods(methods: Sequence[str]) -> list[str]:
    from drugshift.methods import needs_pretraining

    methods = list(methods)
    if not methods:
        raise ValueError("no method given")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods repeat: {methods}")
    for m in methods:
        if m == "raw":
            continue
        try:
            ok = needs_pretraining(m)
        except ValueError:
            ok = False
        if not ok:
            from drugshift.methods import CODEAE_VARIANTS, PRETRAINED_BASELINES

            raise ValueError(f"unknown sex-confounder method {m!r}; known: raw, "
                             f"{', '.join([*CODEAE_VARIANTS, *PRETRAINED_BASELINES])}")
    return methods


def sex_confounder_experiment(
    expression: pd.DataFrame,
    samples: pd.DataFrame,
    methods: Sequence[str] = ("raw", "ae", "codeae_adv"),
    params: Mapping | None = None,
    *,
    features: Mapping | None = None,
    min_per_class: int = 10,
    n_folds: int = 10,
    seed: int = 42,
    pretrain_epochs: int | None = None,
    pretrain_on: str = "all",
    exclude_normal: bool = True,
    enet_grid: Mapping[str, Sequence] | None = None,
    device: str = "cpu",
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Run the sex-confounder experiment (module docstring) and return one row per method ×
    direction × fold.

    Args:
        expression: samples × genes, log scale (``results/patients/<cohort>/expression.parquet``;
            a ``cohort`` column is ignored).
        samples: per-sample annotation with ``tumour_type``, ``sex`` (``Female``/``Male``/empty)
            and optionally ``sample_type``; the sample id as index or a ``sample`` column
            (``results/patients/<cohort>/samples.tsv``, :func:`drugshift.cohorts.read_samples`).
        methods: ``raw`` (Elastic Net on the standardised genes) and any method with a
            pretraining stage: CODE-AE variants (``codeae_adv``, ``codeae_mmd``, ``codeae_base``),
            DSN (``dsn_mmd``, ``dsn_dann``) and the pretrained baselines (``ae``, ``dae``,
            ``vae``, ``adae``, ``coral``).
        params: method → resolved parameters (:func:`drugshift.params.resolve_codeae_params`,
            object or its ``to_dict()``); a method not given gets the defaults (the paper's,
            500 epochs). Their seed is replaced by ``seed``.
        features: gene selection, as ``codeae.features`` (``method``, ``k``, ``standardise``).
        min_per_class: see :func:`choose_classes`.
        n_folds: folds of the cross-validation over the training sex (the paper: 10); each class
            needs at least ``n_folds`` samples in each sex.
        seed: seed of the folds, the Elastic Net and the pretraining.
        pretrain_epochs: if given, replaces CODE-AE's ``pretrain_epochs`` (its warm-up stays)
            and the baselines' ``max_epochs``.
        pretrain_on: ``all`` (every sample with a known sex) or ``task`` (only the samples of
            the two classes).
        exclude_normal: drop samples whose ``sample_type`` contains "normal".
        enet_grid: inner-CV grid of the Elastic Net (default
            :data:`drugshift.models.baselines.ENET_GRID`).
        device: device of the pretraining (``cpu``, ``cuda``, ``auto``).
        progress: called with one line per finished stage (e.g. ``log.info``).

    Returns:
        Columns ``method``, ``direction`` (``male_to_female`` / ``female_to_male``), ``fold``,
        ``AUROC``, ``AUPRC`` (on all labelled samples of the test sex), ``n_train`` (the
        fold's training rows), ``n_test``, ``n_test_positive``, ``classes`` (``"A vs B"``,
        A positive), ``positive``, ``within_AUROC`` (the fold's held-out rows of the training
        sex), ``C``, ``l1_ratio`` (the chosen penalty). ``attrs`` holds ``genes``,
        ``classes``, ``n_pretrain`` (per sex) and ``pretraining`` (per method: seconds).

    Raises:
        ValueError: missing columns, an unknown method or ``pretrain_on``, fewer than 10
            samples of a sex, fewer than two tumour types with ``min_per_class`` samples in
            each sex, or a class with fewer than ``n_folds`` samples in a sex.
    """
    import time

    from sklearn.metrics import average_precision_score, roc_auc_score

    from drugshift.models.baselines import fit_shallow
    from drugshift.splits import cv_folds

    say = progress or (lambda msg: None)
    methods = _check_methods(methods)
    if pretrain_on not in PRETRAIN_ON:
        raise ValueError(f"pretrain_on must be one of {PRETRAIN_ON}, got {pretrain_on!r}")
    if int(n_folds) < 2:
        raise ValueError(f"n_folds must be >= 2, got {n_folds}")
    X, table = prepare_inputs(expression, samples, features, exclude_normal=exclude_normal)
    classes = choose_classes(table, min_per_class)
    labelled = table[table["tumour_type"].isin(classes)]
    counts = pd.crosstab(labelled["tumour_type"], labelled["sex"]).reindex(index=classes, columns=list(SEXES),
                                                                          fill_value=0)
    if (counts < int(n_folds)).any().any():
        raise ValueError(f"{n_folds}-fold cross-validation needs at least {n_folds} samples of each class in each "
                         f"sex; got {counts.to_dict('index')}")
    say(f"sex confounder: {X.shape[1]} genes; {len(table)} samples with a known sex "
        f"({table['sex'].value_counts().to_dict()}); task {classes[0]} (positive) vs {classes[1]}: "
        f"{counts.to_dict('index')}")

    pool = table if pretrain_on == "all" else labelled
    source = X.loc[pool.index[pool["sex"] == SOURCE_SEX]]
    target = X.loc[pool.index[pool["sex"] != SOURCE_SEX]]
    representations: dict[str, pd.DataFrame] = {}
    timing: dict[str, float] = {}
    for method in methods:
        if method == "raw":
            representations[method] = X.loc[labelled.index]
            continue
        from drugshift.models.codeae import CodeAE

        p = _method_params(method, params, seed, pretrain_epochs)
        start = time.perf_counter()
        encoder = CodeAE.pretrain(method, source, target, p, device=device)
        timing[method] = round(time.perf_counter() - start, 3)
        z = encoder.embed(X.loc[labelled.index])
        representations[method] = pd.DataFrame(z, index=labelled.index)
        say(f"sex confounder: {method} pretrained on {len(source)} female and {len(target)} male samples "
            f"in {timing[method]:.1f} s")

    y_all = (labelled["tumour_type"] == classes[0]).astype(int)
    rows = []
    for direction, (train_sex, test_sex) in DIRECTIONS.items():
        train_ids = labelled.index[labelled["sex"] == train_sex]
        test_ids = labelled.index[labelled["sex"] == test_sex]
        y_train, y_test = y_all[train_ids].to_numpy(), y_all[test_ids].to_numpy()
        folds = cv_folds(y_train, int(n_folds), int(seed))
        for method in methods:
            Z = representations[method]
            Z_train, Z_test = Z.loc[train_ids].to_numpy(np.float64), Z.loc[test_ids].to_numpy(np.float64)
            for k, (tr, va) in enumerate(folds):
                search = fit_shallow("elasticnet", Z_train[tr], y_train[tr], int(seed) + k, grid=enet_grid,
                                     log=_quiet)
                p_test = search.predict_proba(Z_test)[:, 1]
                p_val = search.predict_proba(Z_train[va])[:, 1]
                best = {k2.removeprefix("model__"): v for k2, v in search.best_params_.items()}
                rows.append({
                    "method": method, "direction": direction, "fold": k,
                    "AUROC": float(roc_auc_score(y_test, p_test)),
                    "AUPRC": float(average_precision_score(y_test, p_test)),
                    "n_train": int(len(tr)), "n_test": int(len(y_test)), "n_test_positive": int(y_test.sum()),
                    "classes": f"{classes[0]} vs {classes[1]}", "positive": classes[0],
                    "within_AUROC": float(roc_auc_score(y_train[va], p_val)),
                    "C": float(best.get("C", np.nan)), "l1_ratio": float(best.get("l1_ratio", np.nan)),
                })
            part = pd.DataFrame(rows[-len(folds):])
            say(f"sex confounder: {method} {direction}: AUROC {part['AUROC'].mean():.3f} ± {part['AUROC'].std():.3f}, "
                f"AUPRC {part['AUPRC'].mean():.3f} ± {part['AUPRC'].std():.3f} over {len(folds)} folds "
                f"(within-sex AUROC {part['within_AUROC'].mean():.3f})")
    results = pd.DataFrame(rows)
    results.attrs.update({"genes": list(X.columns), "classes": classes,
                          "n_pretrain": {"Female": len(source), "Male": len(target)}, "pretraining": timing})
    return results


#: Drops fit_shallow's summary line of every fit (the experiment logs one line per method and
#: direction instead); outside the logger tree, so it changes no other logger.
_quiet = logging.Logger("drugshift.confounder.enet", logging.WARNING)


# --------------------------------------------------------------------------- statistics


def confounder_tests(results: pd.DataFrame) -> pd.DataFrame:
    """Per direction and metric, the method with the best mean against every other method.

    ``t_p``: two-sample Student's t-test over the folds (``scipy.stats.ttest_ind``, equal
    variances, two-sided), the paper's test. ``wilcoxon_p``: paired Wilcoxon signed-rank test
    over the folds (two-sided; folds are shared by every method), NaN when the two methods
    score alike in every fold.

    Returns:
        Columns ``direction``, ``metric``, ``best``, ``other``, ``best_mean``, ``best_sd``,
        ``other_mean``, ``other_sd``, ``difference`` (best − other), ``t_p``, ``wilcoxon_p``,
        ``n_folds`` and ``runner_up`` (true for the second-best method); rows in direction
        and metric order, then by decreasing ``other_mean``. A tie in the mean keeps the order
        of the methods in ``results``. A p-value is NaN where the test is undefined (two
        methods equal in every fold). Empty when only one method ran.

    Raises:
        ValueError: missing columns.
    """
    from scipy import stats

    needed = {"method", "direction", "fold", *METRICS}
    missing = sorted(needed - set(results.columns))
    if missing:
        raise ValueError(f"results lack the column(s) {', '.join(missing)}")
    columns = ["direction", "metric", "best", "other", "best_mean", "best_sd", "other_mean", "other_sd",
               "difference", "t_p", "wilcoxon_p", "n_folds", "runner_up"]
    rows = []
    directions = [d for d in DIRECTIONS if d in set(results["direction"])]
    directions += sorted(set(results["direction"]) - set(directions))
    for direction in directions:
        part = results[results["direction"] == direction]
        for metric in METRICS:
            wide = part.pivot(index="fold", columns="method", values=metric)[list(dict.fromkeys(part["method"]))]
            # Best mean first; a tie keeps the order of the methods in ``results``.
            order = wide.mean().sort_values(ascending=False, kind="stable").index
            best = order[0]
            for i, other in enumerate(order[1:]):
                pair = wide[[best, other]].dropna()
                a, b = pair[best].to_numpy(), pair[other].to_numpy()
                t_p = w_p = np.nan
                with warnings.catch_warnings():
                    # scipy warns on (nearly) constant samples, e.g. two methods at AUROC 1 in every fold
                    warnings.simplefilter("ignore", RuntimeWarning)
                    if len(a) > 1 and not (np.allclose(a, a[0]) and np.allclose(b, b[0]) and np.isclose(a[0], b[0])):
                        t_p = float(stats.ttest_ind(a, b).pvalue)
                    if not np.allclose(a, b):
                        w_p = float(stats.wilcoxon(a, b).pvalue)
                rows.append({"direction": direction, "metric": metric, "best": best, "other": other,
                             "best_mean": float(a.mean()), "best_sd": float(a.std(ddof=1)) if len(a) > 1 else np.nan,
                             "other_mean": float(b.mean()), "other_sd": float(b.std(ddof=1)) if len(b) > 1 else np.nan,
                             "difference": float(a.mean() - b.mean()), "t_p": t_p, "wilcoxon_p": w_p,
                             "n_folds": int(len(a)), "runner_up": i == 0})
    return pd.DataFrame(rows, columns=columns)
