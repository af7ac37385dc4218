# Audio branch, models: ciwGAN/fiwGAN (WaveGAN with a Q-network) and the supervised reference CNN.


rule audio_train_gan:
    input:
        unpack(dataset_files("audio")),
    output:
        model="results/audio/{name}/gan/model.pt",
        history="results/audio/{name}/gan/history.parquet",
    params:
        **params_of("audio_train_gan"),
    log:
        "results/logs/audio_train_gan/{name}.log",
    benchmark:
        "results/benchmarks/audio_train_gan/{name}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(8000),
        runtime=runtime_min(600),
        gpu=gpus("audio"),
    script:
        "../../scripts/audio_train_gan.py"


rule audio_gan_evaluate:
    input:
        unpack(dataset_files("audio")),
        model="results/audio/{name}/gan/model.pt",
    output:
        accuracy="results/audio/{name}/gan/q_accuracy.parquet",
        confusion="results/audio/{name}/gan/confusion.parquet",
        confusion_png=report(
            "results/audio/{name}/gan/confusion.png",
            caption="../report/audio_confusion.rst",
            category="Audio",
            subcategory="{name}",
            labels={"branch": "{name}", "figure": "Q-network confusion"},
        ),
        sheet=report(
            "results/audio/{name}/gan/spectrograms.png",
            caption="../report/audio_samples.rst",
            category="Audio",
            subcategory="{name}",
            labels={"branch": "{name}", "figure": "generated samples"},
        ),
        wavs=directory("results/audio/{name}/gan/samples"),
    params:
        **params_of("audio_gan_evaluate"),
    log:
        "results/logs/audio_gan_evaluate/{name}.log",
    benchmark:
        "results/benchmarks/audio_gan_evaluate/{name}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime_min(30),
    script:
        "../../scripts/audio_gan_evaluate.py"


rule audio_train_reference:
    input:
        unpack(dataset_files("audio")),
    output:
        model="results/audio/{name}/reference/model.pt",
        history="results/audio/{name}/reference/history.parquet",
    params:
        **params_of("audio_train_reference"),
    log:
        "results/logs/audio_train_reference/{name}.log",
    benchmark:
        "results/benchmarks/audio_train_reference/{name}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(240),
        gpu=gpus("audio"),
    script:
        "../../scripts/audio_train_reference.py"