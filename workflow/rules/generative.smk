# Generative branch: sliced generative autoencoders (Knop et al.), their quality-feature
# classifier, per-epoch evaluation and the Table-1 comparison.


rule generative_feature_net:
    input:
        unpack(dataset_files("generative")),
    output:
        model="results/generative/{name}/feature_net/model.pt",
        history="results/generative/{name}/feature_net/history.parquet",
    params:
        **params_of("generative_feature_net"),
    log:
        "results/logs/generative_feature_net/{name}.log",
    benchmark:
        "results/benchmarks/generative_feature_net/{name}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(240),
        gpu=gpus("generative"),
    script:
        "../../scripts/generative_feature_net.py"


rule generative_train:
    input:
        unpack(dataset_files("generative")),
    output:
        snapshots="results/generative/{name}/{model}/snapshots.pt",
        history="results/generative/{name}/{model}/history.parquet",
    params:
        **params_of("generative_train"),
    log:
        "results/logs/generative_train/{name}/{model}.log",
    benchmark:
        "results/benchmarks/generative_train/{name}/{model}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(720),
        gpu=gpus("generative"),
    script:
        "../../scripts/generative_train.py"


rule generative_evaluate:
    input:
        unpack(dataset_files("generative")),
        unpack(inputs(user_file("generative", "evaluation.inception_weights", "inception_weights"))),
        snapshots="results/generative/{name}/{model}/snapshots.pt",
        feature_net="results/generative/{name}/feature_net/model.pt",
    output:
        metrics="results/generative/{name}/{model}/metrics.parquet",
    params:
        **params_of("generative_evaluate"),
    log:
        "results/logs/generative_evaluate/{name}/{model}.log",
    benchmark:
        "results/benchmarks/generative_evaluate/{name}/{model}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(8000),
        runtime=runtime_min(120),
        gpu=gpus("generative"),
    script:
        "../../scripts/generative_evaluate.py"


rule generative_tables:
    input:
        unpack(dataset_files("generative")),
        metrics=inputs(generative_model_files("metrics.parquet")),
        snapshots=inputs(generative_model_files("snapshots.pt")),
    output:
        curves="results/generative/{name}/curves.parquet",
        table="results/generative/{name}/table.parquet",
        curves_png=report(
            "results/generative/{name}/curves.png",
            caption="../report/generative_curves.rst",
            category="Generative",
            subcategory="{name}",
            labels={"branch": "{name}", "figure": "metrics over training"},
        ),
        table_html=report(
            "results/generative/{name}/table.html",
            caption="../report/generative_table.rst",
            category="Generative",
            subcategory="{name}",
            labels={"branch": "{name}", "figure": "Table 1"},
        ),
        reconstructions=report(
            "results/generative/{name}/reconstructions.png",
            caption="../report/generative_sheets.rst",
            category="Generative",
            subcategory="{name}",
            labels={"branch": "{name}", "figure": "reconstructions"},
        ),
        samples=report(
            "results/generative/{name}/samples.png",
            caption="../report/generative_sheets.rst",
            category="Generative",
            subcategory="{name}",
            labels={"branch": "{name}", "figure": "samples"},
        ),
        interpolations=report(
            "results/generative/{name}/interpolations.png",
            caption="../report/generative_sheets.rst",
            category="Generative",
            subcategory="{name}",
            labels={"branch": "{name}", "figure": "interpolations"},
        ),
    params:
        **params_of("generative_tables"),
    log:
        "results/logs/generative_tables/{name}.log",
    benchmark:
        "results/benchmarks/generative_tables/{name}.tsv"
    threads: threads_of("plot")
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime_min(30),
    script:
        "../../scripts/generative_tables.py"