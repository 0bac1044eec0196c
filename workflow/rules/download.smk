# Upstream files of resources/downloads.yaml -> results/raw/<source>/<file>, verified; archives unpacked.
# Explicit rules rather than the HTTP storage plugin: the plugin neither checks sha256/size nor
# takes a mirror base URL or a retry policy from the config (drugshift.download does all three).
from dataclasses import asdict
from pathlib import Path

from drugshift.download import load_manifest

if Path(config["download"]["manifest"]).exists():
    MANIFEST = load_manifest(config["download"]["manifest"])
else:  # a copy of the workflow without resources/ (the demo needs no download)
    logger.warning(f"download manifest {config['download']['manifest']} not found: no download rule")
    MANIFEST = {}
ARCHIVES = [key for key, entry in MANIFEST.items() if entry.extract]


rule download:
    output:
        "results/raw/{key}",
    wildcard_constraints:
        key="|".join(re.escape(k) for k in MANIFEST) or "NO_DOWNLOAD",
    params:
        entry=lambda wc: asdict(MANIFEST[wc.key]),
        mirror=config["download"]["mirror"],
        retries=config["download"]["retries"],
        timeout=config["download"]["timeout"],
        backoff=config["download"]["backoff"],
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/download/{key}.log",
    benchmark:
        "benchmarks/rules/download/{key}.tsv"
    script:
        "../scripts/download.py"


rule extract_archive:
    input:
        "results/raw/{archive}",
    output:
        directory("results/raw/{archive}.d"),
    wildcard_constraints:
        archive="|".join(re.escape(k) for k in ARCHIVES) or "NO_ARCHIVE",
    threads: tier_threads("light")
    resources:
        **tier("light"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/extract_archive/{archive}.log",
    benchmark:
        "benchmarks/rules/extract_archive/{archive}.tsv"
    script:
        "../scripts/extract_archive.py"


rule download_all:
    input:
        [f"results/raw/{key}" for key in MANIFEST if MANIFEST[key].url or config["download"]["mirror"]],
        [f"results/raw/{key}.d" for key in ARCHIVES],
    default_target: False
