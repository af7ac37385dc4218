# Inversion branch: the network to invert, feature-map statistics, modular inverting networks,
# score-matching patch priors, pre-images and their comparison (docs/inversion.md).


rule inversion_network:
    input:
        unpack(inversion_data),
        unpack(inversion_weights),
    output:
        model="results/inversion/{name}/network.pt",
        history="results/inversion/{name}/network_history.parquet",
    params:
        spec=inversion_network_spec,
        device=config["device"],
    log:
        "results/logs/inversion_network/{name}.log",
    benchmark:
        "results/benchmarks/inversion_network/{name}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(720),
        gpu=inversion_gpus,
    script:
        "../../scripts/inversion_network.py"


rule inversion_statistics:
    input:
        unpack(inversion_data),
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
        spec=inversion_statistics_spec,
        dpi=config["report"]["dpi"],
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
        unpack(inversion_data),
        network="results/inversion/{name}/network.pt",
    output:
        model="results/inversion/{name}/inverters/{regime}/{layer}.pt",
        history="results/inversion/{name}/inverters/{regime}/{layer}_history.parquet",
    params:
        spec=inversion_inverter_spec,
        device=config["device"],
    log:
        "results/logs/inversion_inverter/{name}/{regime}/{layer}.log",
    benchmark:
        "results/benchmarks/inversion_inverter/{name}/{regime}/{layer}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(720),
        gpu=inversion_gpus,
    script:
        "../../scripts/inversion_inverter.py"


rule inversion_inverter_tables:
    input:
        unpack(inversion_data),
        network="results/inversion/{name}/network.pt",
        inverters=inversion_inverter_files,
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
        spec=inversion_inverter_table_spec,
        dpi=config["report"]["dpi"],
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
        unpack(inversion_data),
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
        spec=inversion_prior_spec,
        dpi=config["report"]["dpi"],
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
        unpack(inversion_data),
        network="results/inversion/{name}/network.pt",
    output:
        prior="results/inversion/{name}/priors/{expert}/{layer}.pt",
        history="results/inversion/{name}/priors/{expert}/{layer}_history.parquet",
    params:
        spec=inversion_feature_prior_spec,
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
        unpack(inversion_data),
        unpack(inversion_prior_input),
        network="results/inversion/{name}/network.pt",
    output:
        images="results/inversion/{name}/preimages/{method}/{layer}.pt",
        table="results/inversion/{name}/preimages/{method}/{layer}.parquet",
        search="results/inversion/{name}/preimages/{method}/{layer}_search.parquet",
    params:
        spec=inversion_preimage_spec,
        device=config["device"],
    log:
        "results/logs/inversion_preimage/{name}/{method}/{layer}.log",
    benchmark:
        "results/benchmarks/inversion_preimage/{name}/{method}/{layer}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(240),
        gpu=inversion_gpus,
    script:
        "../../scripts/inversion_preimage.py"


rule inversion_tables:
    input:
        inverters="results/inversion/{name}/inverters.parquet",
        tables=inversion_preimage_files("parquet"),
        images=inversion_preimage_files("pt"),
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
        spec=inversion_tables_spec,
        dpi=config["report"]["dpi"],
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
