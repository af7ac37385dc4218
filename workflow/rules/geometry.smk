# Geometry: pointwise intrinsic dimension and scalar curvature (Jones' diffusion geometry),
# with baselines, null controls and curvature against attributes.


rule geometry_points:
    input:
        unpack(inputs(geometry_source)),
    output:
        points="results/geometry/{name}/points.pt",
        samples="results/geometry/{name}/samples.parquet",
    params:
        **params_of("geometry_points"),
    log:
        "results/logs/geometry_points/{name}.log",
    benchmark:
        "results/benchmarks/geometry_points/{name}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime_min(20),
    script:
        "../../scripts/geometry_points.py"


rule geometry_knn:
    input:
        points="results/geometry/{name}/points.pt",
    output:
        knn="results/geometry/{name}/knn.pt",
    params:
        **params_of("geometry_knn"),
    log:
        "results/logs/geometry_knn/{name}.log",
    benchmark:
        "results/benchmarks/geometry_knn/{name}.tsv"
    threads: threads_of("geometry")
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime_min(30),
    script:
        "../../scripts/geometry_knn.py"


rule geometry_dimension:
    input:
        points="results/geometry/{name}/points.pt",
        knn="results/geometry/{name}/knn.pt",
    output:
        dimension="results/geometry/{name}/dimension.parquet",
    params:
        **params_of("geometry_dimension"),
    log:
        "results/logs/geometry_dimension/{name}.log",
    benchmark:
        "results/benchmarks/geometry_dimension/{name}.tsv"
    threads: threads_of("geometry")
    resources:
        mem_mb=mem_mb(8000),
        runtime=runtime_min(60),
    script:
        "../../scripts/geometry_dimension.py"


rule geometry_curvature:
    input:
        points="results/geometry/{name}/points.pt",
        knn="results/geometry/{name}/knn.pt",
        dimension="results/geometry/{name}/dimension.parquet",
    output:
        curvature="results/geometry/{name}/curvature.parquet",
    params:
        **params_of("geometry_curvature"),
    log:
        "results/logs/geometry_curvature/{name}.log",
    benchmark:
        "results/benchmarks/geometry_curvature/{name}.tsv"
    threads: threads_of("geometry")
    resources:
        mem_mb=mem_mb(8000),
        runtime=runtime_min(60),
    script:
        "../../scripts/geometry_curvature.py"


rule geometry_baselines:
    input:
        points="results/geometry/{name}/points.pt",
        knn="results/geometry/{name}/knn.pt",
        curvature="results/geometry/{name}/curvature.parquet",
    output:
        baselines="results/geometry/{name}/baselines.parquet",
    params:
        **params_of("geometry_baselines"),
    log:
        "results/logs/geometry_baselines/{name}.log",
    benchmark:
        "results/benchmarks/geometry_baselines/{name}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime_min(60),
    script:
        "../../scripts/geometry_baselines.py"


rule geometry_nulls:
    input:
        points="results/geometry/{name}/points.pt",
        curvature="results/geometry/{name}/curvature.parquet",
    output:
        nulls="results/geometry/{name}/nulls.parquet",
    params:
        **params_of("geometry_nulls"),
    log:
        "results/logs/geometry_nulls/{name}.log",
    benchmark:
        "results/benchmarks/geometry_nulls/{name}.tsv"
    threads: threads_of("geometry")
    resources:
        mem_mb=mem_mb(8000),
        runtime=runtime_min(60),
    script:
        "../../scripts/geometry_nulls.py"


rule geometry_tables:
    input:
        unpack(inputs(geometry_tables_inputs)),
    output:
        pointwise="results/geometry/{name}/pointwise.parquet",
        summary="results/geometry/{name}/summary.parquet",
    log:
        "results/logs/geometry_tables/{name}.log",
    benchmark:
        "results/benchmarks/geometry_tables/{name}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime_min(10),
    script:
        "../../scripts/geometry_tables.py"


rule geometry_attributes:
    input:
        pointwise="results/geometry/{name}/pointwise.parquet",
        points="results/geometry/{name}/points.pt",
    output:
        tests="results/geometry/{name}/attributes.parquet",
        regions="results/geometry/{name}/regions.parquet",
        enrichment="results/geometry/{name}/enrichment.parquet",
    params:
        **params_of("geometry_attributes"),
    log:
        "results/logs/geometry_attributes/{name}.log",
    benchmark:
        "results/benchmarks/geometry_attributes/{name}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime_min(20),
    script:
        "../../scripts/geometry_attributes.py"


rule geometry_figures:
    input:
        unpack(inputs(geometry_figure_inputs)),
    output:
        dimension_png=report(
            "results/geometry/{name}/dimension_3d.png",
            caption="../report/geometry_dimension.rst",
            category="Geometry",
            subcategory="{name}",
            labels={"run": "{name}", "figure": "pointwise dimension"},
        ),
        curvature_png=report(
            "results/geometry/{name}/curvature_3d.png",
            caption="../report/geometry_curvature.rst",
            category="Geometry",
            subcategory="{name}",
            labels={"run": "{name}", "figure": "scalar curvature"},
        ),
        summary=report(
            "results/geometry/{name}/summary.html",
            caption="../report/geometry_summary.rst",
            category="Geometry",
            subcategory="{name}",
            labels={"run": "{name}", "figure": "tables"},
        ),
    params:
        **params_of("geometry_figures"),
    log:
        "results/logs/geometry_figures/{name}.log",
    benchmark:
        "results/benchmarks/geometry_figures/{name}.tsv"
    threads: threads_of("plot")
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime_min(10),
    script:
        "../../scripts/geometry_figures.py"


rule geometry_attribute_figure:
    input:
        tests="results/geometry/{name}/attributes.parquet",
    output:
        png=report(
            "results/geometry/{name}/attributes.png",
            caption="../report/geometry_attributes.rst",
            category="Geometry",
            subcategory="{name}",
            labels={"run": "{name}", "figure": "curvature by attribute"},
        ),
    params:
        **params_of("geometry_attribute_figure"),
    log:
        "results/logs/geometry_attribute_figure/{name}.log",
    benchmark:
        "results/benchmarks/geometry_attribute_figure/{name}.tsv"
    threads: threads_of("plot")
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime_min(10),
    script:
        "../../scripts/geometry_attribute_figure.py"