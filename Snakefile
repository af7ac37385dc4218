# repgeo: geometry, information content and invertibility of datasets and learned representations.
# Entry point: configuration, its validation, the stages (one .smk per stage) and the default target.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/diffusion.smk"
include: "workflow/rules/geometry.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/entropy.smk"
include: "workflow/rules/entropy_toys.smk"
include: "workflow/rules/entropy_uses.smk"
include: "workflow/rules/audio_models.smk"
include: "workflow/rules/audio_layers.smk"
include: "workflow/rules/audio_stats.smk"
include: "workflow/rules/generative.smk"
include: "workflow/rules/inversion.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
