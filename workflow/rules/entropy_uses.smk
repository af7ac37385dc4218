# Uses of DSE/DSMI (the DSE paper, section 6): the initialisation study and the cross-model zoo.


rule entropy_init_probe:
    input:
        unpack(dataset_files("entropy_init")),
    output:
        initial="results/entropy_init/{name}/initial.parquet",
    params:
        **params_of("entropy_init_probe"),
    log:
        "results/logs/entropy_init_probe/{name}.log",
    benchmark:
        "results/benchmarks/entropy_init_probe/{name}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(60),
        gpu=gpus("entropy_init"),
    script:
        "../../scripts/entropy_init_probe.py"


rule entropy_init_train:
    input:
        unpack(dataset_files("entropy_init")),
        initial="results/entropy_init/{name}/initial.parquet",
    output:
        embeddings="results/entropy_init/{name}/{extreme}/seed{seed}/embeddings.pt",
        history="results/entropy_init/{name}/{extreme}/seed{seed}/history.parquet",
    params:
        **params_of("entropy_init_train"),
    log:
        "results/logs/entropy_init_train/{name}/{extreme}/seed{seed}.log",
    benchmark:
        "results/benchmarks/entropy_init_train/{name}/{extreme}/seed{seed}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(240),
        gpu=gpus("entropy_init"),
    script:
        "../../scripts/entropy_init_train.py"


rule entropy_init_summary:
    input:
        unpack(inputs(init_summary_inputs)),
    output:
        curves="results/entropy_init/{name}/curves.parquet",
        png=report(
            "results/entropy_init/{name}/initialisation.png",
            caption="../report/entropy_init.rst",
            category="Entropy: uses",
            subcategory="initialisation {name}",
            labels={"study": "initialisation", "run": "{name}"},
        ),
    params:
        **params_of("entropy_init_summary"),
    log:
        "results/logs/entropy_init_summary/{name}.log",
    benchmark:
        "results/benchmarks/entropy_init_summary/{name}.tsv"
    threads: threads_of("entropy")
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime_min(60),
    script:
        "../../scripts/entropy_init_summary.py"


rule entropy_zoo_train:
    input:
        unpack(dataset_files("entropy_zoo")),
    output:
        embeddings="results/entropy_zoo/{name}/{member}/embeddings.pt",
        history="results/entropy_zoo/{name}/{member}/history.parquet",
    params:
        **params_of("entropy_zoo_train"),
    log:
        "results/logs/entropy_zoo_train/{name}/{member}.log",
    benchmark:
        "results/benchmarks/entropy_zoo_train/{name}/{member}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(240),
        gpu=gpus("entropy_zoo"),
    script:
        "../../scripts/entropy_zoo_train.py"


rule entropy_zoo_external:
    input:
        unpack(dataset_files("entropy_zoo")),
        state_dict=inputs(zoo_state_dict),
    output:
        embeddings="results/entropy_zoo/{name}/ext-{external}/embeddings.pt",
        history="results/entropy_zoo/{name}/ext-{external}/history.parquet",
    params:
        **params_of("entropy_zoo_external"),
    log:
        "results/logs/entropy_zoo_external/{name}/{external}.log",
    benchmark:
        "results/benchmarks/entropy_zoo_external/{name}/{external}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(8000),
        runtime=runtime_min(60),
        gpu=gpus("entropy_zoo"),
    script:
        "../../scripts/entropy_zoo_external.py"


rule entropy_zoo_input_groups:
    input:
        unpack(dataset_files("entropy_zoo")),
    output:
        groups="results/entropy_zoo/{name}/x_groups.parquet",
    params:
        **params_of("entropy_zoo_input_groups"),
    log:
        "results/logs/entropy_zoo_input_groups/{name}.log",
    benchmark:
        "results/benchmarks/entropy_zoo_input_groups/{name}.tsv"
    threads: threads_of("entropy")
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime_min(30),
    script:
        "../../scripts/entropy_input_groups.py"


rule entropy_zoo_table:
    input:
        unpack(inputs(zoo_table_inputs)),
    output:
        models="results/entropy_zoo/{name}/models.parquet",
        correlations="results/entropy_zoo/{name}/correlations.parquet",
    params:
        **params_of("entropy_zoo_table"),
    log:
        "results/logs/entropy_zoo_table/{name}.log",
    benchmark:
        "results/benchmarks/entropy_zoo_table/{name}.tsv"
    threads: threads_of("entropy")
    resources:
        mem_mb=mem_mb(8000),
        runtime=runtime_min(120),
    script:
        "../../scripts/entropy_zoo_table.py"


rule entropy_zoo_figure:
    input:
        models="results/entropy_zoo/{name}/models.parquet",
        correlations="results/entropy_zoo/{name}/correlations.parquet",
    output:
        png=report(
            "results/entropy_zoo/{name}/zoo.png",
            caption="../report/entropy_zoo.rst",
            category="Entropy: uses",
            subcategory="model zoo {name}",
            labels={"study": "cross-model", "run": "{name}"},
        ),
    params:
        **params_of("entropy_zoo_figure"),
    log:
        "results/logs/entropy_zoo_figure/{name}.log",
    benchmark:
        "results/benchmarks/entropy_zoo_figure/{name}.tsv"
    threads: threads_of("plot")
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime_min(10),
    script:
        "../../scripts/entropy_zoo_figure.py"