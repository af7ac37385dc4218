"""Licence and citation files: CITATION.cff is valid CFF 1.2.0 and cites the five methods' papers,
LICENSE is the licence pyproject.toml declares, NOTICE names the third-party pieces."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

# The papers of the methods repgeo implements (lower-case title fragments), per branch.
METHOD_PAPERS = {
    "diffusion maps": ["diffusion maps"],
    "diffusion geometry": ["manifold diffusion geometry: curvature, tangent spaces, and dimension"],
    "DSE/DSMI": ["noise-resilient diffusion spectral entropy"],
    "ciwGAN/fiwGAN and the layer analysis": [
        "ciwgan and fiwgan",
        "interpreting intermediate convolutional layers in unsupervised acoustic word classification",
    ],
    "sliced generative models": ["sliced generative models"],
    "inversion": [
        "inverting visual representations with convolutional networks",
        "understanding deep image representations by inverting them",
        "visualizing deep convolutional neural networks using natural pre-images",
    ],
}


def _citation() -> dict:
    return yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_citation_cff_is_cff_1_2_0_with_the_required_keys():
    cff = _citation()
    assert str(cff["cff-version"]) == "1.2.0"
    for key in ("message", "title", "authors", "type", "version", "license"):
        assert cff.get(key), f"CITATION.cff lacks {key!r}"
    assert cff["type"] == "software"
    assert str(cff["version"]) == _pyproject()["project"]["version"]
    assert all("name" in a or "family-names" in a for a in cff["authors"])
    for ref in cff["references"]:
        where = ref.get("title", ref)
        assert ref.get("type") and ref.get("title") and ref.get("authors"), (
            f"reference without type, title or authors: {where}"
        )
        assert all("name" in a or "family-names" in a for a in ref["authors"]), where
        assert isinstance(ref.get("year"), int), where
        if "doi" in ref:
            assert re.fullmatch(r"10\.\d{4,9}/\S+", str(ref["doi"])), f"not a DOI: {ref['doi']}"


def test_citation_cff_lists_the_papers_of_the_five_methods():
    titles = [ref["title"].lower() for ref in _citation()["references"]]
    missing = {
        branch: [t for t in wanted if not any(t in title for title in titles)]
        for branch, wanted in METHOD_PAPERS.items()
    }
    assert not any(missing.values()), missing
    years = {ref["title"].lower(): ref["year"] for ref in _citation()["references"]}
    assert years["diffusion maps"] == 2006
    assert any(
        "arXiv:2411.04100" in str(i.get("value")) for r in _citation()["references"] for i in r.get("identifiers", [])
    )
    assert any(
        "arXiv:2312.04823" in str(i.get("value")) for r in _citation()["references"] for i in r.get("identifiers", [])
    )


def test_license_matches_pyproject_and_citation():
    declared = _pyproject()["project"]["license"]
    declared = declared.get("text") if isinstance(declared, dict) else declared
    assert declared == "MIT"
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 the repgeo authors" in text
    assert "Permission is hereby granted, free of charge" in text and 'THE SOFTWARE IS PROVIDED "AS IS"' in text
    assert _citation()["license"] == declared


def test_notice_names_the_copyleft_and_non_commercial_pieces():
    text = (REPO / "NOTICE").read_text(encoding="utf-8")
    assert "espeakng-loader" in text and "GNU General Public License, version 3" in text
    assert "dse-dsmi" in text and "non-commercial" in text and "never imported by the library" in text


def _header(path: Path) -> str:
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def test_every_config_file_says_whether_it_is_the_papers_setting():
    """configs/*.yaml: the header says 'reduced', 'not a paper ...' or what of the paper it keeps, and
    points at the table in docs/paper-settings.md that sets it against the paper."""
    configs = sorted((REPO / "configs").glob("*.yaml"))
    assert configs
    for path in configs:
        header = _header(path)
        assert "docs/paper-settings.md" in header, f"{path.name}: header does not point at docs/paper-settings.md"
        assert re.search(r"REDUCED|NOT A PAPER|DIFFERENT DATA", header), (
            f"{path.name}: header does not say how it relates to the paper"
        )
        assert "at the paper's scale" not in header and "Paper scale" not in header, (
            f"{path.name}: claims the paper's scale"
        )


def test_paper_settings_doc_has_one_table_per_branch():
    text = (REPO / "docs" / "paper-settings.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    titles = [s.splitlines()[0] for s in sections]
    for branch in ("Diffusion maps and geometry", "Entropy", "Audio", "Generative", "Inversion"):
        matching = [s for s, t in zip(sections, titles, strict=True) if t.startswith(branch)]
        assert matching, f"no section for {branch}: {titles}"
        table_header = next(line for line in matching[0].splitlines() if line.startswith("| setting"))
        assert "paper" in table_header and "repgeo default" in table_header and "configs/" in table_header, table_header
    for path in sorted((REPO / "configs").glob("*.yaml")):
        assert path.name in text, f"docs/paper-settings.md does not mention {path.name}"
