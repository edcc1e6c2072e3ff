"""The Chinese README, the glossary and the cs231n page: kept in step with the README and the code."""
import json
import re
from pathlib import Path

import pytest

import glassnet.functional as F

ROOT = Path(__file__).resolve().parents[1]
README, README_ZH = ROOT / "README.md", ROOT / "README.zh-CN.md"
GLOSSARY, FROM_CS231N = ROOT / "docs" / "glossary.md", ROOT / "docs" / "from_cs231n.md"
TUTORIALS = ROOT / "docs" / "tutorials"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def text(path):
    """A file's text; for a notebook, the text of its markdown cells (code may contain "](...)")."""
    raw = path.read_text(encoding="utf-8")
    if path.suffix != ".ipynb":
        return raw
    return "\n".join("".join(c["source"]) for c in json.loads(raw)["cells"] if c["cell_type"] == "markdown")


def setup_commands(path):
    """The command lines (not the comments) of the first ```bash block."""
    block = text(path).split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_chinese_readme_has_the_same_setup_commands_as_the_readme():
    assert setup_commands(README) == setup_commands(README_ZH)
    assert len(setup_commands(README)) == 2


def test_readme_links_the_chinese_readme_in_its_first_lines_and_back():
    assert "(README.zh-CN.md)" in "".join(text(README).splitlines(keepends=True)[:5])
    assert "(README.md)" in "".join(text(README_ZH).splitlines(keepends=True)[:5])


@pytest.mark.parametrize("readme", [README, README_ZH], ids=["README.md", "README.zh-CN.md"])
def test_readme_links_every_tutorial_notebook_in_both_languages(readme):
    links = set(LINK.findall(text(readme)))
    notebooks = {p.relative_to(ROOT).as_posix() for p in TUTORIALS.glob("*/*.ipynb")}
    assert len(notebooks) >= 12
    assert notebooks <= links, f"{readme.name} does not link {sorted(notebooks - links)}"
    assert {"docs/glossary.md", "docs/from_cs231n.md"} <= links


@pytest.mark.parametrize("doc", [README, README_ZH, GLOSSARY, FROM_CS231N, TUTORIALS / "README.md", *sorted(TUTORIALS.glob("*/*.ipynb"))],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_point_to_existing_files(doc):
    for target in LINK.findall(text(doc)):
        if "://" not in target:
            assert (doc.parent / target).exists(), f"{doc.name}: broken link {target}"


def rejected_variants():
    """The glossary's "不用" column: translations the Chinese documents must not use."""
    variants = set()
    for line in text(GLOSSARY).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and line.startswith("|") and cells[3] and cells[3] not in ("不用", "---"):
            variants.update(v.strip() for v in cells[3].split("、"))
    return variants


def test_glossary_defines_the_core_terms_and_rejects_some_variants():
    glossary = text(GLOSSARY)
    for term in ["卷积", "池化", "感受野", "反向传播", "批归一化", "步幅", "填充", "权值共享", "随机失活", "交叉熵"]:
        assert f"| {term}" in glossary, term
    assert {"步长", "批量归一化", "权重共享"} <= rejected_variants()


@pytest.mark.parametrize("doc", [README_ZH, *sorted((TUTORIALS / "zh").glob("*.ipynb"))],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_chinese_documents_use_the_glossary_terms_not_their_variants(doc):
    found = sorted(v for v in rejected_variants() if v in text(doc))
    assert not found, f"{doc.name} uses {found}; the glossary's term is used instead"


def test_from_cs231n_names_only_functions_that_glassnet_functional_exports():
    page = text(FROM_CS231N)
    glassnet_column = [line.rsplit("|", 2)[-2] for line in page.splitlines() if line.startswith("|") and line.count("|") >= 3]
    names = set(re.findall(r"\b([a-z_0-9]+_(?:forward|backward|loss))\(", "\n".join(glassnet_column)))
    assert {"conv_relu_pool_forward", "affine_bn_relu_forward", "batchnorm_forward", "dropout_forward"} <= names
    missing = sorted(n for n in names if not hasattr(F, n))
    assert not missing, f"docs/from_cs231n.md names {missing}, which glassnet.functional lacks"


def test_from_cs231n_states_every_differing_convention():
    page = text(FROM_CS231N)
    for phrase in ["probability of dropping", "momentum` weights the new batch", "unbiased", "Caches are opaque",
                   "`conv_param` and `pool_param` become keywords", "stride=s, pad=p", "size=k, stride=s"]:
        assert phrase in page, phrase
