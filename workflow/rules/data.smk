# Data preparation: every dataset becomes samples.parquet + arrays.pt.


rule prepare_data:
    input:
        unpack(source_manifest),
    output:
        samples="results/data/{dataset}/samples.parquet",
        arrays="results/data/{dataset}/arrays.pt",
    params:
        **params_of("prepare_data"),
    log:
        "results/logs/prepare_data/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_data/{dataset}.tsv"
    threads: threads_of("data")
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime_min(30),
    script:
        "../../scripts/prepare_data.py"


rule data_overview:
    input:
        samples=expand("results/data/{dataset}/samples.parquet", dataset=list(config["datasets"])),
    output:
        html=report(
            "results/data/overview.html",
            caption="../report/data_overview.rst",
            category="Data",
            labels={"table": "prepared datasets"},
        ),
    params:
        **params_of("data_overview"),
    log:
        "results/logs/data_overview.log",
    benchmark:
        "results/benchmarks/data_overview.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(1000),
        runtime=runtime_min(10),
    script:
        "../../scripts/data_overview.py"
