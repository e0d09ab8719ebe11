"""Synthetic raw exports for the Krachtpunten study: ``python -m analysis synth --seed N --scale K --out DIR``.

The real data are confidential (STUDY.md sections 3 and 9), so the project ships synthetic raw
files that look and misbehave like the real exports, made from documented true parameters so
that tests can check that the analyses recover them. The generator

1. draws tidy respondents per site so that the population matches the site's CBS composition
   where CBS gives it (``data/reference/cbs_kerncijfers.csv``) and a labelled ASSUMPTION where it
   does not (``analysis/synth/params.yaml``);
2. draws who is reached from a logistic model with known coefficients, and the interview
   outcomes with known true changes (:mod:`analysis.synth.truth`);
3. "un-maps" the tidy truth into each site's raw format through the codebook's source mappings
   (:mod:`analysis.synth.export`), so generator and cleaning share one truth;
4. plants the documented defects (:mod:`analysis.synth.defects`);
5. writes ``true_parameters.yaml`` (parameters, realised values, every defect with its rows),
   ``README.md`` and ``MANIFEST.sha256`` next to the data.

The same seed, scale and profile give byte-identical files. ``--scale K`` multiplies the sites
(3K, site codes beyond the study's three are generated, each with an export style chosen among
the three) for benchmarks; those extra sites are listed in ``synthetic_sites.yaml`` in the
output. ``--profile`` chooses a set of overrides in params.yaml (``profiles``): ``study`` (the
default, the committed data) or ``small`` (the real study's size: a few dozen forms per site,
2-6 interview pairs per site, outcomes in which nobody changed), on which every analysis must
still complete (issue 15).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from analysis import codebook as codebook_mod
from analysis import config
from analysis.synth import defects as dfx
from analysis.synth import export, truth

PARAMS_FILE = Path(__file__).resolve().parent / "params.yaml"
MANIFEST = "MANIFEST.sha256"
TRUE_PARAMETERS = "true_parameters.yaml"
README = "README.md"


DEFAULT_PROFILE = "study"


def load_params(path: str | os.PathLike | None = None, profile: str | None = None) -> dict:
    """The generator's settings (``analysis/synth/params.yaml``), as written, or with the
    overrides of ``profile`` (see :func:`apply_profile`) merged in."""
    with open(path or PARAMS_FILE, encoding="utf-8") as fh:
        params = yaml.safe_load(fh)
    return params if profile is None else apply_profile(params, profile)


def apply_profile(params: dict, profile: str) -> dict:
    """The settings of ``profile``: its overrides (``profiles.<name>`` in params.yaml) merged
    into the top-level settings, a mapping key by key, any other value replaced. Not modified.

    Profiles are configuration so that a new study size is a few lines of YAML, not code.

    >>> p = apply_profile({"a": {"x": 1, "y": 2}, "b": [1], "profiles": {"t": {"a": {"y": 3}, "b": [2]}}}, "t")
    >>> p == {"a": {"x": 1, "y": 3}, "b": [2], "profile": "t"}
    True
    """
    profiles = params.get("profiles") or {}
    if profile not in profiles:
        raise ValueError(f"--profile {profile!r} is not defined; choose one of {sorted(profiles)} "
                         "(profiles in analysis/synth/params.yaml)")

    def merge(base, over):
        if not isinstance(over, dict) or not isinstance(base, dict):
            return copy.deepcopy(over)
        out = copy.deepcopy(base)
        for k, v in over.items():
            out[k] = merge(base[k], v) if k in base else copy.deepcopy(v)
        return out

    over = {k: v for k, v in (profiles[profile] or {}).items() if k != "description"}
    out = merge({k: v for k, v in params.items() if k != "profiles"}, over)
    out["profile"] = profile
    return out


# ----------------------------------------------------------------------------------------
def site_table(rng: np.random.Generator, scale: int, params: dict, cb) -> pd.DataFrame:
    """Sites of the run: the study's sites, plus generated ones at ``scale`` > 1.

    Columns: site, name, style (codebook source of its reach export), base (the study site
    whose composition assumptions it uses), cbs_region, intercept (true reach log-odds).
    """
    if not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"--scale must be a whole number of at least 1, not {scale!r}")
    study_sites = config.study()["sites"]
    owner = cb.site_sources("reach")
    rows = []
    intercepts = params["reach_model"]["intercepts"]
    for s, cfg in study_sites.items():
        if s not in owner:
            raise ValueError(f"site {s!r} has no reach source in analysis/codebook.yaml; add it to a source's sites")
        if s not in intercepts:
            raise ValueError(f"site {s!r}: add its reach intercept to reach_model.intercepts in analysis/synth/params.yaml")
        rows.append({"site": s, "name": cfg["name"], "style": owner[s], "base": s, "cbs_region": cfg["cbs_region"],
                     "intercept": float(intercepts[s])})
    g = params["generated_sites"]
    gi = params["reach_model"]["generated_intercept"]
    styles = g["styles"]
    base_of = {st: cb.source(st)["sites"][0] for st in styles}
    for k in range(len(rows) + 1, len(rows) * scale + 1):
        style = styles[int(rng.integers(0, len(styles)))]
        base = base_of[style]
        rows.append({"site": f"{g['prefix']}{k:0{g['digits']}d}", "name": f"Synthetisch krachtpunt {k}",
                     "style": style, "base": base, "cbs_region": study_sites[base]["cbs_region"],
                     "intercept": float(rng.normal(gi["mean"], gi["sd"]))})
    return pd.DataFrame(rows)


def read_reference(path: Path) -> pd.DataFrame:
    """The CBS reference figures (long format; see :mod:`analysis.cbs`)."""
    from analysis.cbs import read_reference as rr

    return rr(path)


def composition(sites: pd.DataFrame, params: dict, cb, ref: pd.DataFrame) -> tuple[dict, dict]:
    """Per site and dimension the probability vector (codebook order) and where it comes from.

    CBS figures are used when the site's region has all the needed figures in the reference
    file (latest year first); otherwise the ASSUMPTION of params.yaml, labelled as such.
    """
    pop = params["population"]
    probs: dict = {}
    sources: dict = {}

    def cbs_shares(region, mapping):
        sub = ref[(ref["region_code"] == region) & ref["value"].notna()]
        for year in sorted(sub["year"].unique(), reverse=True):
            y = sub[sub["year"] == year].set_index("variable")
            if all(v in y.index for v in mapping.values()):
                vals = {code: float(y.loc[v, "value"]) for code, v in mapping.items()}
                tables = sorted(set(y.loc[list(mapping.values()), "table_id"]))
                return vals, f"CBS {', '.join(tables)} ({int(year)}), region {region}"
        return None, None

    for _, row in sites.iterrows():
        s, base, region = row["site"], row["base"], row["cbs_region"]
        probs[s], sources[s] = {}, {}
        copied = "" if s == base else f" (generated site: composition of {base}'s region)"
        # gender
        vals, src = cbs_shares(region, pop["gender"]["cbs"])
        other = pop["gender"]["other_shares"]
        if vals is None:
            raise ValueError(f"region {region}: no CBS men/women figures in the reference file; add them (CBS.md)")
        rest = 1.0 - sum(other.values())
        tot = sum(vals.values())
        shares = {c: rest * v / tot for c, v in vals.items()} | other
        probs[s]["gender"] = truth.prob_vector(shares, cb.codes("gender"), f"gender {s}")
        sources[s]["gender"] = f"{src}; {pop['gender']['other_shares_source']}{copied}"
        # age group
        vals, src = cbs_shares(region, pop["age_group"]["cbs"])
        if vals is not None:
            vals["18_24"] *= pop["age_group"]["adult_share_15_24"]
            tot = sum(vals.values())
            probs[s]["age_group"] = truth.prob_vector({c: v / tot for c, v in vals.items()}, cb.codes("age_group"), f"age {s}")
            sources[s]["age_group"] = (f"{src}; 15-24 band x {pop['age_group']['adult_share_15_24']} for 18-24 "
                                       f"(ASSUMPTION){copied}")
        else:
            probs[s]["age_group"] = _assumed(pop["age_group"], base, cb.codes("age_group"), "age_group")
            sources[s]["age_group"] = pop["age_group"]["assumption"]["source"] + copied
        # origin
        vals, src = cbs_shares(region, pop["origin"]["cbs"])
        if vals is not None:
            tot = sum(vals.values())
            probs[s]["origin"] = truth.prob_vector({c: v / tot for c, v in vals.items()}, cb.codes("origin"), f"origin {s}")
            sources[s]["origin"] = src + copied
        else:
            probs[s]["origin"] = _assumed(pop["origin"], base, cb.codes("origin"), "origin")
            sources[s]["origin"] = pop["origin"]["assumption"]["source"] + copied
        for dim in ("household", "education"):
            probs[s][dim] = _assumed(pop[dim], base, cb.codes(dim), dim)
            sources[s][dim] = pop[dim]["assumption"]["source"] + copied
    return probs, sources


def _assumed(block: dict, base: str, codes: list, what: str) -> np.ndarray:
    try:
        shares = block["assumption"][base]
    except KeyError:
        raise ValueError(f"no {what} composition for site {base!r}: add an ASSUMPTION under "
                         f"population.{what}.assumption in analysis/synth/params.yaml") from None
    return truth.prob_vector(shares, codes, f"{what} {base}")


# ----------------------------------------------------------------------------------------
def _check_out(out: Path) -> list[str]:
    """Refuse to write over files that the generator did not make (real data, say)."""
    if not out.exists():
        return []
    present = sorted(p.name for p in out.iterdir() if p.is_file() and not p.name.startswith("."))
    manifest = out / MANIFEST
    known = set()
    if manifest.exists():
        known = {line.split("  ", 1)[1] for line in manifest.read_text(encoding="utf-8").splitlines() if "  " in line}
        known |= {MANIFEST}
    foreign = [p for p in present if p not in known]
    if foreign:
        raise ValueError(f"{out} holds files the generator did not write ({foreign[:5]}); "
                         "choose an empty directory for --out (real data must stay outside the repository)")
    return sorted(known - {MANIFEST})


def generate(seed: int = 1, scale: int = 1, out: str | os.PathLike | None = None,
             profile: str = DEFAULT_PROFILE) -> dict:
    """Write every raw file of STUDY.md section 4 for ``seed``, ``scale`` and ``profile`` into ``out``.

    Returns the content of ``true_parameters.yaml`` (parameters, realised values, defects).
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"--seed must be a non-negative whole number, not {seed!r}")
    params = load_params(profile=profile)
    out = Path(out) if out is not None else config.RAW_DIR
    previous = _check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    cb = codebook_mod.load()
    stamp = dt.datetime.fromisoformat(params["file_timestamp"])
    rng_sites, rng_reach, rng_proxy, rng_sq, rng_iv, rng_seg, rng_def = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(7)
    )
    edges = [lo for lo, _ in cb.band_edges("age_group")]
    band_los = [b[0] for b in params["population"]["age_group"]["band_years"].values()]
    if edges != band_los:
        raise ValueError(f"population.age_group.band_years {band_los} must start where the codebook's age_group "
                         f"bands start {edges}; fix analysis/synth/params.yaml")
    sites = site_table(rng_sites, scale, params, cb)
    ref = read_reference(config.PROJECT_DIR / params["reference_file"])
    comp, comp_sources = composition(sites, params, cb, ref)
    # generated sites must be known to the codebook before un-mapping
    extra = {r.site: {"name": r.name, "source": r.style, "cbs_region": r.cbs_region}
             for r in sites.itertuples() if r.site != r.base}
    if extra:
        (out / codebook_mod.EXTRA_SITES_FILE).write_text(yaml.safe_dump(
            {"note": "SYNTHETIC generated sites (python -m analysis synth --scale > 1); "
                     "each follows the export style of the codebook source named here",
             "sites": extra}, sort_keys=False, allow_unicode=True), encoding="utf-8")
        cb = codebook_mod.load(raw_dir=out)

    reach = truth.reach(rng_reach, sites, comp, params, cb)
    proxy = truth.proxy(rng_proxy, sites, params, cb)
    sq = truth.site_questionnaire(rng_sq, sites, params, cb)
    iv, iv_facts = truth.interviews(rng_iv, sites, params, cb)
    seg = truth.segments(rng_seg, iv, params, cb)

    files: list[dict] = []
    records: list[dict] = []
    # reach questionnaires, one file per site, in the site's export style
    for style, group in reach.groupby(sites.set_index("site")["style"].reindex(reach["site"]).to_numpy(), sort=True):
        raw_ids = [params["raw_ids"][style].format(n=n) for n in group["form_no"]]
        raw = export.unmap(cb, style, group, raw_ids=raw_ids)
        raw_site = group["site"].to_numpy()
        for s in sites.loc[sites["style"] == style, "site"]:
            part = raw[raw_site == s].reset_index(drop=True)
            name = cb.file_name(style, s)
            part, recs = dfx.PLANTERS[style](cb, part, name, rng_def, params)
            records += recs
            _write_reach(cb, style, part, out / name, stamp)
            files.append({"file": name, "source": style, "site": s, "rows": len(part),
                          "format": _describe(cb, style)})
    # proxy reports
    raw = export.unmap(cb, "proxy", proxy)
    raw, recs = dfx.plant_proxy(cb, raw, cb.file_name("proxy"), rng_def, params)
    records += recs
    _write_csv(cb, "proxy", raw, out)
    files.append({"file": cb.file_name("proxy"), "source": "proxy", "rows": len(raw), "format": _describe(cb, "proxy")})
    # site questionnaire
    sq_tidy = sq.copy()
    for code in cb.codes("outreach"):
        sq_tidy[f"outreach_{code}"] = sq_tidy["outreach"].map(lambda lst, c=code: c in lst)
    raw = export.unmap(cb, "sites", sq_tidy)
    _write_csv(cb, "sites", raw, out)
    files.append({"file": cb.file_name("sites"), "source": "sites", "rows": len(raw), "format": _describe(cb, "sites")})
    # interviews: one workbook, a sheet per wave
    sheets = {}
    for sheet, wave in cb.source("interviews")["read"]["sheets"].items():
        sheets[sheet] = export.unmap(cb, "interviews", iv[iv["wave"] == wave].reset_index(drop=True))
    sheets, recs = dfx.plant_interviews(cb, sheets, cb.file_name("interviews"), rng_def, params)
    records += recs
    export.write_xlsx(sheets, out / cb.file_name("interviews"), stamp, creator="interviewer")
    files.append({"file": cb.file_name("interviews"), "source": "interviews",
                  "rows": {k: len(v) for k, v in sheets.items()}, "format": _describe(cb, "interviews")})
    # coded segments, as qualitative software exports them
    raw = _segments_export(cb, seg, params, rng_seg)
    raw, recs = dfx.plant_segments(cb, raw, cb.file_name("segments"), rng_def, params)
    records += recs
    _write_csv(cb, "segments", raw, out)
    files.append({"file": cb.file_name("segments"), "source": "segments", "rows": len(raw),
                  "format": _describe(cb, "segments")})

    truth_doc = true_parameters(seed, scale, params, sites, comp_sources, reach, iv, iv_facts, seg, records, files)
    (out / TRUE_PARAMETERS).write_text(
        "# SYNTHETIC DATA: true parameters, realised values and planted defects "
        "(python -m analysis synth). Not real data.\n"
        + yaml.safe_dump(truth_doc, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")
    from analysis.synth.docs import readme

    (out / README).write_text(readme(truth_doc, params), encoding="utf-8")
    written = [f["file"] for f in files] + [TRUE_PARAMETERS, README] + (
        [codebook_mod.EXTRA_SITES_FILE] if extra else [])
    for stale in set(previous) - set(written):
        (out / stale).unlink(missing_ok=True)
    write_manifest(out, written)
    return truth_doc


def _describe(cb, source: str) -> str:
    src = cb.source(source)
    r = src.get("read", {})
    if src["format"] == "csv":
        bom = "UTF-8 with BOM" if r.get("encoding") == "utf-8-sig" else r.get("encoding", "").upper()
        return f"CSV, '{r['sep']}'-separated, {bom}"
    if src["format"] == "xlsx":
        sheets = r.get("sheets") or {r.get("sheet"): None}
        return f"Excel workbook (.xlsx), sheet(s) {', '.join(sheets)}"
    return "SPSS system file (.sav), numeric codes with value labels and user-missing codes"


def _write_reach(cb, style: str, frame: pd.DataFrame, path: Path, stamp) -> None:
    fmt = cb.source(style)["format"]
    if fmt == "csv":
        r = cb.source(style)["read"]
        export.write_csv(frame, path, r["sep"], r["encoding"])
    elif fmt == "xlsx":
        export.write_xlsx({cb.source(style)["read"]["sheet"]: frame}, path, stamp, creator="vrijwilliger")
    else:
        frame = frame.copy()
        for c in frame.columns:
            if frame[c].dtype == object and not any(isinstance(v, dt.date) for v in frame[c]):
                if all(isinstance(v, str) for v in frame[c]):
                    continue
                frame[c] = pd.to_numeric(frame[c]).astype(float)
        export.write_sav(frame, path, stamp, file_label="Bereiksvragenlijst (SYNTHETISCH)",
                         **export.sav_metadata(cb, style, list(frame.columns)))


def _write_csv(cb, source: str, frame: pd.DataFrame, out: Path) -> None:
    r = cb.source(source)["read"]
    export.write_csv(frame, out / cb.file_name(source), r["sep"], r["encoding"])


def _segments_export(cb, seg: pd.DataFrame, params: dict, rng) -> pd.DataFrame:
    """One row per coded segment, columns as MAXQDA's "export coded segments" names them (Dutch UI)."""
    sp = params["segments"]
    src = cb.source("segments")
    labels = cb.labels("code")
    doc = seg["person_id"] + "_" + seg["wave"]
    begin = seg.groupby([seg["person_id"], seg["wave"]]).cumcount().to_numpy() * 2 + 1
    openers = np.asarray(sp["openers"], dtype=object)[rng.integers(0, len(sp["openers"]), len(seg))]
    text = [f"{o} {('het komt door ' if g == 'mechanismen' else 'voor mij gaat het om ')}{labels[c]}."
            for o, g, c in zip(openers, seg["code_group"], seg["code"])]
    coder = np.asarray(sp["coders"], dtype=object)[rng.integers(0, len(sp["coders"]), len(seg))]
    return pd.DataFrame({
        "Documentgroep": seg["site"].to_numpy(),
        src["document"]["column"]: doc.to_numpy(),
        cb.mapping("segments", "code")["column"]: [cb.raw_value("segments", "code", c) for c in seg["code"]],
        "Begin": begin, "Einde": begin + 1,
        cb.mapping("segments", "segment_text")["column"]: text,
        "Gecodeerd door": coder,
    })


# ----------------------------------------------------------------------------------------
def _py(x):
    """Plain Python values for YAML (numpy scalars, arrays)."""
    if isinstance(x, dict):
        return {str(k): _py(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_py(v) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return round(float(x), 6)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def true_parameters(seed, scale, params, sites, comp_sources, reach, iv, iv_facts, seg, records, files) -> dict:
    """Everything a test needs to check that an analysis recovers the truth."""
    model = params["reach_model"]
    ivp = params["interviews"]
    wide = iv.pivot(index="person_id", columns="wave")
    complete = wide.dropna(subset=[("date", "T1")]).index
    outcomes = ["djg_total", "djg_emotional", "djg_social", "who5"] + [f"pg_{d}" for d in ivp["pg"]["change"]] + [
        f"zrm_{d}" for d in ivp["zrm"]["change"]]
    realised = {o: float((wide.loc[complete, (o, "T1")].astype(float) - wide.loc[complete, (o, "T0")].astype(float)).mean())
                for o in outcomes}
    true_change = {
        "djg_latent": ivp["djg"]["change"],
        "who5": ivp["who5"]["change"] * 5 * 4,
        **{f"pg_{d}": v for d, v in ivp["pg"]["change"].items()},
        **{f"zrm_{d}": v for d, v in ivp["zrm"]["change"].items()},
    }
    by_site = reach.groupby("site", sort=False)
    doc = {
        "synthetic": True,
        "generator": "python -m analysis synth",
        "seed": seed,
        "scale": scale,
        **({} if params["profile"] == DEFAULT_PROFILE else {
            "profile": {"name": params["profile"], "description": profile_description(params["profile"])}}),
        "files": files,
        "sites": [{"site": r.site, "name": r.name, "export_style": r.style, "cbs_region": r.cbs_region,
                   "reach_intercept": r.intercept, "composition_sources": comp_sources[r.site]}
                  for r in sites.itertuples()],
        "reach_model": {
            "description": "logit P(reached) = intercept[site] + sum(coefficient * covariate); reached = at least one "
                           "visit in the past 6 months; covariates are 0/1 indicators of the TRUE tidy values "
                           "(before defects) as defined here",
            "covariates": {k: {kk: vv for kk, vv in v.items()} for k, v in model["covariates"].items()},
            "intercepts": {r.site: r.intercept for r in sites.itertuples()},
        },
        "realised_reach": {s: {"forms": int(len(g)), "reached": int(g["reached"].sum()),
                               "reach_rate": float(g["reached"].mean()), "lonely_rate": float(g["lonely"].mean())}
                           for s, g in by_site},
        "interviews": {
            "description": "T1 = T0 + change + noise on each person's continuous score, then rounded and clipped; "
                           "true_change is the shift of that continuous score (WHO-5 on the 0-100 scale; DJG on the "
                           "latent loneliness scale, where negative = less lonely); realised_mean_change is the mean "
                           "T1 - T0 among completers in the complete synthetic truth (before defects)",
            "per_site": ivp["per_site"],
            "true_change": true_change,
            "realised_mean_change": realised,
            "completers": int(len(complete)),
            "dropouts": iv_facts["dropouts"],
            **({k: iv_facts[k] for k in ("pairs_per_site", "no_change") if k in iv_facts}),
            "interval_outliers_months": iv_facts["interval_outliers"],
            "interval_months": iv_facts["interval_months_realised"],
        },
        "segments": {
            "co_occurrence": params["segments"]["co_occurrence"],
            "co_occurrence_prob": params["segments"]["co_occurrence_prob"],
            "n_segments": int(len(seg)),
            "code_counts": {str(k): int(v) for k, v in seg["code"].value_counts().sort_index().items()},
        },
        "defects": records,
    }
    return _py(doc)


def write_manifest(out: Path, names: list[str]) -> None:
    """``MANIFEST.sha256`` (``sha256sum`` format) of every synthetic file, so a privacy check
    can tell that tracked raw files are the synthetic ones."""
    lines = []
    for name in sorted(set(names)):
        digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
        lines.append(f"{digest}  {name}")
    (out / MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")


def profile_description(profile: str) -> str:
    """The ``description`` of a profile in params.yaml ("" when it has none)."""
    return str((load_params()["profiles"].get(profile) or {}).get("description", ""))


def cli(args) -> int:
    """Entry point of ``python -m analysis synth`` (``args``: seed, scale, out, profile)."""
    import time

    t = time.perf_counter()
    out = Path(args.out) if args.out else config.RAW_DIR
    profile = getattr(args, "profile", None) or DEFAULT_PROFILE
    try:
        doc = generate(seed=args.seed, scale=args.scale, out=out, profile=profile)
    except ValueError as exc:  # invalid arguments or settings: the message says what to do
        print(f"synth: error: {exc}", file=sys.stderr)
        return 2
    n = sum(f["rows"] for f in doc["files"] if "site" in f)
    print(f"synthetic raw data (seed {args.seed}, scale {args.scale}, profile {profile}): {len(doc['files'])} files, "
          f"{n} reach forms, "
          f"{len(doc['defects'])} defect entries -> {out} in {time.perf_counter() - t:.1f} s")
    return 0


__all__ = ["DEFAULT_PROFILE", "apply_profile", "cli", "generate", "load_params"]
