# Entropy tracking: input clusters once, spectra per run (every t), trajectory table and figure.


rule entropy_input_groups:
    input:
        unpack(dataset_files("training")),
    output:
        groups="results/entropy/{name}/x_groups.parquet",
    params:
        **params_of("entropy_input_groups"),
    log:
        "results/logs/entropy_input_groups/{name}.log",
    benchmark:
        "results/benchmarks/entropy_input_groups/{name}.tsv"
    threads: threads_of("entropy")
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime_min(30),
    script:
        "../../scripts/entropy_input_groups.py"


rule entropy_spectra:
    input:
        embeddings="results/training/{name}/{mode}/seed{seed}/embeddings.pt",
        groups="results/entropy/{name}/x_groups.parquet",
    output:
        spectra="results/entropy/{name}/{mode}/seed{seed}/spectra.npz",
    params:
        **params_of("entropy_spectra"),
    log:
        "results/logs/entropy_spectra/{name}/{mode}/seed{seed}.log",
    benchmark:
        "results/benchmarks/entropy_spectra/{name}/{mode}/seed{seed}.tsv"
    threads: threads_of("entropy")
    resources:
        mem_mb=mem_mb(8000),
        runtime=runtime_min(120),
        gpu=gpus("training"),
    script:
        "../../scripts/entropy_spectra.py"


rule entropy_trajectory:
    input:
        unpack(inputs(trajectory_inputs)),
    output:
        trajectory="results/entropy/{name}/trajectory.parquet",
    params:
        **params_of("entropy_trajectory"),
    log:
        "results/logs/entropy_trajectory/{name}.log",
    benchmark:
        "results/benchmarks/entropy_trajectory/{name}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime_min(30),
    script:
        "../../scripts/entropy_trajectory.py"


rule entropy_figure:
    input:
        trajectory="results/entropy/{name}/trajectory.parquet",
    output:
        png=report(
            "results/entropy/{name}/trajectory.png",
            caption="../report/entropy_trajectory.rst",
            category="Entropy during training",
            subcategory="{name}",
            labels={"run": "{name}", "figure": "trajectory"},
        ),
    params:
        **params_of("entropy_figure"),
    log:
        "results/logs/entropy_figure/{name}.log",
    benchmark:
        "results/benchmarks/entropy_figure/{name}.tsv"
    threads: threads_of("plot")
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime_min(10),
    script:
        "../../scripts/entropy_figure.py"