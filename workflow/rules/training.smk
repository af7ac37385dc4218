# Classifier training with a recorded embedding per epoch (the entropy stage's input).


rule train_classifier:
    input:
        unpack(dataset_files("training")),
    output:
        embeddings="results/training/{name}/{mode}/seed{seed}/embeddings.pt",
        history="results/training/{name}/{mode}/seed{seed}/history.parquet",
    params:
        **params_of("train_classifier"),
    log:
        "results/logs/train_classifier/{name}/{mode}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train_classifier/{name}/{mode}/seed{seed}.tsv"
    threads: threads_of("training")
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(240),
        gpu=gpus("training"),
    script:
        "../../scripts/train_classifier.py"
