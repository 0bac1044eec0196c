"""scDEAL: transfer of bulk cell-line drug response to single cells (Chen et al., 2022).

Five steps (paper, "scDEAL workflow design"):

1. bulk denoising autoencoder ``Db(Eb(B(Xb)))``,
2. predictor ``P`` on ``Eb``'s bottleneck, cross-entropy, bulk split 64/16/20 and optional
   class re-sampling,
3. single-cell denoising autoencoder ``Ds(Es(B(Xs)))``,
4. joint DaNN training of ``Eb``, ``Es`` and ``P`` on
   ``CE(P(Eb(Xb)), Yb) + α·MMD(Eb(Xb), Es(Xs)) + β·regulariser(Es(Xs), clusters)``,
5. transfer: ``P(Es(Xs))`` is each cell's probability of being sensitive (1).

``mode="corrected"`` implements the paper. ``mode="reference"`` reproduces the public reference
code's behaviour where it differs (METHODS.md, "Known defects"): single Gaussian kernel MMD with
σ = 1000, a joint optimiser that holds only ``Es`` (so the cross-entropy term updates nothing),
a cluster regulariser without gradient, and a DAE whose reconstruction target is the corrupted
input. In both modes the configured learning rate is used (the reference ignored ``--lr``).

Every stage runs through :func:`drugshift.train.fit`; all tensors stay on one device and one
seed makes a CPU run bit-for-bit reproducible.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import itertools
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from drugshift.evaluate import classification_metrics
from drugshift.nn.blocks import DenoisingAutoencoder, Encoder, Predictor, binomial_mask
from drugshift.nn.losses import REFERENCE_BANDWIDTHS, cluster_similarity_loss, gaussian_mmd
from drugshift.train import as_float_matrix, fit, History, load_checkpoint, resolve_device, seed_everything

__all__ = [
    "MODES",
    "SC_INIT",
    "SAMPLING_METHODS",
    "ScDEALParams",
    "ScDEALResult",
    "cell_clusters",
    "fit_bulk_model",
    "fit_scdeal",
    "load_scdeal",
    "resample",
    "save_scdeal",
    "split_bulk",
]

SAMPLING_METHODS = ("none", "upsampling", "downsampling", "smote")
MODES = ("corrected", "reference")
SC_INIT = ("auto", "bulk", "random")
_FORMAT = "drugshift-scdeal"
_FORMAT_VERSION = 1
#: Cap on the held-out cells compared with validation bulk in the joint validation loss.
_MAX_VAL_CELLS = 2000
_PREDICT_CHUNK = 4096

_log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- parameters


@dataclass
class ScDEALParams:
    """Hyperparameters of :func:`fit_scdeal` (defaults: METHODS.md "Reference code defaults",
    except ``lr`` which the reference ignored and ``patience``, which it did not have).

    Attributes:
        bulk_hidden: hidden widths of the bulk encoder ``Eb`` (decoder mirrors them).
        bulk_bottleneck: embedding size shared by ``Eb`` and ``Es`` (``P`` reads both).
        sc_hidden: hidden widths of the single-cell encoder ``Es``.
        predictor_hidden: hidden widths of ``P``.
        dropout: dropout probability in every block.
        batchnorm: BatchNorm in every hidden layer.
        noise_p: DAE masking probability (0 = plain autoencoder).
        lr: Adam learning rate for every stage.
        weight_decay: Adam weight decay.
        batch_size: minibatch size (bulk; the sc minibatch in joint training has the same size).
        epochs_dae: maximum epochs of each DAE pretraining (bulk and sc).
        epochs_sc_dae: maximum epochs of the sc DAE pretraining when it should differ from
            ``epochs_dae`` (``None``: same). 0 keeps the sc encoder at its initialisation.
        predictor_noise_p: masking probability applied to bulk inputs wherever the bulk
            cross-entropy is trained (step 2 and the CE term of step 4); 0 (the paper) trains
            ``P`` on clean bulk profiles. Masking teaches the bulk model the dropout it will see
            in cells, in the spirit of the DAE; on the demo it lifts the bulk model's AUROC on
            cells from 0.68–0.86 to 0.93–0.95 across seeds.
        epochs_predictor: maximum epochs of the predictor stage.
        epochs_joint: maximum epochs of joint DaNN training.
        patience: early-stopping patience (epochs without validation improvement; 0 = none).
        lr_decay_patience: ``ReduceLROnPlateau`` patience (factor 0.1, as in the reference);
            ``None`` disables the scheduler.
        mmd_weight: α, weight of the MMD term.
        reg_weight: β, weight of the cell-cluster regulariser (0 disables it and skips Leiden).
        consistency_weight: γ, weight of a label-free anchor in joint training (not in the
            paper; 0 disables it): the cross-entropy of ``P(Es(x))`` against the soft
            predictions of the frozen bulk model (the no-transfer model ``P₀(Eb₀(x))``) on the
            same cells. MMD matches the two embedding distributions but not which cells go
            where, so on real cells it can swap sensitive and resistant; the anchor keeps the
            bulk model's orientation while MMD and the regulariser refine the cells' embedding.
        sampling: class balancing of the bulk training split: ``none``, ``upsampling``,
            ``downsampling`` or ``smote``.
        leiden_resolution: resolution of the Leiden clustering of cells.
        leiden_neighbors: scanpy's kNN connectivity kernel for that clustering: ``umap``
            (scanpy's default; JIT-compiles for ~10 s once per process) or ``gauss``.
        freeze_bulk_encoder: keep ``Eb`` fixed while training ``P`` in step 2 (the reference's
            ``--freeze_pretrain``, default off: ``Eb`` is fine-tuned with ``P``).
        sc_init: initial weights of the sc DAE before its pretraining: ``random`` (the paper and
            the reference: an independent DAE), ``bulk`` (copy of the bulk DAE after step 2;
            needs ``sc_hidden == bulk_hidden``) or ``auto`` (``bulk`` in corrected mode when the
            widths match, else ``random``). See :func:`fit_scdeal` for why.
        sc_val_fraction: fraction of cells held out to validate the sc DAE and the MMD term of
            the joint validation loss (cells carry no labels; nothing else uses them).
        mode: ``corrected`` (the paper) or ``reference`` (the reference code's behaviour).
        seed: seed of every random choice (splits, sampling, initialisation, masks, order).
        log_every: epochs between progress lines.
    """

    bulk_hidden: list[int] = field(default_factory=lambda: [512, 256])
    bulk_bottleneck: int = 32
    sc_hidden: list[int] = field(default_factory=lambda: [512, 256])
    predictor_hidden: list[int] = field(default_factory=lambda: [16, 8])
    dropout: float = 0.3
    batchnorm: bool = True
    noise_p: float = 0.2
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 200
    epochs_dae: int = 500
    epochs_sc_dae: int | None = None
    predictor_noise_p: float = 0.0
    epochs_predictor: int = 500
    epochs_joint: int = 500
    patience: int = 30
    lr_decay_patience: int | None = 10
    mmd_weight: float = 0.25
    reg_weight: float = 1.0
    consistency_weight: float = 0.0
    sampling: str = "none"
    leiden_resolution: float = 0.2
    leiden_neighbors: str = "umap"
    freeze_bulk_encoder: bool = False
    sc_init: str = "auto"
    sc_val_fraction: float = 0.2
    mode: str = "corrected"
    seed: int = 42
    log_every: int = 10

    def __post_init__(self) -> None:
        for name in ("bulk_hidden", "sc_hidden", "predictor_hidden"):
            v = getattr(self, name)
            if isinstance(v, (int, np.integer)):
                v = [v]
            v = [int(x) for x in v]
            if any(x <= 0 for x in v):
                raise ValueError(f"scDEAL parameter {name} must hold positive layer sizes, got {v}")
            setattr(self, name, v)
        problems = []
        if self.bulk_bottleneck <= 0:
            problems.append(f"bulk_bottleneck must be > 0 (got {self.bulk_bottleneck})")
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout must be in [0, 1) (got {self.dropout})")
        if not 0 <= self.noise_p < 1:
            problems.append(f"noise_p must be in [0, 1) (got {self.noise_p})")
        if not self.lr > 0:
            problems.append(f"lr must be > 0 (got {self.lr})")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must be >= 0 (got {self.weight_decay})")
        if not 0.0 <= self.predictor_noise_p < 1.0:
            problems.append(f"predictor_noise_p must be in [0, 1) (got {self.predictor_noise_p})")
        if self.epochs_sc_dae is not None and int(self.epochs_sc_dae) < 0:
            problems.append(f"epochs_sc_dae must be >= 0 or None (got {self.epochs_sc_dae})")
        if self.batch_size < 2:
            problems.append(f"batch_size must be >= 2 for BatchNorm (got {self.batch_size})")
        for name in ("epochs_dae", "epochs_predictor", "epochs_joint", "patience", "log_every"):
            if int(getattr(self, name)) < 0:
                problems.append(f"{name} must be >= 0 (got {getattr(self, name)})")
        if self.lr_decay_patience is not None and self.lr_decay_patience < 0:
            problems.append(f"lr_decay_patience must be >= 0 or null (got {self.lr_decay_patience})")
        if self.mmd_weight < 0 or self.reg_weight < 0 or self.consistency_weight < 0:
            problems.append(f"mmd_weight, reg_weight and consistency_weight must be >= 0 (got {self.mmd_weight}, "
                            f"{self.reg_weight}, {self.consistency_weight})")
        if self.sampling not in SAMPLING_METHODS:
            problems.append(f"sampling must be one of {SAMPLING_METHODS} (got {self.sampling!r})")
        if self.sc_init not in SC_INIT:
            problems.append(f"sc_init must be one of {SC_INIT} (got {self.sc_init!r})")
        elif self.sc_init == "bulk" and self.sc_hidden != self.bulk_hidden:
            problems.append(
                f"sc_init='bulk' needs sc_hidden == bulk_hidden (got {self.sc_hidden} and {self.bulk_hidden})"
            )
        if self.mode not in MODES:
            problems.append(f"mode must be one of {MODES} (got {self.mode!r})")
        if self.leiden_neighbors not in ("umap", "gauss"):
            problems.append(f"leiden_neighbors must be 'umap' or 'gauss' (got {self.leiden_neighbors!r})")
        if self.leiden_resolution <= 0:
            problems.append(f"leiden_resolution must be > 0 (got {self.leiden_resolution})")
        if not 0 < self.sc_val_fraction < 1:
            problems.append(f"sc_val_fraction must be in (0, 1) (got {self.sc_val_fraction})")
        if problems:
            raise ValueError("invalid scDEAL parameters: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, d: Mapping | None) -> ScDEALParams:
        """Build from a config mapping; missing keys take defaults.

        Raises:
            ValueError: the mapping has keys that are not parameters (all of them are named).
        """
        d = dict(d or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"unknown scDEAL parameter(s): {', '.join(unknown)}; known parameters: {', '.join(sorted(known))}"
            )
        return cls(**d)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def resolved_sc_init(self) -> str:
        """``bulk`` or ``random``: what ``sc_init`` means for these parameters."""
        if self.sc_init != "auto":
            return self.sc_init
        return "bulk" if self.mode == "corrected" and self.sc_hidden == self.bulk_hidden else "random"


# --------------------------------------------------------------------------- data handling


def split_bulk(y, seed: int = 42) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified 64/16/20 train/validation/test split of the bulk samples (paper, "scDEAL
    workflow design": ``train_test_split`` twice: 20 % test, then 20 % of the rest validation).

    Args:
        y: ``(n,)`` binary labels.
        seed: ``random_state`` of both splits.

    Returns:
        ``(train, val, test)`` sorted integer index arrays into ``y``.
    """
    from sklearn.model_selection import train_test_split

    y = np.asarray(y).ravel()
    idx = np.arange(y.size)
    try:
        rest, test = train_test_split(idx, test_size=0.2, stratify=y, random_state=seed)
        train, val = train_test_split(rest, test_size=0.2, stratify=y[rest], random_state=seed)
    except ValueError as e:
        counts = dict(zip(*np.unique(y, return_counts=True)))
        raise ValueError(
            f"cannot split {y.size} bulk samples 64/16/20 stratified by label (class counts {counts}): {e}"
        ) from e
    return np.sort(train), np.sort(val), np.sort(test)


def resample(X, y, method: str, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """Balance the classes of a training set with imbalanced-learn (paper, "Data sampling for
    predictor training").

    Args:
        X: ``(n, genes)`` features.
        y: ``(n,)`` labels.
        method: ``none`` (returned unchanged), ``upsampling`` (``RandomOverSampler``: duplicate
            minority samples), ``downsampling`` (``RandomUnderSampler``: drop majority samples) or
            ``smote`` (``SMOTE``: synthetic minority samples; ``k_neighbors`` is lowered to fit a
            small minority class).
        seed: ``random_state`` of the sampler.

    Returns:
        ``(X_res, y_res)``; for the three samplers both classes have the same count.
    """
    X = np.asarray(X)
    y = np.asarray(y).ravel()
    if method not in SAMPLING_METHODS:
        raise ValueError(f"sampling method must be one of {SAMPLING_METHODS}, got {method!r}")
    if method == "none":
        return X, y
    classes, counts = np.unique(y, return_counts=True)
    if classes.size < 2:
        raise ValueError(f"cannot re-sample ({method}) a training set with a single class {classes.tolist()}")
    if method == "upsampling":
        from imblearn.over_sampling import RandomOverSampler

        sampler = RandomOverSampler(random_state=seed)
    elif method == "downsampling":
        from imblearn.under_sampling import RandomUnderSampler

        sampler = RandomUnderSampler(random_state=seed)
    else:
        from imblearn.over_sampling import SMOTE

        minority = int(counts.min())
        if minority < 2:
            raise ValueError("SMOTE needs at least 2 samples of the minority class in the training split")
        sampler = SMOTE(random_state=seed, k_neighbors=min(5, minority - 1))
    X_res, y_res = sampler.fit_resample(X, y)
    return np.asarray(X_res, dtype=X.dtype), np.asarray(y_res, dtype=y.dtype)


def cell_clusters(
    X_sc,
    resolution: float = 0.2,
    seed: int = 42,
    n_neighbors: int = 15,
    n_pcs: int = 50,
    neighbors_method: str = "umap",
) -> np.ndarray:
    """Leiden clusters of the cells, the cell-cluster labels of the regulariser (paper, step 4).

    Scanpy: PCA (≤ ``n_pcs`` components) → kNN graph (``n_neighbors``) → Leiden at
    ``resolution``, with the igraph implementation when python-igraph is installed (fast,
    scanpy's future default) else leidenalg, all seeded with ``seed``. ``neighbors_method`` is
    scanpy's connectivity kernel (``umap``, its default, JIT-compiles for ~10 s on first use
    in a process; ``gauss`` does not).

    Args:
        X_sc: ``(cells, genes)`` normalised expression (dense or scipy sparse).

    Returns:
        ``(cells,)`` int64 cluster labels 0..k-1.
    """
    import anndata as ad
    import scanpy as sc

    X = as_float_matrix(X_sc, "X_sc")
    n, g = X.shape
    if n < 3 or g < 2:
        return np.zeros(n, dtype=np.int64)
    adata = ad.AnnData(X)
    kwargs: dict = {}
    try:
        import igraph  # noqa: F401

        kwargs.update(flavor="igraph", n_iterations=2, directed=False)
    except ImportError:
        pass
    seed_kw = "rng" if "rng" in inspect.signature(sc.tl.leiden).parameters else "random_state"
    kwargs[seed_kw] = seed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        sc.pp.pca(adata, n_comps=max(1, min(n_pcs, n - 1, g - 1)), random_state=seed)
        # Exact kNN (sklearn) at every size: from 4096 cells on scanpy would switch to pynndescent,
        # whose sparse output it cannot read with scipy >= 1.15 (csr_array has no getnnz).
        sc.pp.neighbors(adata, n_neighbors=max(2, min(n_neighbors, n - 1)), use_rep="X_pca",
                        method=neighbors_method, transformer="sklearn", random_state=seed)
        sc.tl.leiden(adata, resolution=resolution, **kwargs)
    return adata.obs["leiden"].astype(int).to_numpy().astype(np.int64)


def _split_cells(n: int, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_val = min(max(1, int(round(frac * n))), n - 2)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _check_inputs(X_bulk, y_bulk, X_sc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    Xb = as_float_matrix(X_bulk, "X_bulk")
    Xs = as_float_matrix(X_sc, "X_sc")
    y = np.asarray(y_bulk).ravel()
    if y.size != Xb.shape[0]:
        raise ValueError(f"y_bulk has {y.size} labels but X_bulk has {Xb.shape[0]} rows")
    if not np.isin(y, [0, 1]).all():
        raise ValueError(f"y_bulk must be 0/1 (1 = sensitive); found values {np.unique(y)[:10].tolist()}")
    y = y.astype(np.int64)
    if Xs.shape[1] != Xb.shape[1]:
        raise ValueError(
            f"X_sc has {Xs.shape[1]} genes but X_bulk has {Xb.shape[1]}; align both to the same gene order first"
        )
    counts = np.bincount(y, minlength=2)
    if counts.min() < 5:
        raise ValueError(
            f"need at least 5 bulk samples of each class for the stratified 64/16/20 split; "
            f"got {counts[0]} resistant (0) and {counts[1]} sensitive (1)"
        )
    if Xs.shape[0] < 10:
        raise ValueError(f"need at least 10 cells, got {Xs.shape[0]}")
    return Xb, y, Xs


# --------------------------------------------------------------------------- result


@dataclass(eq=False)
class ScDEALResult:
    """A trained scDEAL model.

    Attributes:
        params: the hyperparameters it was trained with.
        n_genes: input width (genes in the training order).
        bulk_encoder: ``Eb`` after joint training.
        predictor: ``P`` after joint training.
        sc_encoder: ``Es`` after joint training.
        source_encoder: ``Eb`` after step 2 (before joint training): the bulk model.
        source_predictor: ``P`` after step 2.
        history: :class:`~drugshift.train.History` per stage: ``bulk_dae``, ``predictor``,
            ``sc_dae``, ``joint``.
        bulk_metrics: :func:`~drugshift.evaluate.classification_metrics` of ``P(Eb(x))`` on
            the bulk ``val`` and ``test`` splits after joint training, and of the bulk model
            after step 2 as ``source_val`` and ``source_test``.
        split: index arrays ``bulk_train``, ``bulk_val``, ``bulk_test`` (into ``X_bulk``) and
            ``cells_train``, ``cells_val`` (into ``X_sc``).
        clusters: Leiden cluster of every cell (``None`` when the regulariser was off).
        device: device the modules live on.
    """

    params: ScDEALParams
    n_genes: int
    bulk_encoder: Encoder
    predictor: Predictor
    sc_encoder: Encoder
    source_encoder: Encoder
    source_predictor: Predictor
    history: dict[str, History] = field(default_factory=dict)
    bulk_metrics: dict[str, dict] = field(default_factory=dict)
    split: dict[str, np.ndarray] = field(default_factory=dict)
    clusters: np.ndarray | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def _modules(self) -> dict[str, nn.Module]:
        return {
            "bulk_encoder": self.bulk_encoder,
            "predictor": self.predictor,
            "sc_encoder": self.sc_encoder,
            "source_encoder": self.source_encoder,
            "source_predictor": self.source_predictor,
        }

    def _proba(self, encoder: nn.Module, predictor: nn.Module, X, what: str) -> np.ndarray:
        X = as_float_matrix(X, what)
        if X.shape[1] != self.n_genes:
            raise ValueError(f"{what} has {X.shape[1]} genes; the model was trained on {self.n_genes}")
        encoder.eval()
        predictor.eval()
        out = []
        with torch.no_grad():
            for s in range(0, X.shape[0], _PREDICT_CHUNK):
                x = torch.as_tensor(X[s : s + _PREDICT_CHUNK], device=self.device)
                out.append(F.softmax(predictor(encoder(x)), dim=1)[:, 1].cpu().numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def predict_cells(self, X_sc) -> np.ndarray:
        """``P(Es(Xs))``: probability that each cell is sensitive (paper, step 5); ``(cells,)``."""
        return self._proba(self.sc_encoder, self.predictor, X_sc, "X_sc")

    def predict_bulk_model_on_cells(self, X_sc) -> np.ndarray:
        """No-transfer baseline: the bulk model of step 2 (``P(Eb(Xs))`` before joint training)
        applied directly to cells; ``(cells,)`` probabilities of class 1."""
        return self._proba(self.source_encoder, self.source_predictor, X_sc, "X_sc")

    def predict_bulk(self, X_bulk) -> np.ndarray:
        """``P(Eb(Xb))`` after joint training: probability of sensitivity per bulk sample."""
        return self._proba(self.bulk_encoder, self.predictor, X_bulk, "X_bulk")

    def embed_cells(self, X_sc) -> np.ndarray:
        """``Es(Xs)``: ``(cells, bulk_bottleneck)`` embeddings (e.g. for a UMAP)."""
        X = as_float_matrix(X_sc, "X_sc")
        self.sc_encoder.eval()
        with torch.no_grad():
            parts = [
                self.sc_encoder(torch.as_tensor(X[s : s + _PREDICT_CHUNK], device=self.device)).cpu().numpy()
                for s in range(0, X.shape[0], _PREDICT_CHUNK)
            ]
        return np.concatenate(parts) if parts else np.zeros((0, self.params.bulk_bottleneck), np.float32)

    def cell_model(self, probabilities: bool = True) -> nn.Sequential:
        """``Es → P [→ softmax]`` as one eval-mode module, ``(cells, genes) → (cells, 2)``; the
        input to integrated-gradient attribution (output 1 = sensitive, 0 = resistant)."""
        layers: list[nn.Module] = [self.sc_encoder, self.predictor]
        if probabilities:
            layers.append(nn.Softmax(dim=1))
        return nn.Sequential(*layers).eval()


# --------------------------------------------------------------------------- training


def _soft_cross_entropy(logits: Tensor, target_probs: Tensor) -> Tensor:
    """Mean cross-entropy of ``logits`` against soft targets (the consistency anchor's term)."""
    return -(target_probs * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def _adam(params, p: ScDEALParams) -> torch.optim.Optimizer:
    return torch.optim.Adam(list(params), lr=p.lr, weight_decay=p.weight_decay)


def _plateau(opt: torch.optim.Optimizer, p: ScDEALParams):
    if p.lr_decay_patience is None:
        return None
    return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.1, patience=p.lr_decay_patience)


def _fit_dae(
    dae: DenoisingAutoencoder,
    X: Tensor,
    train_idx: Tensor,
    val_idx: Tensor,
    p: ScDEALParams,
    gen: torch.Generator,
    mask_gen: torch.Generator,
    log: logging.Logger,
    name: str,
    epochs: int,
) -> History:
    """Steps 1 and 3: minimise ``MSE(X, D(E(B(X))))`` over the rows ``train_idx`` of ``X``
    (indexed per minibatch, so the training rows are never copied). Validation uses one fixed
    mask of the rows ``val_idx`` so that epochs are compared on the same noise."""
    target = "corrupted" if p.mode == "reference" else "clean"
    opt = _adam(dae.parameters(), p)
    X_val = X[val_idx]
    val_noisy = binomial_mask(X_val, dae.noise_p, mask_gen)

    def step(idx: Tensor) -> dict[str, float]:
        opt.zero_grad(set_to_none=True)
        loss = dae.loss(X[train_idx[idx]], generator=mask_gen, target=target)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    def validate() -> float:
        return dae.loss(X_val, target=target, corrupted=val_noisy).item()

    return fit(step, validate, [dae], n_train=int(train_idx.numel()), epochs=epochs, batch_size=p.batch_size,
               patience=p.patience, generator=gen, log=log, name=name, log_every=p.log_every,
               scheduler=_plateau(opt, p), device=X.device)


def _bulk_metrics(Eb: nn.Module, P: nn.Module, X: Tensor, y: np.ndarray) -> dict:
    Eb.eval()
    P.eval()
    with torch.no_grad():
        prob = F.softmax(P(Eb(X)), dim=1)[:, 1].cpu().numpy().astype(np.float64)
    return classification_metrics(y, prob)


def _fit_bulk_stages(Xb: np.ndarray, yb: np.ndarray, split: tuple, p: ScDEALParams, gen: torch.Generator,
                     mask_gen: torch.Generator, dev: torch.device, log: logging.Logger):
    """Steps 1–2 (bulk DAE, then ``P`` on ``Eb``'s bottleneck) on the bulk ``split``.

    Returns ``(bulk DAE, P, history, bulk_metrics, Xr, yr)`` where ``Xr, yr`` are the re-sampled
    training tensors (joint training reuses them) and ``bulk_metrics`` holds ``source_val`` and
    ``source_test``.
    """
    tr, va, te = split
    n_genes = Xb.shape[1]
    Xb_t = torch.as_tensor(Xb, device=dev)
    tr_t, va_t = (torch.as_tensor(i, device=dev) for i in (tr, va))
    Xb_va, Xb_te = Xb_t[va], Xb_t[te]
    yb_va = torch.as_tensor(yb[va], device=dev)
    history: dict[str, History] = {}

    # (1) bulk DAE
    dae_b = DenoisingAutoencoder(n_genes, p.bulk_hidden, p.bulk_bottleneck, p.dropout, p.batchnorm, p.noise_p).to(dev)
    history["bulk_dae"] = _fit_dae(dae_b, Xb_t, tr_t, va_t, p, gen, mask_gen, log, "bulk DAE", p.epochs_dae)
    Eb = dae_b.encoder

    # (2) predictor on Eb's bottleneck
    Xr_np, yr_np = resample(Xb[tr], yb[tr], p.sampling, p.seed)
    Xr = torch.as_tensor(np.ascontiguousarray(Xr_np), device=dev)
    yr = torch.as_tensor(yr_np.astype(np.int64), device=dev)
    if p.sampling != "none":
        log.info("scDEAL: %s re-sampled the training split from %d to %d samples (%d sensitive)",
                 p.sampling, len(tr), len(yr_np), int(yr_np.sum()))
    P = Predictor(p.bulk_bottleneck, p.predictor_hidden, 2, p.dropout, p.batchnorm).to(dev)
    stage2 = [P] if p.freeze_bulk_encoder else [Eb, P]
    opt2 = _adam(itertools.chain.from_iterable(m.parameters() for m in stage2), p)

    def step_predictor(idx: Tensor) -> dict[str, float]:
        opt2.zero_grad(set_to_none=True)
        x = Xr[idx]
        if p.predictor_noise_p > 0:
            x = binomial_mask(x, p.predictor_noise_p, mask_gen)
        if p.freeze_bulk_encoder:
            with torch.no_grad():
                z = Eb(x)
        else:
            z = Eb(x)
        loss = F.cross_entropy(P(z), yr[idx])
        loss.backward()
        opt2.step()
        return {"loss": loss.item()}

    def validate_predictor() -> float:
        return F.cross_entropy(P(Eb(Xb_va)), yb_va).item()

    Eb.eval()
    history["predictor"] = fit(step_predictor, validate_predictor, stage2, n_train=len(yr), epochs=p.epochs_predictor,
                               batch_size=p.batch_size, patience=p.patience, generator=gen, log=log, name="predictor",
                               log_every=p.log_every, scheduler=_plateau(opt2, p), device=dev)
    bulk_metrics = {
        "source_val": _bulk_metrics(Eb, P, Xb_va, yb[va]),
        "source_test": _bulk_metrics(Eb, P, Xb_te, yb[te]),
    }
    log.info("scDEAL: bulk model validation AUROC=%.3f, test AUROC=%.3f F1=%.3f", bulk_metrics["source_val"]["auroc"],
             bulk_metrics["source_test"]["auroc"], bulk_metrics["source_test"]["f1"])
    return dae_b, P, history, bulk_metrics, Xr, yr


def fit_bulk_model(
    X_bulk,
    y_bulk,
    params: ScDEALParams | Mapping | None = None,
    log: logging.Logger | None = None,
    device: str | torch.device = "auto",
) -> dict[str, dict]:
    """Train only scDEAL's bulk model (steps 1–2) and score it on the bulk splits.

    The same seed gives the same split, initialisation and minibatches as :func:`fit_scdeal`,
    so this is exactly the bulk model that :func:`fit_scdeal` would transfer. Hyperparameter
    selection uses it: it sees no single cell.

    Returns:
        ``{"source_val": metrics, "source_test": metrics}`` (:func:`classification_metrics`).
    """
    p = params if isinstance(params, ScDEALParams) else ScDEALParams.from_dict(params)
    log = log or _log
    dev = resolve_device(device)
    yb = np.asarray(y_bulk).ravel()
    Xb, yb, _ = _check_inputs(X_bulk, yb, np.zeros((10, as_float_matrix(X_bulk, "X_bulk").shape[1]), np.float32))
    seed_everything(p.seed)
    gen = torch.Generator().manual_seed(p.seed)
    mask_gen = torch.Generator(device=dev).manual_seed(p.seed + 1)
    split = split_bulk(yb, p.seed)
    return _fit_bulk_stages(Xb, yb, split, p, gen, mask_gen, dev, log)[3]


def fit_scdeal(
    X_bulk,
    y_bulk,
    X_sc,
    params: ScDEALParams | Mapping | None = None,
    log: logging.Logger | None = None,
    device: str | torch.device = "auto",
    clusters: np.ndarray | None = None,
) -> ScDEALResult:
    """Train scDEAL end to end (paper, steps 1–4).

    Args:
        X_bulk: ``(cell_lines, genes)`` bulk expression, scaled like the cells.
        y_bulk: ``(cell_lines,)`` labels, 1 = sensitive, 0 = resistant.
        X_sc: ``(cells, genes)`` single-cell expression, same genes in the same order.
        params: :class:`ScDEALParams` or a mapping for :meth:`ScDEALParams.from_dict`.
        log: logger for progress lines (default ``drugshift.models.scdeal``).
        device: ``auto``, ``cpu`` or ``cuda`` (see :func:`drugshift.train.resolve_device`).
        clusters: optional precomputed ``(cells,)`` cluster labels; by default Leiden clusters
            are computed with :func:`cell_clusters` when ``reg_weight > 0``.

    Stages (each through :func:`drugshift.train.fit`, best validation epoch restored):

    1. bulk DAE on the bulk training split, validated by reconstruction MSE on the validation split;
    2. ``P`` (and ``Eb`` unless ``freeze_bulk_encoder``) by cross-entropy on the (re-sampled)
       training split, validated by cross-entropy on the validation split;
    3. sc DAE on the training cells, validated on the held-out cells. It starts from random
       weights in the paper; by default (``sc_init='auto'`` in corrected mode) it starts from
       the bulk DAE instead, because with independent encoders MMD can only match the two
       embedding distributions up to a symmetry: on synthetic data with a planted signal the
       independently initialised model predicted cells inverted (AUROC ≈ 0) for about half of
       the seeds, the bulk-initialised one never;
    4. joint training. Each step draws a bulk minibatch (one epoch = one pass over the
       re-sampled bulk training split) and an equally large random minibatch of training cells
       and minimises ``CE(P(Eb(xb)), yb) + α·MMD(Eb(xb), Es(xs)) + β·cluster_similarity_loss(
       Es(xs)) [+ γ·CE(P(Es(xs)), P₀(Eb₀(xs)))]``, the last term (``consistency_weight``, off in
       the paper) anchoring the cells' predictions to the frozen bulk model's. The validation
       loss is ``CE(P(Eb(Xb_val)), yb_val) + α·MMD(Eb(Xb_val), Es(Xs_heldout))`` [+ the γ term
       on the held-out cells], the held-out cells being a fixed sample (≤ 2000).

    Returns:
        :class:`ScDEALResult` with modules in eval mode on ``device``.
    """
    p = params if isinstance(params, ScDEALParams) else ScDEALParams.from_dict(params)
    log = log or _log
    dev = resolve_device(device)
    Xb, yb, Xs = _check_inputs(X_bulk, y_bulk, X_sc)
    n_genes = Xb.shape[1]
    ref = p.mode == "reference"
    if ref:
        log.info("scDEAL mode=reference: reproducing the reference code's defects "
                 "(MMD sigma=1000, joint optimiser holds Es only, detached regulariser, DAE target = corrupted input)")

    seed_everything(p.seed)
    gen = torch.Generator().manual_seed(p.seed)  # minibatch order and cell draws (CPU)
    mask_gen = torch.Generator(device=dev).manual_seed(p.seed + 1)  # DAE masks, drawn where the data lives

    tr, va, te = split_bulk(yb, p.seed)
    cells_tr, cells_va = _split_cells(Xs.shape[0], p.sc_val_fraction, p.seed)
    Xb_t = torch.as_tensor(Xb, device=dev)
    yb_t = torch.as_tensor(yb, device=dev)
    Xs_t = torch.as_tensor(Xs, device=dev)
    cells_tr_t, cells_va_t = (torch.as_tensor(i, device=dev) for i in (cells_tr, cells_va))
    Xb_va, Xb_te = Xb_t[va], Xb_t[te]
    yb_va = yb_t[va]
    log.info("scDEAL: %d bulk samples (train %d, val %d, test %d; %d sensitive), %d cells (train %d, held out %d), "
             "%d genes, device %s", len(yb), len(tr), len(va), len(te), int(yb.sum()), Xs.shape[0], len(cells_tr),
             len(cells_va), n_genes, dev)

    if clusters is None and p.reg_weight > 0:
        clusters = cell_clusters(Xs, p.leiden_resolution, p.seed, neighbors_method=p.leiden_neighbors)
        log.info("scDEAL: %d Leiden clusters at resolution %g", int(clusters.max()) + 1, p.leiden_resolution)
    if clusters is not None:
        clusters = np.asarray(clusters).ravel()
        if clusters.size != Xs.shape[0]:
            raise ValueError(f"clusters has {clusters.size} labels but X_sc has {Xs.shape[0]} cells")
        _, clusters = np.unique(clusters, return_inverse=True)
        clusters = clusters.astype(np.int64)

    # (1)+(2) bulk DAE and predictor: the bulk model
    dae_b, P, history, bulk_metrics, Xr, yr = _fit_bulk_stages(Xb, yb, (tr, va, te), p, gen, mask_gen, dev, log)
    Eb = dae_b.encoder
    source_encoder = copy.deepcopy(Eb).eval()
    source_predictor = copy.deepcopy(P).eval()

    # (3) single-cell DAE
    dae_s = DenoisingAutoencoder(n_genes, p.sc_hidden, p.bulk_bottleneck, p.dropout, p.batchnorm, p.noise_p).to(dev)
    sc_init = p.resolved_sc_init()
    if sc_init == "bulk":
        # Start the cell autoencoder from the bulk one so that a gene profile embeds at the same
        # place in both domains; MMD then only corrects the domain shift. From random weights
        # the alignment of the two embeddings is identifiable only up to a symmetry and can
        # swap sensitive and resistant cells.
        dae_s.encoder.load_state_dict(Eb.state_dict())
        dae_s.decoder.load_state_dict(dae_b.decoder.state_dict())
    log.info("scDEAL: sc encoder initialised from %s", "the bulk DAE" if sc_init == "bulk" else "random weights")
    sc_epochs = p.epochs_dae if p.epochs_sc_dae is None else p.epochs_sc_dae
    history["sc_dae"] = _fit_dae(dae_s, Xs_t, cells_tr_t, cells_va_t, p, gen, mask_gen, log, "sc DAE", sc_epochs)
    Es = dae_s.encoder

    # (4) joint DaNN training
    bandwidths = REFERENCE_BANDWIDTHS if ref else None
    alpha, beta, gamma = p.mmd_weight, p.reg_weight, p.consistency_weight
    if ref and gamma > 0:
        log.info("scDEAL mode=reference: consistency_weight %g ignored (the reference code has no anchor)", gamma)
        gamma = 0.0
    if gamma > 0:
        # Soft targets of the frozen bulk model on every cell, computed once (eval mode).
        with torch.no_grad():
            anchor = torch.softmax(source_predictor(source_encoder(Xs_t)), dim=1)
        anchor_val = anchor[cells_va_t[:_MAX_VAL_CELLS]]
    use_reg = beta > 0 and clusters is not None
    cl_t = torch.as_tensor(clusters, device=dev) if use_reg else None
    n_cells_tr = len(cells_tr)
    sc_batch = min(p.batch_size, n_cells_tr)
    Xs_val_sample = Xs_t[cells_va_t[:_MAX_VAL_CELLS]]
    joint = [Eb, Es, P]
    # The reference built its joint optimiser over the sc encoder only; its bulk terms still
    # produce gradients for Eb and P, which are simply never applied.
    opt4 = _adam(Es.parameters() if ref else itertools.chain(Eb.parameters(), Es.parameters(), P.parameters()), p)

    def step_joint(idx: Tensor) -> dict[str, float]:
        for m in joint:
            m.zero_grad(set_to_none=True)
        cidx = cells_tr_t[torch.randperm(n_cells_tr, generator=gen)[:sc_batch].to(dev)]
        xb = Xr[idx]
        if p.predictor_noise_p > 0:
            xb = binomial_mask(xb, p.predictor_noise_p, mask_gen)
        zb = Eb(xb)
        zs = Es(Xs_t[cidx])
        ce = F.cross_entropy(P(zb), yr[idx])
        mmd = gaussian_mmd(zb, zs, bandwidths)
        loss = ce + alpha * mmd
        out = {"ce": ce.item(), "mmd": mmd.item()}
        if use_reg:
            reg = cluster_similarity_loss(zs, cl_t[cidx], detach=ref)
            loss = loss + beta * reg
            out["reg"] = reg.item()
        if gamma > 0:
            cons = _soft_cross_entropy(P(zs), anchor[cidx])
            loss = loss + gamma * cons
            out["consistency"] = cons.item()
        loss.backward()
        opt4.step()
        out["loss"] = loss.item()
        return out

    def validate_joint() -> float:
        zb, zs = Eb(Xb_va), Es(Xs_val_sample)
        loss = F.cross_entropy(P(zb), yb_va) + alpha * gaussian_mmd(zb, zs, bandwidths)
        if gamma > 0:
            loss = loss + gamma * _soft_cross_entropy(P(zs), anchor_val)
        return loss.item()

    history["joint"] = fit(step_joint, validate_joint, joint, n_train=len(yr), epochs=p.epochs_joint,
                           batch_size=p.batch_size, patience=p.patience, generator=gen, log=log, name="joint",
                           log_every=p.log_every, scheduler=_plateau(opt4, p), device=dev)
    bulk_metrics["val"] = _bulk_metrics(Eb, P, Xb_va, yb[va])
    bulk_metrics["test"] = _bulk_metrics(Eb, P, Xb_te, yb[te])
    log.info("scDEAL: after joint training bulk test AUROC=%.3f F1=%.3f", bulk_metrics["test"]["auroc"],
             bulk_metrics["test"]["f1"])

    for m in (Eb, Es, P):
        m.eval()
    return ScDEALResult(
        params=p,
        n_genes=n_genes,
        bulk_encoder=Eb,
        predictor=P,
        sc_encoder=Es,
        source_encoder=source_encoder,
        source_predictor=source_predictor,
        history=history,
        bulk_metrics=bulk_metrics,
        split={"bulk_train": tr, "bulk_val": va, "bulk_test": te, "cells_train": cells_tr, "cells_val": cells_va},
        clusters=clusters,
        device=dev,
    )


# --------------------------------------------------------------------------- persistence


def _build_modules(p: ScDEALParams, n_genes: int) -> dict[str, nn.Module]:
    def enc(hidden):
        return Encoder(n_genes, hidden, p.bulk_bottleneck, p.dropout, p.batchnorm)

    def pred():
        return Predictor(p.bulk_bottleneck, p.predictor_hidden, 2, p.dropout, p.batchnorm)

    return {
        "bulk_encoder": enc(p.bulk_hidden),
        "predictor": pred(),
        "sc_encoder": enc(p.sc_hidden),
        "source_encoder": enc(p.bulk_hidden),
        "source_predictor": pred(),
    }


def save_scdeal(result: ScDEALResult, path_pt: str | Path) -> Path:
    """Write a trained model to one ``torch.save`` file: the state dicts of ``bulk_encoder``,
    ``predictor``, ``sc_encoder``, ``source_encoder``, ``source_predictor`` (tensors on CPU),
    the parameters, ``n_genes``, per-stage histories, bulk metrics, splits and clusters — all
    plain types, so :func:`load_scdeal` can use ``torch.load(weights_only=True)``.

    Returns:
        The path written.
    """
    path = Path(path_pt)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": _FORMAT,
        "version": _FORMAT_VERSION,
        "params": result.params.to_dict(),
        "n_genes": int(result.n_genes),
        "state_dicts": {
            name: {k: v.detach().cpu() for k, v in m.state_dict().items()} for name, m in result._modules().items()
        },
        "history": {k: h.to_dict() for k, h in result.history.items()},
        "bulk_metrics": result.bulk_metrics,
        "split": {k: np.asarray(v).tolist() for k, v in result.split.items()},
        "clusters": None if result.clusters is None else np.asarray(result.clusters).tolist(),
    }
    torch.save(payload, path)
    return path


def load_scdeal(path_pt: str | Path, device: str | torch.device = "cpu") -> ScDEALResult:
    """Read a model written by :func:`save_scdeal` onto ``device``; predictions are identical to
    those of the saved result on the same device."""
    dev = resolve_device(device)
    payload = load_checkpoint(path_pt, _FORMAT, _FORMAT_VERSION, "scDEAL", dev)
    p = ScDEALParams.from_dict(payload["params"])
    n_genes = int(payload["n_genes"])
    modules = _build_modules(p, n_genes)
    for name, m in modules.items():
        m.load_state_dict(payload["state_dicts"][name])
        m.to(dev).eval()
    clusters = payload.get("clusters")
    return ScDEALResult(
        params=p,
        n_genes=n_genes,
        **modules,
        history={k: History.from_dict(h) for k, h in payload.get("history", {}).items()},
        bulk_metrics=payload.get("bulk_metrics", {}),
        split={k: np.asarray(v, dtype=np.int64) for k, v in payload.get("split", {}).items()},
        clusters=None if clusters is None else np.asarray(clusters, dtype=np.int64),
        device=dev,
    )
