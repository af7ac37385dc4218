# repgeo: geometry, information content and invertibility of datasets and learned representations.
# Entry point: configuration, its validation, the stages (one .smk per stage) and the default target.
from snakemake.utils import min_version

min_version("9.0")


# A config file given on the command line (--configfile) runs as written: the default run's
# config.yaml is read only when none is given, so no default entry (and no default key of a
# same-named entry) leaks into the user's run. --config KEY=VALUE still applies on top of either.
if not workflow.overwrite_configfiles:
    # Snakemake's own reader reports a YAML syntax error without line or column.
    from repgeo.config import check_config_file_syntax

    check_config_file_syntax("config.yaml")

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
