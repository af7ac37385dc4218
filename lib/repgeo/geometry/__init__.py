"""Diffusion geometry per point: intrinsic dimension and scalar curvature.

After I. Jones, "Manifold diffusion geometry: curvature, tangent spaces, and dimension",
arXiv:2411.04100 (2024). Modules: :mod:`.neighbors` (kNN graph), :mod:`.operator` (the
variable-bandwidth Laplacian), :mod:`.spectral` (eigenfunction basis, band-limiting),
:mod:`.carre_du_champ` (Gamma), :mod:`.dimension`, :mod:`.curvature`, and :mod:`.estimate`,
which runs them end to end.
"""
