# Diffusion embedding: bandwidth sweep with the automatic pick, then the truncated diffusion map.


rule diffusion_sweep:
    input:
        unpack(dataset_files("diffusion")),
    output:
        sweep="results/diffusion/{name}/sweep.parquet",
    params:
        **params_of("diffusion_sweep"),
    log:
        "results/logs/diffusion_sweep/{name}.log",
    benchmark:
        "results/benchmarks/diffusion_sweep/{name}.tsv"
    threads: threads_of("diffusion")
    resources:
        mem_mb=mem_mb(8000),
        runtime=runtime_min(60),
    script:
        "../../scripts/diffusion_sweep.py"


rule diffusion_embed:
    input:
        unpack(dataset_files("diffusion")),
        sweep="results/diffusion/{name}/sweep.parquet",
    output:
        embedding="results/diffusion/{name}/embedding.parquet",
        eigenvalues="results/diffusion/{name}/eigenvalues.parquet",
    params:
        **params_of("diffusion_embed"),
    log:
        "results/logs/diffusion_embed/{name}.log",
    benchmark:
        "results/benchmarks/diffusion_embed/{name}.tsv"
    threads: threads_of("diffusion")
    resources:
        mem_mb=mem_mb(8000),
        runtime=runtime_min(60),
    script:
        "../../scripts/diffusion_embed.py"


rule diffusion_figures:
    input:
        sweep="results/diffusion/{name}/sweep.parquet",
        embedding="results/diffusion/{name}/embedding.parquet",
        eigenvalues="results/diffusion/{name}/eigenvalues.parquet",
    output:
        sweep_png=report(
            "results/diffusion/{name}/sweep.png",
            caption="../report/sweep.rst",
            category="Diffusion maps",
            subcategory="{name}",
            labels={"run": "{name}", "figure": "bandwidth sweep"},
        ),
        scatter_png=report(
            "results/diffusion/{name}/embedding_3d.png",
            caption="../report/embedding.rst",
            category="Diffusion maps",
            subcategory="{name}",
            labels={"run": "{name}", "figure": "diffusion map"},
        ),
        summary=report(
            "results/diffusion/{name}/summary.html",
            caption="../report/diffusion_summary.rst",
            category="Diffusion maps",
            subcategory="{name}",
            labels={"run": "{name}", "figure": "tables"},
        ),
    params:
        **params_of("diffusion_figures"),
    log:
        "results/logs/diffusion_figures/{name}.log",
    benchmark:
        "results/benchmarks/diffusion_figures/{name}.tsv"
    threads: threads_of("plot")
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime_min(10),
    script:
        "../../scripts/diffusion_figures.py"