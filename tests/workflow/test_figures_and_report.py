"""The papers' figures on the demo: every panel the demo config supports is drawn, MISSING.tsv says
why the others are not, and the Snakemake report opens in a real headless browser."""

import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from conftest import snakemake

# The demo config: two labelled datasets, a pseudotime root for GSEDEMO1 only, the evaluation
# off, CODE-AE-ADV with MLP and Elastic Net, TCGA (xena, with a phenotype) and PDTC cohorts.
S, C, D = "scDEAL", "CODE-AE", "drugshift"
DRAWN = {(S, "2a", ""), (S, "2d", ""), (S, "3a", "GSEDEMO1"), (S, "3a", "GSEDEMO2"), (S, "3b", "GSEDEMO2"),
         (S, "3c", "GSEDEMO1"), (S, "3d", "GSEDEMO2"), (S, "4a", "GSEDEMO1"), (S, "4b", "GSEDEMO2"),
         (S, "4c", "GSEDEMO1"), (S, "5a–b", "GSEDEMO1"), (S, "5c–d", "GSEDEMO1"), (S, "5e–f", "GSEDEMO1"),
         (C, "2a", ""), (C, "2c", ""), (C, "3a", "pdtc"), (C, "3b", "pdtc"), (C, "4a", "tcga"), (C, "4b", "tcga"),
         (C, "5a", ""), (C, "5b", ""), (C, "5c", ""), (D, "CD", "gdsc_cv"), (D, "CD", "tcga"), (D, "CD", "pdtc")}


def tables(work: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    folder = work / "results/figures/paper"
    read = lambda name: pd.read_csv(folder / name, sep="\t", keep_default_na=False)  # noqa: E731
    return read("PANELS.tsv"), read("MISSING.tsv")


def test_demo_draws_every_panel_its_config_supports(demo_run):
    panels, missing = tables(demo_run)
    drawn = set(zip(panels["paper"], panels["panel"], panels["dataset"]))
    assert DRAWN <= drawn, sorted(DRAWN - drawn)
    for file in panels["file"]:
        png = demo_run / file
        with Image.open(png) as image:
            width, height = image.size
        assert width > 400 and height > 250, file
        assert png.with_suffix(".pdf").stat().st_size > 5_000, file
    # Each panel not drawn is listed once with its reason, and none is both drawn and missing.
    listed = {(p, q, d): r for p, q, d, r in zip(missing["paper"], missing["panel"], missing["dataset"],
                                                 missing["reason"])}
    assert len(listed) == len(missing)
    assert listed[(S, "2b", "")].startswith("the scDEAL evaluation is off")
    assert listed[(S, "2 (robustness)", "")].startswith("the scDEAL evaluation is off")
    assert "pseudotime" in listed[(S, "5a–b", "GSEDEMO2")]
    assert "method ae" in listed[(C, "2b", "")]
    assert not set(listed) & drawn
    # Every paper panel of the catalogue is accounted for, drawn or missing.
    from drugshift.paper_figures import PANELS

    accounted = set(panels["panel"]) | set(missing["panel"])
    assert {p.panel for p in PANELS} <= accounted


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_opens_in_a_headless_browser(demo_run, tmp_path):
    if chromium() is None:
        pytest.skip("no chromium: install Debian's `chromium` (as root, .ci/run does) to open the report in a browser")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the test extra) is not installed")
    report = tmp_path / "report.html"
    snakemake(["--report", str(report)], demo_run)
    assert report.stat().st_size > 1_000_000  # the figures are embedded
    errors = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.goto(report.as_uri())
            page.wait_for_load_state("networkidle")
            home = page.inner_text("body")
            for category in ("scDEAL paper", "CODE-AE paper", "Beyond the papers", "Tables"):
                assert category in home, home[:2000]
            # paper -> figure -> dataset, each panel an entry.
            page.get_by_text("scDEAL paper", exact=True).click()
            page.get_by_text("Fig. 3 · GSEDEMO1", exact=True).click()
            page.wait_for_timeout(500)
            entries = page.inner_text("body")
            for panel in ("3a", "3b", "3c", "3d"):
                assert f"\n{panel}\t" in entries or f"{panel}\tGSEDEMO1" in entries, entries[:2000]
            page.screenshot(path=str(tmp_path / "report_scdeal_fig3.png"))
            page.goto(report.as_uri())
            page.get_by_text("CODE-AE paper", exact=True).click()
            page.get_by_text("Fig. 4 · tcga", exact=True).click()
            row = page.locator("tr", has_text="4a")
            row.locator('a[iconname="eye"]').click()  # the panel itself, embedded as a PNG
            page.wait_for_timeout(500)
            sources = [page.locator("img").nth(i).get_attribute("src") or "" for i in range(page.locator("img").count())]
            assert any(s.startswith("data:image/png") and "codeae_fig4a_tcga_auroc" in s for s in sources)
            page.screenshot(path=str(tmp_path / "report_codeae_fig4a.png"))
            row.locator('a[iconname="information-circle"]').click()  # its caption
            page.wait_for_timeout(300)
            assert "Paper panel: CODE-AE Fig. 4a" in page.inner_text("body")
        finally:
            browser.close()
    assert errors == []
    with Image.open(tmp_path / "report_scdeal_fig3.png") as shot:
        assert shot.size == (1400, 900)
