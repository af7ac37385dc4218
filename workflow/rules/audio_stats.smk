# Audio branch, statistics: GAMMs of the layer curves per layer, by R's mgcv and by the Python route.


rule audio_gamm_data:
    input:
        table="results/audio/{name}/layers/{network}.parquet",
        samples=inputs(audio_samples),
    output:
        words="results/audio/{name}/gamm/{network}/words.csv",
        sounds="results/audio/{name}/gamm/{network}/sounds.csv",
    params:
        **params_of("audio_gamm_data"),
    log:
        "results/logs/audio_gamm_data/{name}/{network}.log",
    benchmark:
        "results/benchmarks/audio_gamm_data/{name}/{network}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime_min(20),
    script:
        "../../scripts/audio_gamm_data.py"


rule audio_gamm_mgcv:
    input:
        data="results/audio/{name}/gamm/{network}/{analysis}.csv",
    output:
        tables=directory("results/audio/{name}/gamm/{network}/{analysis}.mgcv"),
    params:
        **params_of("audio_gamm_mgcv"),
        # The checkout's path, not workflow.source_path(): that resolves to a new temporary
        # cache folder in every Snakemake process, which changed the params and reran every fit.
        library=str(Path(workflow.basedir) / "lib" / "repgeo" / "stats" / "gamm_mgcv.R"),
    log:
        "results/logs/audio_gamm_mgcv/{name}/{network}/{analysis}.log",
    benchmark:
        "results/benchmarks/audio_gamm_mgcv/{name}/{network}/{analysis}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(120),
    # Only used with --sdm conda; otherwise Rscript comes from the system (Debian: r-cran-mgcv).
    conda:
        "../envs/r-mgcv.yaml"
    script:
        "../../scripts/audio_gamm_mgcv.R"


rule audio_gamm_python:
    input:
        data="results/audio/{name}/gamm/{network}/{analysis}.csv",
    output:
        tables=directory("results/audio/{name}/gamm/{network}/{analysis}.python"),
    params:
        **params_of("audio_gamm_python"),
    log:
        "results/logs/audio_gamm_python/{name}/{network}/{analysis}.log",
    benchmark:
        "results/benchmarks/audio_gamm_python/{name}/{network}/{analysis}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(6000),
        runtime=runtime_min(120),
    script:
        "../../scripts/audio_gamm_python.py"


rule audio_gamm_tables:
    input:
        unpack(inputs(audio_gamm_engine_dirs)),
    output:
        parametric="results/audio/{name}/gamm/{network}/{analysis}_parametric.parquet",
        smooths="results/audio/{name}/gamm/{network}/{analysis}_smooths.parquet",
        curves="results/audio/{name}/gamm/{network}/{analysis}_curves.parquet",
        differences="results/audio/{name}/gamm/{network}/{analysis}_differences.parquet",
        intervals="results/audio/{name}/gamm/{network}/{analysis}_intervals.parquet",
        settings="results/audio/{name}/gamm/{network}/{analysis}_settings.parquet",
        html=report(
            "results/audio/{name}/gamm/{network}/{analysis}_table.html",
            caption="../report/audio_gamm_table.rst",
            category="Audio",
            subcategory="{name}",
            labels={"branch": "{name}", "figure": "GAMM table, {network}, {analysis}"},
        ),
        png=report(
            "results/audio/{name}/gamm/{network}/{analysis}.png",
            caption="../report/audio_gamm.rst",
            category="Audio",
            subcategory="{name}",
            labels={"branch": "{name}", "figure": "GAMM curves, {network}, {analysis}"},
        ),
    params:
        **params_of("audio_gamm_tables"),
    log:
        "results/logs/audio_gamm_tables/{name}/{network}/{analysis}.log",
    benchmark:
        "results/benchmarks/audio_gamm_tables/{name}/{network}/{analysis}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime_min(20),
    script:
        "../../scripts/audio_gamm_tables.py"