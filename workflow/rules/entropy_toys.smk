# Toy validations of DSE and DSMI (the DSE paper's Figures 2-5): one table and one figure per toy.


rule entropy_toy:
    output:
        table="results/entropy_toys/{toy}.parquet",
    params:
        **params_of("entropy_toy"),
    log:
        "results/logs/entropy_toy/{toy}.log",
    benchmark:
        "results/benchmarks/entropy_toy/{toy}.tsv"
    threads: threads_of("entropy")
    resources:
        mem_mb=mem_mb(8000),
        runtime=runtime_min(120),
    script:
        "../../scripts/entropy_toy.py"


rule entropy_toy_figure:
    input:
        table="results/entropy_toys/{toy}.parquet",
    output:
        png=report(
            "results/entropy_toys/{toy}.png",
            caption="../report/entropy_toys.rst",
            category="Entropy toy validations",
            labels={"toy": "{toy}"},
        ),
    params:
        **params_of("entropy_toy_figure"),
    log:
        "results/logs/entropy_toy_figure/{toy}.log",
    benchmark:
        "results/benchmarks/entropy_toy_figure/{toy}.tsv"
    threads: threads_of("plot")
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime_min(10),
    script:
        "../../scripts/entropy_toy_figure.py"
