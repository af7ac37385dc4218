# Inversion branch: the network to invert, feature-map statistics, modular inverting networks,
# score-matching patch priors, pre-images and their comparison (docs/inversion.md).


rule inversion_network:
    input:
        unpack(dataset_files("inversion")),
        unpack(inputs(user_file("inversion", "weights", "weights"))),
    output:
        model="results/inversion/{name}/network.pt",
        history="results/inversion/{name}/network_history.parquet",
    params:
        **params_of("inversion_network"),
    log:
        "results/logs/inversion_network/{name}.log",
    benchmark:
        "results/benchmarks/inversion_network/{name}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(720),
        gpu=gpus("inversion"),
    script:
        "../../scripts/inversion_network.py"


rule inversion_statistics:
    input:
        unpack(dataset_files("inversion")),
        network="results/inversion/{name}/network.pt",
    output:
        table="results/inversion/{name}/statistics/{layer}.parquet",
        sparsity="results/inversion/{name}/statistics/{layer}_sparsity.parquet",
        figure=report(
            "results/inversion/{name}/statistics/{layer}.png",
            caption="../report/inversion_statistics.rst",
            category="Inversion",
            subcategory="{name}",
            labels={"branch": "{name}", "figure": "feature-map statistics {layer}"},
        ),
    params:
        **params_of("inversion_statistics"),
    log:
        "results/logs/inversion_statistics/{name}/{layer}.log",
    benchmark:
        "results/benchmarks/inversion_statistics/{name}/{layer}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(8000),
        runtime=runtime_min(60),
    script:
        "../../scripts/inversion_statistics.py"


rule inversion_inverter:
    input:
        unpack(dataset_files("inversion")),
        network="results/inversion/{name}/network.pt",
    output:
        model="results/inversion/{name}/inverters/{regime}/{layer}.pt",
        history="results/inversion/{name}/inverters/{regime}/{layer}_history.parquet",
    params:
        **params_of("inversion_inverter"),
    log:
        "results/logs/inversion_inverter/{name}/{regime}/{layer}.log",
    benchmark:
        "results/benchmarks/inversion_inverter/{name}/{regime}/{layer}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(720),
        gpu=gpus("inversion"),
    script:
        "../../scripts/inversion_inverter.py"


rule inversion_inverter_tables:
    input:
        unpack(dataset_files("inversion")),
        network="results/inversion/{name}/network.pt",
        inverters=inputs(inversion_inverter_files),
    output:
        table="results/inversion/{name}/inverters.parquet",
        figure=report(
            "results/inversion/{name}/inverters.png",
            caption="../report/inversion_inverters.rst",
            category="Inversion",
            subcategory="{name}",
            labels={"branch": "{name}", "figure": "inverter reconstructions"},
        ),
    params:
        **params_of("inversion_inverter_tables"),
    log:
        "results/logs/inversion_inverter_tables/{name}.log",
    benchmark:
        "results/benchmarks/inversion_inverter_tables/{name}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(60),
    script:
        "../../scripts/inversion_inverter_tables.py"


rule inversion_prior:
    input:
        unpack(dataset_files("inversion")),
    output:
        prior="results/inversion/{name}/priors/{expert}.pt",
        history="results/inversion/{name}/priors/{expert}_history.parquet",
        figure=report(
            "results/inversion/{name}/priors/{expert}.png",
            caption="../report/inversion_priors.rst",
            category="Inversion",
            subcategory="{name}",
            labels={"branch": "{name}", "figure": "{expert} prior filters"},
        ),
    params:
        **params_of("inversion_prior"),
    log:
        "results/logs/inversion_prior/{name}/{expert}.log",
    benchmark:
        "results/benchmarks/inversion_prior/{name}/{expert}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(240),
    script:
        "../../scripts/inversion_prior.py"


rule inversion_feature_prior:
    input:
        unpack(dataset_files("inversion")),
        network="results/inversion/{name}/network.pt",
    output:
        prior="results/inversion/{name}/priors/{expert}/{layer}.pt",
        history="results/inversion/{name}/priors/{expert}/{layer}_history.parquet",
    params:
        **params_of("inversion_feature_prior"),
    log:
        "results/logs/inversion_feature_prior/{name}/{expert}/{layer}.log",
    benchmark:
        "results/benchmarks/inversion_feature_prior/{name}/{expert}/{layer}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(240),
    script:
        "../../scripts/inversion_feature_prior.py"


rule inversion_preimage:
    input:
        unpack(dataset_files("inversion")),
        unpack(inputs(inversion_prior_input)),
        network="results/inversion/{name}/network.pt",
    output:
        images="results/inversion/{name}/preimages/{method}/{layer}.pt",
        table="results/inversion/{name}/preimages/{method}/{layer}.parquet",
        search="results/inversion/{name}/preimages/{method}/{layer}_search.parquet",
    params:
        **params_of("inversion_preimage"),
    log:
        "results/logs/inversion_preimage/{name}/{method}/{layer}.log",
    benchmark:
        "results/benchmarks/inversion_preimage/{name}/{method}/{layer}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(240),
        gpu=gpus("inversion"),
    script:
        "../../scripts/inversion_preimage.py"


rule inversion_tables:
    input:
        inverters="results/inversion/{name}/inverters.parquet",
        tables=inputs(inversion_preimage_files("parquet")),
        images=inputs(inversion_preimage_files("pt")),
    output:
        table="results/inversion/{name}/comparison.parquet",
        figure=report(
            "results/inversion/{name}/comparison.png",
            caption="../report/inversion_comparison.rst",
            category="Inversion",
            subcategory="{name}",
            labels={"branch": "{name}", "figure": "comparison per layer"},
        ),
        sheet=report(
            "results/inversion/{name}/preimages.png",
            caption="../report/inversion_preimages.rst",
            category="Inversion",
            subcategory="{name}",
            labels={"branch": "{name}", "figure": "pre-images"},
        ),
    params:
        **params_of("inversion_tables"),
    log:
        "results/logs/inversion_tables/{name}.log",
    benchmark:
        "results/benchmarks/inversion_tables/{name}.tsv"
    threads: threads_of("plot")
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime_min(30),
    script:
        "../../scripts/inversion_tables.py"