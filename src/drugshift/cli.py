"""The ``drugshift`` command: apply a saved model to your own data and read a model's card.

argparse (standard library): no extra dependency for a two-command interface.

User errors (missing files, bad formats, too few shared genes) exit with code 2 and one line
on stderr; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import drugshift
from drugshift.apply import VALUES

__all__ = ["main"]

PREDICT_HELP = """\
Predict each sample's (or cell's) probability of being sensitive to the model's drug.

Writes sens_prob (0-1), sens_label (1 = sensitive, sens_prob >= the model's label cut: 0.5
unless a scDEAL model's label_threshold chose another) and, for ensembles, sens_prob_sd (SD
over the CODE-AE fold models or the scDEAL ensemble's members): into .obs of an .h5ad output,
or as columns of a .csv/.tsv/.parquet output (one row per sample).

Input: a table samples x genes (.csv, .tsv, .txt, .parquet; first column = sample ids;
--genes-in-rows for genes x samples), an .h5ad (cells x genes) or a 10x mtx folder.
Genes are matched to the model's by name; missing genes are filled with the model's neutral
value (scDEAL: 0 after its per-gene min-max scaling; CODE-AE: 0 after z-scoring, i.e. the
mean), and inputs with fewer than --min-overlap of the model's genes are refused.

--values says what the input holds, so only the missing steps are applied:
  counts      scDEAL: normalize_total(1e4)+log1p+the card's cell scaler; CODE-AE: log1p+z-score
  tpm         scDEAL: log1p+scaler;            CODE-AE: log1p, then per-gene z-score
  log         scDEAL: the card's scaler;       CODE-AE: per-gene z-score within the input
  normalised  nothing: already the model's input scale (default)
CODE-AE z-scores a new cohort within itself, as the workflow does; --domain instead applies
the stored mean/SD of one training domain (see `drugshift inspect`).

scDEAL is transductive: its cell encoder was trained on the training cells. Without
--retrain, this command applies the saved transferred model, which is right for cells of the
SAME dataset (preprocessed as the card records). For cells of another dataset use --retrain:
the transfer (sc DAE and joint training) is fitted again on the input cells from the saved
bulk stage (the bulk DAE and predictor are reused; the folder holds the bulk training data),
the per-gene scaler is fitted on the input cells, and those cells are predicted with the
retrained model; --save-model keeps it. The two are never mixed. No cell is filtered by QC.
"""

PREDICT_EPILOG = """\
example:
  drugshift predict --model results/codeae/codeae_adv/demotinib/model \\
      --input my_patients.csv --output predictions.csv --values log
  drugshift predict --model results/scdeal/GSEDEMO1/demotinib/model \\
      --input cells.h5ad --output predicted.h5ad --labels truth.csv --label-column response
  drugshift predict --model results/scdeal/GSEDEMO1/demotinib/model --retrain \\
      --input my_counts_10x/ --values counts --output my_cells.h5ad --save-model my_model
"""


class UserError(Exception):
    """A problem with what the user gave; reported as one line, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drugshift", description="Transfer drug response from cell-line screens to single cells and patients.",
        epilog="example:\n  drugshift inspect results/scdeal/GSEDEMO1/demotinib/model\n  drugshift predict --help",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"drugshift {drugshift.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("inspect", help="print a model folder's card",
                       description="Print a model folder's card: method, drug, training data with checksums, "
                                   "genes, parameters, validation metrics, versions.",
                       epilog="example:\n  drugshift inspect results/codeae/codeae_adv/demotinib/model",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="DIR", help="model folder (with model.json)")
    p.add_argument("--json", action="store_true", help="print the card as JSON, genes and curves included")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    p = sub.add_parser("check-config", help="check a workflow config file before running it",
                       description="Check a config file as `snakemake --configfile FILE` would use it: YAML "
                                   "syntax (with line and column), the workflow's schema, and every job's "
                                   "parameters. Exit 0 when it is valid, 2 with one line naming the problem.",
                       epilog="example:\n  drugshift check-config my_config.yaml",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", metavar="FILE", help="the YAML config file")
    p.add_argument("--workflow", metavar="DIR", default=".",
                   help="the workflow's folder, holding workflow/schemas (default: the current folder)")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    p = sub.add_parser("predict", help="predict drug response of your own samples or cells",
                       description=PREDICT_HELP, epilog=PREDICT_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, metavar="DIR", help="model folder (scdeal or codeae-drug)")
    p.add_argument("--input", required=True, metavar="FILE", help="expression: table, .h5ad or 10x mtx folder")
    p.add_argument("--output", required=True, metavar="FILE", help=".h5ad, .csv, .tsv or .parquet")
    p.add_argument("--values", choices=VALUES, default="normalised",
                   help="what the input holds (default: normalised, the model's input scale)")
    p.add_argument("--min-overlap", type=float, default=0.5, metavar="F",
                   help="smallest fraction of the model's genes the input must have (default 0.5)")
    p.add_argument("--domain", default=None, help="CODE-AE: standardise with this training domain's stored mean/SD")
    p.add_argument("--retrain", action="store_true",
                   help="scDEAL: fit the transfer on the input cells from the saved bulk stage, then predict them "
                        "(for cells of a dataset the model was not trained on)")
    p.add_argument("--save-model", metavar="DIR", help="with --retrain: write the retrained model folder here")
    p.add_argument("--genes-in-rows", action="store_true", help="the input table is genes x samples")
    p.add_argument("--labels", metavar="FILE", help="ground truth table (first column = sample ids); writes "
                                                   "<output stem>.metrics.json")
    p.add_argument("--label-column", metavar="C", help="column of --labels (or of the h5ad's .obs) holding 0/1")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


# ------------------------------------------------------------------ inspect


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _section(lines: list[str], title: str, mapping, skip=()) -> None:
    if not mapping:
        return
    lines.append(f"{title}:")
    for k, v in mapping.items():
        if k in skip:
            continue
        if isinstance(v, dict) and v:
            lines.append(f"  {k}:")
            for k2, v2 in v.items():
                text = _fmt(v2)
                lines.append(f"    {k2}: {text if len(text) <= 200 else text[:197] + '...'}")
        else:
            text = _fmt(v)
            lines.append(f"  {k}: {text if len(text) <= 200 else text[:197] + '...'}")


def describe_card(card: dict, directory: str | Path = "") -> str:
    """A readable summary of a model card (what ``drugshift inspect`` prints)."""
    lines = [f"model folder: {directory}",
             f"method: {card.get('method')} (kind {card.get('kind')}"
             + (f", {card['method_kind']}" if card.get("method_kind") else "") + ")",
             f"drug: {card.get('drug')}"]
    genes = card.get("genes") or []
    lines.append(f"genes: {card.get('n_genes', len(genes))} (first: {', '.join(map(str, genes[:5]))}"
                 + (", ..." if len(genes) > 5 else "") + ")")
    if card.get("transductive"):
        lines.append(f"transductive: {card['transductive']}")
    if card.get("n_folds"):
        lines.append(f"fold models: {card['n_folds']}")
    if card.get("standardisation"):
        lines.append(f"standardisation domains: {', '.join(card['standardisation'])}")
    data = dict(card.get("training_data") or {})
    if "cell_lines" in data and isinstance(data["cell_lines"], list):
        data["cell_lines"] = f"{len(data['cell_lines'])} ids (first: {', '.join(data['cell_lines'][:3])}, ...)"
    _section(lines, "training data", data)
    _section(lines, "retrained from", card.get("retrained_from") or {})
    prep = card.get("preprocessing") or {}
    if prep:
        lines.append("preprocessing:")
        for k, v in prep.items():
            if isinstance(v, dict) and {"min", "max"} <= set(v):
                lines.append(f"  {k}: per-gene min/max of {len(v['min'])} genes")
            else:
                lines.append(f"  {k}: {_fmt(v)}")
    _section(lines, "parameters", card.get("params") or {})
    if card.get("member_cards"):
        lines.append(f"ensemble members: {card.get('members')}")
        for i, member in enumerate(card["member_cards"]):
            p = member.get("params") or {}
            val = ((member.get("validation") or {}).get("source_val") or {}).get("auroc")
            lines.append(f"  member {i + 1}: seed {p.get('seed')}, bulk fold {p.get('bulk_fold')} of {p.get('bulk_folds')}"
                         + ("" if val is None else f", bulk validation AUROC {val:.3f}"))
    elif card.get("validation"):
        _section(lines, "validation (bulk)", card["validation"])
    diagnostics = card.get("diagnostics") or {}
    if diagnostics:
        lines.append(f"transfer diagnostics (no cell label used): verdict {diagnostics.get('verdict')}")
        lines += [f"  reason: {r}" for r in diagnostics.get("reasons") or []]
        keys = ("bulk_auroc_out_of_fold", "member_agreement", "transfer_vs_no_transfer", "domain_auroc",
                "uncertain_fraction")
        lines.append("  " + _fmt({k: diagnostics[k] for k in keys if diagnostics.get(k) is not None}))
    if card.get("thresholds"):
        rule = (card.get("params") or {}).get("label_threshold", "paper")
        lines.append(f"label cut (sens_label, rule {rule}): {_fmt(card['thresholds'])}")
    if card.get("cv"):
        lines.append("cross-validation (held-out cell lines):")
        for row in card["cv"]:
            keep = {k: row[k] for k in ("auroc", "ap", "f1", "n") if k in row}
            lines.append(f"  fold {row.get('fold')}: {_fmt(keep)}")
    if card.get("training"):
        lines.append("training:")
        for stage, h in card["training"].items():
            info = {k: h[k] for k in ("epochs_run", "best_epoch", "best_value", "stopped_early") if k in h}
            lines.append(f"  {stage}: {_fmt(info)}")
    env = card.get("environment") or (card.get("trained_on") or {}).get("environment") or {}
    lines.append(f"format: {card.get('format')} v{card.get('format_version')}, written by drugshift "
                 f"{card.get('drugshift_version')}")
    if env:
        lines.append(f"environment: {_fmt(env)}")
    return "\n".join(lines)


def _inspect(args) -> int:
    from drugshift.apply import model_kind
    from drugshift.checkpoint import CARD

    model_kind(args.model)  # checks the folder and the card
    card = json.loads((Path(args.model) / CARD).read_text())
    if args.json:
        print(json.dumps(card, indent=2, sort_keys=True))
    else:
        print(describe_card(card, args.model))
    return 0


# ------------------------------------------------------------------ predict


def _predict(args) -> int:
    from drugshift import apply
    from drugshift.cards import write_json

    if not 0 <= args.min_overlap <= 1:
        raise UserError(f"--min-overlap must be between 0 and 1, got {args.min_overlap}")
    if args.labels and not args.label_column:
        raise UserError("--labels needs --label-column")
    if Path(args.output).suffix.lower() not in (".h5ad", *apply.TABLE_SEPARATORS):
        raise UserError(f"{args.output}: unknown output format (use .h5ad, .csv, .tsv, .txt or .parquet)")
    if args.save_model and not args.retrain:
        raise UserError("--save-model needs --retrain (without it the model is not changed)")
    kind = apply.model_kind(args.model)
    if args.retrain and kind != "scdeal":
        raise UserError(f"{args.model}: --retrain applies to scDEAL models only (a CODE-AE model predicts new "
                        "samples as it is)")
    if args.domain and kind == "scdeal":
        raise UserError("--domain applies to CODE-AE models only")
    summary = apply.predict_file(args.model, args.input, args.output, values=args.values,
                                 min_overlap=args.min_overlap, domain=args.domain, genes_in_rows=args.genes_in_rows,
                                 labels=args.labels, label_column=args.label_column, retrain=args.retrain,
                                 save_model=args.save_model, log=_progress_log())
    if summary["metrics"] is not None:
        out = Path(summary["output"])
        metrics_path = out.with_name(out.stem + ".metrics.json")
        write_json({"model": str(args.model), "input": str(args.input), **summary["metrics"]}, metrics_path)
        apply.warn(f"wrote {metrics_path}")
    return 0


def _check_config(args) -> int:
    from drugshift.configfile import check_config_file

    config = check_config_file(args.config, args.workflow)
    datasets = list((config.get("sc") or {}).get("datasets") or {})
    cohorts = list(config.get("patients") or {})
    print(f"{args.config}: valid ({len(datasets)} single-cell dataset(s): {', '.join(datasets) or 'none'}; "
          f"{len(cohorts)} patient cohort(s): {', '.join(cohorts) or 'none'})")
    return 0


def _progress_log():
    """A logger that prints training progress on stderr (one line per stage and per few epochs)."""
    import logging

    log = logging.getLogger("drugshift.cli")
    for old in list(log.handlers):  # a handler holds the stderr of its time: one per run
        log.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("drugshift: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return log


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 success, 2 user error)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return {"inspect": _inspect, "predict": _predict, "check-config": _check_config}[args.command](args)
    except (UserError, FileNotFoundError, ValueError, OSError) as e:  # InputError is a ValueError
        if args.debug:
            raise
        message = " ".join(str(e).split())
        print(f"drugshift {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
