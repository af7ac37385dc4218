# Audio branch, feature extraction: channel-averaged layer activations of real tokens.


rule audio_layers:
    input:
        unpack(dataset_files("audio")),
        model=inputs(audio_network_model),
    output:
        table="results/audio/{name}/layers/{network}.parquet",
        logits="results/audio/{name}/layers/{network}_logits.parquet",
        png=report(
            "results/audio/{name}/layers/{network}.png",
            caption="../report/audio_layers.rst",
            category="Audio",
            subcategory="{name}",
            labels={"branch": "{name}", "figure": "layers of {network}"},
        ),
    params:
        **params_of("audio_layers"),
    log:
        "results/logs/audio_layers/{name}/{network}.log",
    benchmark:
        "results/benchmarks/audio_layers/{name}/{network}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(60),
    script:
        "../../scripts/audio_layers.py"