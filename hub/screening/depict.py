"""2D SVG depictions with structural-alert atoms highlighted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rdkit import Chem
from rdkit.Chem.Draw import rdMolDraw2D

from hub.screening.alerts import AlertHit
from hub.screening.results import MoleculeResult

FAMILY_COLOURS: dict[str, tuple[float, float, float]] = {
    "PAINS_A": (0.94, 0.33, 0.31),
    "PAINS_B": (0.94, 0.33, 0.31),
    "PAINS_C": (0.94, 0.33, 0.31),
    "Brenk": (1.0, 0.65, 0.2),
    "NIH": (0.62, 0.47, 0.86),
}
DEFAULT_COLOUR = (1.0, 0.85, 0.3)


def depict_svg(
    structure: str | Chem.Mol,
    highlight: Mapping[int, tuple[float, float, float]] | Iterable[int] = (),
    width: int = 320,
    height: int = 240,
    legend: str = "",
    inline: bool = True,
) -> str:
    """SVG of a molecule (SMILES or Mol) with the given atoms (and bonds between them) lit."""
    mol = Chem.MolFromSmiles(structure) if isinstance(structure, str) else Chem.Mol(structure)
    if mol is None:
        raise ValueError(f"cannot depict unparsable structure {structure!r}")
    colours = (
        dict(highlight)
        if isinstance(highlight, Mapping)
        else dict.fromkeys(highlight, DEFAULT_COLOUR)
    )
    atoms = [i for i in colours if 0 <= i < mol.GetNumAtoms()]
    bonds: dict[int, tuple[float, float, float]] = {}
    for b in mol.GetBonds():
        a1, a2 = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
        if a1 in colours and a2 in colours:
            bonds[b.GetIdx()] = colours[a1]
    drawer = rdMolDraw2D.MolDraw2DSVG(width, height)
    prepared = rdMolDraw2D.PrepareMolForDrawing(mol)
    drawer.DrawMolecule(
        prepared,
        legend=legend,
        highlightAtoms=atoms,
        highlightAtomColors={i: colours[i] for i in atoms},
        highlightBonds=list(bonds),
        highlightBondColors=bonds,
    )
    drawer.FinishDrawing()
    svg = drawer.GetDrawingText()
    if inline and svg.startswith("<?xml"):
        svg = svg[svg.index("?>") + 2 :].lstrip()
    return svg


def alert_colours(alerts: Iterable[AlertHit]) -> dict[int, tuple[float, float, float]]:
    """Highlight colour per atom; PAINS wins over Brenk over NIH where hits overlap."""
    order = {"PAINS_A": 0, "PAINS_B": 0, "PAINS_C": 0, "Brenk": 1, "NIH": 2}
    colours: dict[int, tuple[float, float, float]] = {}
    for hit in sorted(alerts, key=lambda h: order.get(h.family, 3), reverse=True):
        for i in hit.atoms:
            colours[i] = FAMILY_COLOURS.get(hit.family, DEFAULT_COLOUR)
    return colours


def depict_result(m: MoleculeResult, width: int = 320, height: int = 240) -> str:
    """SVG of a screened molecule (its canonical SMILES) with its alert atoms highlighted."""
    legend = m.id if m.rank is None else f"#{m.rank} {m.id}"
    return depict_svg(m.smiles, alert_colours(m.alerts), width, height, legend)
