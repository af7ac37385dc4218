"""repgeo: geometry, information content and invertibility of datasets and learned representations.

The library is pure Python over arrays and files; it knows nothing of Snakemake. The workflow's
scripts (``scripts/``) are thin glue that read Snakemake's inputs and parameters, call functions
from here and write the artifacts described in docs/.
"""

__version__ = "0.1.0"
