"""``site-agent simulate``: run the plant sensor simulator and write readings as JSON Lines."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer


def simulate(
    out: Annotated[Path, typer.Option(help="JSON Lines file for the sensor readings")],
    days: Annotated[float, typer.Option(help="simulated duration in days", min=0.01)] = 1.0,
    readings: Annotated[int | None, typer.Option(help="total readings (overrides --days)",
                                                 min=1)] = None,
    equipment: Annotated[int, typer.Option(help="pieces of equipment", min=1)] = 4,
    interval: Annotated[int, typer.Option(help="seconds between readings", min=1)] = 300,
    faults: Annotated[int, typer.Option(help="faults to inject", min=0)] = 4,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    site: Annotated[str | None, typer.Option(help="ISA-95 site id (default: this site)")] = None,
    enterprise: Annotated[str | None, typer.Option(help="ISA-95 enterprise id")] = None,
    labels: Annotated[Path | None, typer.Option(help="JSON file for the fault labels")] = None,
) -> None:
    """Simulate plant sensor readings (with ground-truth faults) into a JSON Lines file."""
    from site_agent.config import AgentSettings, load_identity
    from site_agent.simulators.plant import simulate as run_simulator

    try:
        identity = load_identity(AgentSettings())
        site = site or identity.site_code
        enterprise = enterprise or identity.location.get("enterprise")
    except FileNotFoundError:
        pass
    sim = run_simulator(plant_id=site or "plant-basel", enterprise=enterprise or "acme-pharma",
                        equipment_count=equipment, duration=timedelta(days=days),
                        interval_s=interval, faults=faults, seed=seed, n_readings=readings)
    out.parent.mkdir(parents=True, exist_ok=True)
    count = faulty = 0
    with out.open("w") as fh:
        for reading, label in sim:
            fh.write(json.dumps(reading) + "\n")
            count += 1
            faulty += label is not None
    if labels is not None:
        labels.write_text(json.dumps([lb.to_dict() for lb in sim.labels], indent=1) + "\n")
    typer.echo(f"wrote {count} readings to {out}: {len(sim.labels)} fault(s) injected, "
               f"{faulty} reading(s) inside a fault window")
