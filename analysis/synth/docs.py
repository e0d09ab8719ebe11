"""``README.md`` of a synthetic raw directory, written from ``true_parameters.yaml``'s content.

Written by the generator rather than by hand so that the list of files and of planted defects
(file, column, rows, count) can never disagree with the data.
"""

from __future__ import annotations

from collections import OrderedDict


def _rows(rows: list[int], limit: int = 12) -> str:
    text = ", ".join(str(r) for r in rows[:limit])
    return text + (f", … ({len(rows)} rows)" if len(rows) > limit else "")


def readme(doc: dict, params: dict) -> str:
    """The data README: synthetic notice, files and formats, assumptions, true parameters, defects."""
    out = []
    w = out.append
    profile = doc.get("profile")  # absent for the default profile (the committed data)
    flag = f" --profile {profile['name']}" if profile else ""
    w("# Raw data: SYNTHETIC\n")
    w("**Every file in this directory is synthetic.** No real person answered these questionnaires or gave "
      "these interviews. The files were made by `python -m analysis synth --seed "
      f"{doc['seed']} --scale {doc['scale']}{flag}` (code: `analysis/synth/`, settings: `analysis/synth/params.yaml`, "
      "mappings: `analysis/codebook.yaml`). They look and misbehave like the real exports (STUDY.md section 4), "
      "so that cleaning and analyses can be built and tested; anything computed from them is synthetic and "
      "must be labelled so. The real data are confidential and are never put in this directory: git ignores "
      "every file here except the ones listed below, and `MANIFEST.sha256` holds their checksums.\n")
    if profile:
        w(f"Profile `{profile['name']}`: {profile['description']}. Regenerate (byte-identical for the same seed): "
          f"`python -m analysis synth --seed {doc['seed']} --scale {doc['scale']}{flag} --out DIR`.\n")
    else:
        w("Regenerate (byte-identical for the same seed): `python -m analysis synth --seed "
          f"{doc['seed']} --out data/raw`.\n")
    w("## Files\n")
    w("| file | format | codebook source | rows |")
    w("|---|---|---|---|")
    for f in doc["files"]:
        rows = f["rows"] if not isinstance(f["rows"], dict) else ", ".join(f"{k}: {v}" for k, v in f["rows"].items())
        w(f"| `{f['file']}` | {f['format']} | `{f['source']}` | {rows} |")
    w("| `true_parameters.yaml` | YAML | – | the true parameters, realised values and every planted defect with its rows |")
    w("| `README.md` | Markdown | – | this file |")
    w("| `MANIFEST.sha256` | `sha256sum` format | – | checksums of the files above |")
    if doc["scale"] > 1:
        w("| `synthetic_sites.yaml` | YAML | – | the generated sites and the export style of each |")
    w("")
    w("Row numbers below are as a person sees them when opening the file: CSV and Excel rows count the header as "
      "row 1 (first form = row 2), SPSS rows are case numbers (first form = 1). Interview rows are per sheet.\n")
    w("## Where the population comes from (CBS figures and ASSUMPTIONS)\n")
    w("Respondents are drawn per site so that the population matches the CBS composition of the site's "
      "reference region where CBS gives it (`data/reference/cbs_kerncijfers.csv`). Where CBS gives no figure "
      "(shared/reference/CBS.md lists age groups, household, origin and income of the wijken as NOT FOUND) the "
      "generator uses a documented ASSUMPTION from `analysis/synth/params.yaml`. These are made-up shares, "
      "**not CBS figures**.\n")
    w("| site | dimension | source |")
    w("|---|---|---|")
    for s in doc["sites"][:3]:
        for dim, src in s["composition_sources"].items():
            w(f"| {s['site']} | {dim} | {src} |")
    if len(doc["sites"]) > 3:
        w(f"| {len(doc['sites']) - 3} generated sites | all | as their base site (see `true_parameters.yaml`) |")
    w("")
    w("Activity, making ends meet, self-rated health, loneliness, postcodes, proxy reports, the site "
      "questionnaire and the interviews are ASSUMPTIONS too (params.yaml).\n")
    w("## True parameters (details in `true_parameters.yaml`)\n")
    w("Reach: logit P(reached) = site intercept + Σ coefficient × covariate, on the true values:\n")
    w("| covariate | definition | true log-odds | odds ratio |")
    w("|---|---|---|---|")
    import math

    for name, c in doc["reach_model"]["covariates"].items():
        rule = (f"{c['variable']} in {c['in']}" if "in" in c else
                " and ".join(x for x in (f"{c['variable']} ≥ {c['min']}" if "min" in c else "",
                                         f"{c['variable']} ≤ {c['max']}" if "max" in c else "") if x))
        w(f"| {name} | {rule} | {c['coefficient']:+.2f} | {math.exp(c['coefficient']):.2f} |")
    w("")
    w("Site intercepts: " + ", ".join(f"{k} {v:+.2f}" for k, v in list(doc["reach_model"]["intercepts"].items())[:3])
      + (" (generated sites: see true_parameters.yaml)." if len(doc["sites"]) > 3 else "."))
    w("")
    iv = doc["interviews"]
    w("Interviews: true change T0→T1 of each person's continuous score (then rounded and clipped):\n")
    w("| outcome | true change | realised mean change (completers, complete truth) |")
    w("|---|---|---|")
    for k, v in iv["true_change"].items():
        real = iv["realised_mean_change"].get(k, iv["realised_mean_change"].get("djg_total") if k == "djg_latent" else None)
        label = "djg_total (latent shift)" if k == "djg_latent" else k
        w(f"| {label} | {v:+.2f} | {real:+.2f} |")
    w("")
    if "pairs_per_site" in iv:
        w("Pairs (interviewed at T0 and T1) per site: " + ", ".join(f"{k} {v}" for k, v in iv["pairs_per_site"].items())
          + ".\n")
    if "no_change" in iv:
        w("No change at all (T1 = T0 for every person): " + "; ".join(
            f"{k} at {', '.join(v)}" for k, v in iv["no_change"].items()) + ".\n")
    w(f"Completers: {iv['completers']}; drop-outs at T1: {', '.join(iv['dropouts']) or 'none'}; intervals outside "
      f"4–8 months: " + ", ".join(f"{k} ({v:.1f} months)" for k, v in iv["interval_outliers_months"].items()) + ".\n")
    w("Coded segments: each change code is followed by its paired mechanism with probability "
      f"{doc['segments']['co_occurrence_prob']}: "
      + ", ".join(f"{a} → {b}" for a, b in doc["segments"]["co_occurrence"].items()) + ".\n")
    w("## Planted defects\n")
    w("Each is planted deterministically; `true_parameters.yaml` (key `defects`) lists every row.\n")
    w("| defect | file | sheet | column | count | rows | what |")
    w("|---|---|---|---|---|---|---|")
    for d in doc["defects"]:
        w(f"| {d['defect']} | `{d['file']}` | {d.get('sheet', '')} | `{d['column']}` | {d['count']} | "
          f"{_rows(d['rows'])} | {d['description']} |")
    w("")
    counts: OrderedDict = OrderedDict()
    for d in doc["defects"]:
        counts[d["defect"]] = counts.get(d["defect"], 0) + d["count"]
    w("Totals: " + "; ".join(f"{k} {v}" for k, v in counts.items()) + ".\n")
    w("Not defects but features of the design, also to be handled by cleaning: drop-outs at T1, intervals "
      "outside 4–8 months (above); LH multi-select answers in one comma-separated cell; PS multi-select as "
      "0/1 variables; DH multi-select as one Y/empty column per option.\n")
    w("The names and phone numbers typed into free-text fields are synthetic (drawn from "
      "`defects.names` in params.yaml and random digits); they exist only so that the privacy checks have "
      "something to find.\n")
    return "\n".join(out)
