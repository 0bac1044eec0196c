"""Parameters resolved once: drugshift.params (typed parameter sets, precedence, errors by path)."""

import subprocess
import sys

import pytest
import yaml

from drugshift.params import (
    BaselineParams,
    CodeAEParams,
    ConfigError,
    FinetuneParams,
    ScDEALParams,
    check_config,
    coerce,
    resolve_codeae_params,
    resolve_scdeal_params,
)


def _config(**scdeal):
    return {
        "seed": 7,
        "sc": {"datasets": {"A": {"drug": "X"}, "B": {"drug": "Y"}}},
        "scdeal": {"mode": "corrected", "params": {"epochs_dae": 10, "lr": 0.01}, "datasets": {"B": {"lr": 0.5}},
                   "evaluation": {"settings": ["scdeal", "reference"], "params": {"epochs_dae": 3}}, **scdeal},
        "codeae": {"enabled": True, "methods": ["codeae_adv", "mlp", "ae", "elasticnet"],
                   "params": {"latent": 16, "pretrain_epochs": 5}, "finetune": {"max_epochs": 40},
                   "baselines": {"max_epochs": 9}},
    }


@pytest.mark.parametrize(("annotation", "value", "expected"), [
    (int, 500.0, 500), (float, "1e-4", 1e-4), (float, 3, 3.0), (list[int], 8, [8]),
    (int | None, None, None), (bool, True, True),
])
def test_coerce_accepts_lossless_conversions(annotation, value, expected):
    assert coerce(value, annotation, "k") == expected


@pytest.mark.parametrize(("annotation", "value"), [
    (int, 2.5), (int, True), (int, "3"), (float, "fast"), (bool, "yes"), (list[int], [1, 2.5]), (str, 3),
])
def test_coerce_rejects_lossy_or_ill_typed_values_naming_the_path(annotation, value):
    with pytest.raises(ConfigError, match=r"^a\.b"):
        coerce(value, annotation, "a.b")


def test_scdeal_precedence_dataset_over_global_over_defaults():
    c = _config()
    a, b = resolve_scdeal_params(c, "A"), resolve_scdeal_params(c, "B")
    assert (a.lr, b.lr) == (0.01, 0.5)
    assert a.epochs_dae == 10 and a.batch_size == ScDEALParams.batch_size
    assert a.seed == b.seed == 7 and a.mode == "corrected"


def test_scdeal_evaluation_params_apply_to_evaluation_runs_only_and_settings_win():
    c = _config()
    assert resolve_scdeal_params(c, "A").epochs_dae == 10
    run = resolve_scdeal_params(c, "A", "reference", "seed2")
    assert run.epochs_dae == 3 and run.mode == "reference" and run.seed == 9
    assert resolve_scdeal_params(c, "A", "scdeal", "sub3").seed == 7  # subsamples keep the model seed


def test_tuned_selection_overrides_config_but_not_the_setting():
    c = _config()
    p = resolve_scdeal_params(c, "A", "ae", "seed0", tuned={"lr": 0.02, "noise_p": 0.4})
    assert p.lr == 0.02 and p.noise_p == 0.0  # the 'ae' setting switches masking off


@pytest.mark.parametrize(("where", "key"), [("params", "seed"), ("params", "mode"), ("datasets", "seed")])
def test_scdeal_keys_set_elsewhere_are_errors_not_silent_overwrites(where, key):
    c = _config()
    section = c["scdeal"][where] if where == "params" else c["scdeal"]["datasets"]["B"]
    section[key] = 1 if key == "seed" else "reference"
    with pytest.raises(ConfigError, match=rf"scdeal\.{where}.*\.{key}: not set here"):
        check_config(c)


def test_misspelled_and_ill_typed_scdeal_keys_name_their_path():
    c = _config()
    c["scdeal"]["datasets"]["B"]["epochs_dea"] = 3
    with pytest.raises(ConfigError, match=r"scdeal\.datasets\.B\.epochs_dea: unknown scDEAL parameter"):
        check_config(c)
    c = _config()
    c["scdeal"]["params"]["epochs_dae"] = 2.5
    with pytest.raises(ConfigError, match=r"scdeal\.params\.epochs_dae: expected an integer, got 2\.5"):
        check_config(c)
    c = _config()
    c["scdeal"]["datasets"]["C"] = {"lr": 0.1}
    with pytest.raises(ConfigError, match=r"scdeal\.datasets\.C: no such dataset"):
        check_config(c)


def test_out_of_range_values_fail_at_resolution_with_the_source_named():
    c = _config()
    c["scdeal"]["datasets"]["B"]["dropout"] = 1.5
    with pytest.raises(ConfigError, match=r"scdeal\.datasets\.B: .*dropout must be in \[0, 1\)"):
        check_config(c)


def test_codeae_methods_resolve_with_one_seed_variant_from_name_and_one_budget():
    c = _config()
    adv, mlp = resolve_codeae_params(c, "codeae_adv"), resolve_codeae_params(c, "mlp")
    ae, enet = resolve_codeae_params(c, "ae"), resolve_codeae_params(c, "elasticnet")
    assert isinstance(adv.pretrain, CodeAEParams) and adv.pretrain.variant == "adv" and adv.pretrain.seed == 7
    assert adv.pretrain.latent == 16 and adv.pretrain.pretrain_epochs == 5
    assert mlp.pretrain is None and mlp.architecture.latent == 16 and mlp.finetune.unfreeze == "all"
    assert isinstance(ae.pretrain, BaselineParams) and ae.pretrain.max_epochs == 9 and ae.pretrain.seed == 7
    assert enet.pretrain is None
    # One fine-tuning budget: 40 epochs in all; four gradual stages get 10 each, one stage all 40.
    assert adv.finetune.max_epochs == mlp.finetune.max_epochs == 40
    assert adv.finetune.epochs_per_stage(4) == 10 and mlp.finetune.epochs_per_stage(1) == 40


@pytest.mark.parametrize("method", ["mlp", "elasticnet", "codeae_adv"])
def test_a_misspelled_codeae_key_fails_whatever_the_method(method):
    c = _config()
    c["codeae"]["params"]["encoder_hiden"] = [4]
    with pytest.raises(ConfigError, match=r"codeae\.params\.encoder_hiden: unknown"):
        resolve_codeae_params(c, method)


@pytest.mark.parametrize(("section", "key"), [("params", "seed"), ("params", "variant"), ("finetune", "seed")])
def test_codeae_reserved_keys_are_errors(section, key):
    c = _config()
    c["codeae"][section][key] = "mmd" if key == "variant" else 3
    with pytest.raises(ConfigError, match=rf"codeae\.{section}\.{key}: not set here"):
        check_config(c)


def test_unknown_codeae_method_is_named():
    c = _config()
    c["codeae"]["methods"].append("codeae_advv")
    with pytest.raises(ConfigError, match="codeae_advv"):
        check_config(c)


def test_yaml_scientific_notation_without_a_dot_reads_as_a_number():
    c = _config()
    c["scdeal"]["params"].update(yaml.safe_load("lr: 1e-4"))
    assert resolve_scdeal_params(c, "A").lr == 1e-4


def test_finetune_budget_rule():
    p = FinetuneParams.from_dict({"max_epochs": 10})
    assert [p.epochs_per_stage(n) for n in (1, 3, 4, 20)] == [10, 3, 2, 1]
    assert FinetuneParams.from_dict({"max_epochs": 0}).epochs_per_stage(4) == 0


def test_params_round_trip_and_defaults_live_in_the_class():
    for cls in (ScDEALParams, CodeAEParams, FinetuneParams, BaselineParams):
        p = cls()
        assert cls.from_dict(p.to_dict()) == p
        assert cls.defaults() == p.to_dict()


def test_what_the_workflow_imports_to_build_its_dag_needs_no_torch():
    code = ("import sys, drugshift.params, drugshift.methods, drugshift.cohorts, drugshift.io.sc_formats; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_config_readme_tables_are_generated_from_the_parameter_classes():
    from conftest import ROOT
    from drugshift.params.docs import update_readme

    text = (ROOT / "config" / "README.md").read_text()
    assert update_readme(text) == text, "run: python -m drugshift.params.docs config/README.md"
