"""The on-demand benchmarks' shared code (benchmarks/harness.py) and their summary
(benchmarks/summarise.py), on trivial work and fake results: no benchmark is run here."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_reference  # noqa: E402
import bench_scaling  # noqa: E402
import harness  # noqa: E402
import summarise  # noqa: E402

RECORD_KEYS = {"name", "inputs", "wall_s", "cpu_s", "cpu_utilisation", "rss_before_mb", "peak_rss_mb",
               "peak_rss_reset", "stages", "result"}


def test_measure_records_time_cpu_memory_and_the_result():
    def work():
        return {"total": float(np.ones(200_000).sum())}

    record = harness.measure("trivial", {"n": 200_000}, work)
    assert set(record) == RECORD_KEYS
    assert record["name"] == "trivial" and record["inputs"] == {"n": 200_000}
    assert record["result"] == {"total": 200_000.0}
    assert 0 < record["wall_s"] < 10 and record["cpu_s"] >= 0
    assert 10 < record["peak_rss_mb"] < 100_000  # MB, not KB or bytes
    assert record["stages"] == [] and record["peak_rss_reset"] is False


def test_measure_times_every_training_stage():
    import torch

    from drugshift.models.scdeal import plan

    layer = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    x = torch.ones(10, 3)

    def step(idx):
        opt.zero_grad()
        loss = layer(x[idx]).pow(2).mean()
        loss.backward()
        opt.step()
        return {"loss": loss.detach()}

    def run():
        plan.fit(step, lambda: float(layer(x).pow(2).mean()), [layer], n_train=10, epochs=2, batch_size=5,
                 patience=0, name="tiny stage")

    record = harness.measure("stages", {}, run, reset_peak=True)
    [stage] = record["stages"]
    assert stage["stage"] == "tiny stage" and stage["epochs"] == 2 and stage["rows"] == 10
    assert 0 < stage["seconds"] <= record["wall_s"] and stage["peak_rss_mb"] > 0
    assert harness.stage_totals(record["stages"] * 2)["tiny stage"]["calls"] == 2
    from drugshift import train

    assert plan.fit is train.fit  # the patch is undone


def test_dae_flops_match_a_count_by_hand_and_the_library_layers():
    import torch

    from drugshift.nn.blocks import DenoisingAutoencoder

    # 10 genes, hidden [4], bottleneck 2: layers 10→4, 4→2, 2→4, 4→10.
    assert harness.dae_layers(10, [4], 2) == [(10, 4), (4, 2), (2, 4), (4, 10)]
    per_row_forward = 2 * (10 * 4 + 4 * 2 + 2 * 4 + 4 * 10)  # 192
    assert harness.dae_flops(10, [4], 2) == 3 * per_row_forward == 576
    assert harness.dae_flops(10, [4], 2, rows=5, epochs=2) == 5760
    dae = DenoisingAutoencoder(10, [4], 2)
    linear = [(m.in_features, m.out_features) for m in dae.modules() if isinstance(m, torch.nn.Linear)]
    assert linear == harness.dae_layers(10, [4], 2)


def test_loglog_slope_recovers_a_known_exponent():
    x = [1_000, 10_000, 30_000, 100_000]
    assert harness.loglog_slope(x, [3.0 * v ** 1.5 for v in x]) == pytest.approx(1.5)
    assert harness.loglog_slope(x, [7.0 for _ in x]) == pytest.approx(0.0, abs=1e-12)
    assert harness.loglog_slope([5, 5], [1, 2]) is None and harness.loglog_slope([1], [1]) is None
    points = [{"inputs": {"cells": v}, "fit": {"wall_s": 0.01 * v, "peak_rss_mb": 500.0, "rss_before_mb": 400.0},
               "preprocess": {"wall_s": 1e-4 * v ** 0.5}} for v in x]
    slopes = bench_scaling.slopes(points, "cells", bench_scaling.SCDEAL_SERIES)
    assert slopes["fit_time"] == pytest.approx(1.0) and slopes["preprocess_time"] == pytest.approx(0.5)
    assert slopes["fit_peak_rss"] == pytest.approx(0.0, abs=1e-12)


def test_power_grid_and_sparse_counts():
    assert bench_scaling.power_grid(8) == [1, 2, 4, 8] and bench_scaling.power_grid(6) == [1, 2, 4, 6]
    assert bench_scaling.power_grid(1) == [1]
    counts = bench_scaling.sparse_counts(50, 400)
    assert counts.shape == (50, 400) and counts.dtype == np.float32
    assert (np.diff(counts.indptr) == 250).all() and counts.data.min() >= 1  # distinct genes per cell, counts ≥ 1


def test_matmul_rate_and_environment():
    rate = harness.matmul_gflops((16, 32, 8), threads=1, repeats=2, min_seconds=0.001)
    assert rate["shape"] == [16, 32, 8] and rate["threads"] == 1 and rate["gflops"] > 0
    env = harness.environment()
    assert env["logical_cores"] >= 1 and env["torch_threads"] >= 1 and env["cpu_model"]
    assert set(env["versions"]) >= {"python", "torch", "numpy", "scipy", "scanpy", "drugshift"}


def test_in_subprocess_returns_the_childs_value_and_raises_its_errors():
    assert 1 < harness.in_subprocess(harness.peak_rss_mb) < 100_000
    with pytest.raises(ZeroDivisionError):
        harness.in_subprocess(divmod, 1, 0)


def test_write_result_is_sorted_json_with_null_for_nan(tmp_path):
    path = harness.write_result("x", {"b": np.float32(1.5), "a": [np.int64(2), math.nan], "c": (1, 2)}, tmp_path)
    assert path == tmp_path / "x.json"
    text = path.read_text()
    assert text.index('"a"') < text.index('"b"')
    assert json.loads(text) == {"a": [2, None], "b": 1.5, "c": [1, 2]}
    assert harness.read_results(tmp_path) == {"x": {"a": [2, None], "b": 1.5, "c": [1, 2]}}


# ----------------------------------------------------------------------------- summary of fake results


def _stage(name, epochs, rows, seconds, peak=900.0):
    return {"stage": name, "epochs": epochs, "rows": rows, "seconds": seconds, "peak_rss_mb": peak}


def fake_stage_run() -> dict:
    record = {"name": "reference_pc9_stages", "inputs": {"epochs": 500}, "wall_s": 900.0, "cpu_s": 1700.0,
              "peak_rss_mb": 1536.0,
              "stages": [_stage("bulk DAE", 500, 583, 200.0), _stage("predictor", 500, 1020, 10.0),
                         _stage("sc DAE", 500, 1452, 300.0, 1400.0), _stage("joint", 500, 1020, 40.0, 1500.0)],
              "result": {"prepare_seconds": {"bulk: read": 3.0, "cells: read": 7.0},
                         "seconds": {"fit (train_scdeal)": 600.0, "predict": 1.0, "evaluate": 0.5}}}
    return {"record": record, "params": {"bulk_hidden": [512, 256], "sc_hidden": [512, 256], "bulk_bottleneck": 64,
                                         "batch_size": 200},
            "sizes": {"genes": 4561, "cells": 1815, "cell_lines": 911, "cell_lines_sensitive": 113},
            "matmul": {"first_layer": {"shape": [200, 4561, 512], "gflops": 50.0},
                       "square_2048": {"shape": [2048, 2048, 2048], "gflops": 80.0}},
            "environment": {"cpu_model": "Test CPU", "logical_cores": 2, "torch_threads": 2,
                            "versions": {"torch": "2.x"}, "date": "2026-01-01 00:00"}}


def test_stage_comparison_against_the_reference():
    comparison = bench_reference.stage_comparison("pc9", fake_stage_run())
    rows = {r["stage"]: r for r in comparison["rows"]}
    assert rows["predictor"]["met"] is True  # 10 s ≤ 13.2 s
    assert rows["joint"]["met"] is False  # 40 s > 31.3 s
    assert rows["bulk stage"]["drugshift_s"] == pytest.approx(3.0 + 200.0 + 10.0)
    assert rows["single-cell stage"]["drugshift_s"] == pytest.approx(7.0 + 601.5 - 210.0)
    assert rows["bulk stage"]["drugshift_peak_gb"] == pytest.approx(900.0 / 1024)
    bulk = next(g for g in comparison["gflops"] if g["stage"] == "bulk DAE")
    expected = harness.dae_flops(4561, [512, 256], 64, 583, 500) / 200.0 / 1e9
    assert bulk["achieved_gflops"] == pytest.approx(expected)
    assert bulk["met"] is (expected / 50.0 >= 0.6)


def test_summarise_renders_tables_and_says_what_is_not_measured(tmp_path):
    results = tmp_path / "results"
    run = fake_stage_run()
    harness.write_result("reference_pc9_stages",
                         {**run, "comparison": bench_reference.stage_comparison("pc9", run), "threads": 2,
                          "reference": {"source": bench_reference.SOURCE}}, results)
    single = {"record": {"wall_s": 60.0, "peak_rss_mb": 700.0, "stages": [_stage("joint", 40, 600, 5.0)],
                         "result": {"metrics": {"transfer": {"auroc": 0.99, "f1": 0.8, "f1_weighted": 0.85},
                                                "no_transfer": {"auroc": 0.9}}}},
              "params": {"ensemble": 1}}
    harness.write_result("reference_a375_end_to_end",
                         {"runs": {"single": single},
                          "comparison": bench_reference.end_to_end_comparison("a375", {"single": single})}, results)
    x = [1000, 10000]
    points = [{"inputs": {"cells": v}, "fit": {"wall_s": 0.01 * v, "peak_rss_mb": 600.0 + v / 100, "rss_before_mb": 500.0},
               "preprocess": {"wall_s": 0.001 * v}, "stages": {"sc DAE": {"seconds": 0.005 * v}},
               "formats": {"after align_to_bulk (X)": "numpy.ndarray (dense)"}} for v in x]
    harness.write_result("scaling", {"epochs": 5, "threads": 2, "sparse_finding": "densified at once",
                                     "axes": {"cells": {"points": points, "fixed": {"genes": 2000},
                                                        "slopes": bench_scaling.slopes(points, "cells",
                                                                                       bench_scaling.SCDEAL_SERIES)}}},
                         results)
    readme = tmp_path / "out" / "README.md"
    summarise.summarise(results, readme, readme.parent / "scaling.png")
    text = readme.read_text()
    assert "make bench" in text and "bench_reference.py" in text
    assert "| bulk DAE | 293 | 200.0 | 0.683 |" in text
    assert "| joint | 313 | 40.0 | 0.128 |  | ≤ 0.1 × reference (31.3 s) | **no** |" in text
    assert "Test CPU" in text
    assert "| A375 | single (1) | 60.0 | 340 |" in text and "0.990" in text
    assert "| cells | fit_time | 1.00 |" in text and "densified at once" in text
    assert "![" in text and "(scaling.png)" in text and (readme.parent / "scaling.png").stat().st_size > 0
    # Missing JSON: each such section says so, with the command that measures it.
    assert "_A375 / PLX-4720, stages: not measured yet_" in text
    assert "_profile: not measured yet_ — run `nice .venv/bin/python benchmarks/profile_scdeal.py`" in text
    assert "_GPU throughput: not measured yet_" in text
    assert summarise.render({}).count("not measured yet") >= 6
