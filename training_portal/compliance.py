"""The training portal's part of compliance reports: the ``training_coverage`` section.

Registered with the hub's compliance domain when the training portal loads. For a site's report
the section counts, per qualification, the people who need it (by role, from the
``FEDHUB_QUALIFICATION_REQUIREMENTS`` setting) and how many hold a valid certificate at the end
of the period. Certificates earned at that site are used when there are any; otherwise the
organization's records are used and the section says so. The evidence records go into the
bundle, minimized by the compliance domain (pseudonymous person ids, no names or scores).
"""

from __future__ import annotations

from hub.compliance.providers import SectionContext, SectionResult, register_section_provider
from training_portal.records import CoverageReport, training_coverage

ORG_WIDE_NOTE = ("No training records are tied to this site; coverage is shown for the "
                 "whole organization.")


def per_qualification(report: CoverageReport) -> list[dict[str, object]]:
    """Coverage rows of the ``compliance-report`` type: one per qualification, roles summed."""
    counts: dict[str, list[int]] = {}
    for row in report.coverage:
        required_qualified = counts.setdefault(row.qualification, [0, 0])
        required_qualified[0] += row.required
        required_qualified[1] += row.qualified
    return [{"qualification": q, "required": r, "qualified": n}
            for q, (r, n) in sorted(counts.items())]


def training_section(ctx: SectionContext) -> SectionResult:
    """Pre-fill ``training_coverage`` for one site and period."""
    requirements = ctx.settings.qualification_requirements
    report = training_coverage(ctx.session, ctx.organization_id, ctx.site_id, as_of=ctx.until,
                               requirements=requirements)
    note = None
    if not report.records:
        report = training_coverage(ctx.session, ctx.organization_id, None, as_of=ctx.until,
                                   requirements=requirements)
        note = ORG_WIDE_NOTE
    return SectionResult(per_qualification(report), "training portal records",
                         evidence=report.records, note=note)


register_section_provider("training_coverage", training_section)
