"""The synthetic truth: tidy tables drawn from documented parameters (before any raw formatting).

Everything is vectorised with numpy over all respondents of all sites at once, so that
``--scale 100`` (300 sites, about 45,000 forms) takes seconds. Each table uses its own child
random generator (``numpy.random.SeedSequence.spawn``), so changing one part of the generator
does not change the others for the same seed.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analysis.codebook import Codebook

DJG_EMOTIONAL = (1, 4, 6)  # STUDY.md section 2; De Jong Gierveld & Van Tilburg (2006)
DJG_SOCIAL = (2, 3, 5)


# ----------------------------------------------------------------------------------------
# small vectorised helpers
def draw_categorical(rng: np.random.Generator, probs: np.ndarray, codes: list) -> np.ndarray:
    """One draw per row of ``probs`` (n x k, rows summing to 1) → array of codes.

    >>> rng = np.random.default_rng(0)
    >>> draw_categorical(rng, np.array([[1.0, 0.0], [0.0, 1.0]]), ["a", "b"]).tolist()
    ['a', 'b']
    """
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 2 or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("probabilities must be an n x k array whose rows sum to 1; check analysis/synth/params.yaml")
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None]
    idx = np.minimum((u >= cum).sum(axis=1), probs.shape[1] - 1)
    return np.asarray(codes, dtype=object)[idx]


def prob_vector(shares: dict, codes: list, what: str) -> np.ndarray:
    """Shares keyed by code → vector in codebook order; ValueError when they do not fit."""
    unknown = set(shares) - set(codes)
    if unknown:
        raise ValueError(f"{what}: {sorted(unknown)} are not codes {codes}; fix analysis/synth/params.yaml")
    vec = np.array([float(shares.get(c, 0.0)) for c in codes])
    if not np.isclose(vec.sum(), 1.0, atol=1e-6):
        raise ValueError(f"{what}: shares sum to {vec.sum():.4f}, not 1; fix analysis/synth/params.yaml")
    return vec


def djg_answers(rng: np.random.Generator, z: np.ndarray, noise: float, low: float, high: float) -> dict:
    """Six De Jong Gierveld answers from a latent loneliness score ``z`` (higher = lonelier).

    Emotional items (1, 4, 6) are answered "ja" when the noisy score is above ``high`` and
    "min of meer" above ``low``; social items (2, 3, 5) are positively worded, so loneliness
    shows as "nee" (above ``high``) and "min of meer" (above ``low``).
    """
    out = {}
    n = len(z)
    for item in range(1, 7):
        u = z + rng.normal(0.0, noise, n)
        lonely_answer = "ja" if item in DJG_EMOTIONAL else "nee"
        other = "nee" if item in DJG_EMOTIONAL else "ja"
        out[f"djg_{item}"] = np.where(u > high, lonely_answer, np.where(u > low, "min_of_meer", other)).astype(object)
    return out


def djg_scores(items: pd.DataFrame) -> pd.DataFrame:
    """Complete-data DJG scores of the truth (no missing items here; the scoring module handles those).

    Emotional items score 1 for "ja" or "min of meer", social items for "nee" or "min of meer"
    (De Jong Gierveld & Van Tilburg 2006, Manual of the Loneliness Scale, section 8).
    """
    emo = sum(items[f"djg_{i}"].isin(["ja", "min_of_meer"]).astype(int) for i in DJG_EMOTIONAL)
    soc = sum(items[f"djg_{i}"].isin(["nee", "min_of_meer"]).astype(int) for i in DJG_SOCIAL)
    return pd.DataFrame({"djg_emotional": emo, "djg_social": soc, "djg_total": emo + soc}, index=items.index)


def covariates(frame: pd.DataFrame, definitions: dict) -> pd.DataFrame:
    """0/1 covariates of the true reach model, from their definitions in params.yaml.

    A definition names a tidy ``variable`` and either ``in`` (a list of codes) or ``min`` /
    ``max`` (inclusive bounds). The same function documents and rebuilds the design matrix.
    """
    out = {}
    for name, d in definitions.items():
        x = frame[d["variable"]]
        if "in" in d:
            ind = x.isin(d["in"])
        else:
            ind = pd.Series(True, index=frame.index)
            if "min" in d:
                ind &= x >= d["min"]
            if "max" in d:
                ind &= x <= d["max"]
        out[name] = ind.astype(int)
    return pd.DataFrame(out, index=frame.index)


def _dates(rng, n, fieldwork, with_time: bool):
    start = np.datetime64(fieldwork["start"])
    days = int((np.datetime64(fieldwork["end"]) - start).astype(int)) + 1
    d = start + rng.integers(0, days, n).astype("timedelta64[D]")
    if not with_time:
        return d.astype("datetime64[s]")
    secs = rng.integers(fieldwork["first_hour"] * 3600, fieldwork["last_hour"] * 3600, n)
    return d.astype("datetime64[s]") + secs.astype("timedelta64[s]")


# ----------------------------------------------------------------------------------------
def reach(rng: np.random.Generator, sites: pd.DataFrame, comp: dict, params: dict, cb: Codebook) -> pd.DataFrame:
    """Tidy reach questionnaire truth: one row per respondent, all sites.

    ``sites`` has columns site, style, base and intercept; ``comp`` maps site → dimension →
    probability vector (codebook order), from :func:`analysis.synth.composition`.
    """
    pop = params["population"]
    fps = params["forms_per_site"]
    n_site = rng.integers(fps["min"], fps["max"] + 1, len(sites))
    site_idx = np.repeat(np.arange(len(sites)), n_site)
    n = len(site_idx)
    site = sites["site"].to_numpy()[site_idx]
    base = sites["base"].to_numpy()[site_idx]

    def by_site(dim):
        codes = cb.codes(dim if dim != "age_group" else "age_group")
        mat = np.vstack([comp[s][dim] for s in sites["site"]])
        return draw_categorical(rng, mat[site_idx], codes)

    gender = by_site("gender")
    age_group = by_site("age_group")
    band = pop["age_group"]["band_years"]
    lo = np.array([band[g][0] for g in age_group])
    hi = np.array([band[g][1] for g in age_group])
    age = lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(int)
    household = by_site("household")
    origin = by_site("origin")
    education = by_site("education")
    act_codes = cb.codes("activity")
    act_p = {g: prob_vector({k: v for k, v in pop["activity_by_age"][g].items()}, act_codes, f"activity_by_age.{g}")
             for g in band}
    activity = draw_categorical(rng, np.vstack([act_p[g] for g in age_group]), act_codes)
    fin_codes = cb.codes("finances")
    fin_u = prob_vector(pop["finances"]["uitkering"], fin_codes, "finances.uitkering")
    fin_o = prob_vector(pop["finances"]["other"], fin_codes, "finances.other")
    finances = draw_categorical(rng, np.where((activity == "uitkering")[:, None], fin_u, fin_o), fin_codes)
    h_codes = cb.codes("health")
    h_p = {g: prob_vector(pop["health_by_age"][g], h_codes, f"health_by_age.{g}") for g in band}
    health = draw_categorical(rng, np.vstack([h_p[g] for g in age_group]), h_codes)
    pc4_lists = pop["pc4"]
    pc4 = np.empty(n, dtype=object)
    for b in np.unique(base):
        m = base == b
        pc4[m] = rng.choice(np.asarray(pc4_lists[b], dtype=object), m.sum())

    lon = pop["loneliness"]
    eff = lon["effects"]
    strain = np.isin(finances, ["grote_moeite", "enige_moeite"])
    z = (lon["intercept"] + eff["living_alone"] * (household == "alleenstaand") + eff["financial_strain"] * strain
         + eff["poor_health"] * np.isin(health, ["slecht", "zeer_slecht"]) + eff["age_65_plus"] * (age >= 65)
         + rng.normal(0.0, 1.0, n))
    items = pd.DataFrame(djg_answers(rng, z, lon["item_noise"], lon["thresholds"]["low"], lon["thresholds"]["high"]))

    frame = pd.DataFrame({
        "site": site, "date": _dates(rng, n, params["fieldwork"], with_time=True), "pc4": pc4,
        "age": age, "age_group": age_group, "gender": gender, "household": household, "origin": origin,
        "education": education, "activity": activity, "finances": finances, "health": health,
    })
    frame = pd.concat([frame, items, djg_scores(items)], axis=1)
    frame["lonely"] = frame["djg_total"] >= 2

    model = params["reach_model"]
    X = covariates(frame, model["covariates"])
    beta = np.array([d["coefficient"] for d in model["covariates"].values()])
    eta = sites["intercept"].to_numpy()[site_idx] + X.to_numpy() @ beta
    p = 1.0 / (1.0 + np.exp(-eta))
    reached = rng.random(n) < p
    frame["reached"] = reached
    v_codes = [c for c in cb.codes("visits") if c != "nooit"]
    visits = draw_categorical(rng, np.tile(prob_vector(model["visits_if_reached"], v_codes, "visits_if_reached"), (n, 1)), v_codes)
    frame["visits"] = np.where(reached, visits, "nooit").astype(object)
    knows = reached | (rng.random(n) < model["knows_if_not_reached"])
    frame["knows"] = np.where(knows, "ja", "nee").astype(object)

    heard_codes = cb.codes("heard")
    hp = np.array([model["heard"][c] for c in heard_codes])
    heard = rng.random((n, len(heard_codes))) < hp
    none = ~heard.any(axis=1)
    heard[none, rng.integers(0, len(heard_codes), none.sum())] = True
    for j, c in enumerate(heard_codes):
        frame[f"heard_{c}"] = pd.array(np.where(knows, heard[:, j], False), dtype="boolean")
        frame.loc[~knows, f"heard_{c}"] = pd.NA

    r_codes = cb.codes("reasons")
    rp = np.array([model["reasons"].get(c, 0.0) for c in r_codes])
    reasons = rng.random((n, len(r_codes))) < rp
    kn = r_codes.index("kende_niet")
    reasons[:, kn] = ~knows
    empty = ~reasons.any(axis=1) & knows
    reasons[empty, r_codes.index("geen_behoefte")] = True
    for j, c in enumerate(r_codes):
        frame[f"reasons_{c}"] = pd.array(reasons[:, j], dtype="boolean")
        frame.loc[reached, f"reasons_{c}"] = pd.NA

    anders = (frame["heard_anders"].fillna(False) | frame["reasons_anders"].fillna(False)).to_numpy(dtype=bool)
    with_text = anders & (rng.random(n) < model["other_text_share"])
    texts = rng.choice(np.asarray(model["other_texts"], dtype=object), n)
    frame["other_text"] = np.where(with_text, texts, "").astype(object)

    order = np.lexsort((frame["date"].to_numpy(), site_idx))
    frame = frame.iloc[order].reset_index(drop=True)
    frame["form_no"] = frame.groupby("site", sort=False).cumcount() + 1
    frame.insert(0, "respondent_id", frame["site"] + "-" + frame["form_no"].map("{:04d}".format))
    return frame


def proxy(rng: np.random.Generator, sites: pd.DataFrame, params: dict, cb: Codebook) -> pd.DataFrame:
    """Tidy proxy reports (visitors about residents they know who do not come)."""
    pp = params["proxy"]
    k = rng.integers(pp["reports_per_site"]["min"], pp["reports_per_site"]["max"] + 1, len(sites))
    idx = np.repeat(np.arange(len(sites)), k)
    n = len(idx)
    out = pd.DataFrame({"site": sites["site"].to_numpy()[idx]})
    out["date"] = _dates(rng, n, params["fieldwork"], with_time=False)
    for var, key in (("relation", "relation"), ("proxy_age_group", "age_group"), ("proxy_gender", "gender"),
                     ("would_like", "would_like")):
        # a share may also be given for a missing reason (the reporter's "onbekend"): those
        # reports hold the reason's key, which export.unmap writes as the source's raw value
        codes = cb.codes(var)
        codes += [k for k in pp[key] if k in cb.data["missing_reasons"] and k not in codes]
        out[var] = draw_categorical(rng, np.tile(prob_vector(pp[key], codes, f"proxy.{key}"), (n, 1)), codes)
    r_codes = cb.codes("proxy_reasons")
    rr = rng.random((n, len(r_codes))) < np.array([pp["reasons"][c] for c in r_codes])
    none = ~rr.any(axis=1)
    rr[none, rng.integers(0, len(r_codes), none.sum())] = True
    for j, c in enumerate(r_codes):
        out[f"reasons_{c}"] = rr[:, j]
    out["proxy_text"] = np.where(rng.random(n) < pp["text_share"], rng.choice(np.asarray(pp["texts"], dtype=object), n), "").astype(object)
    out.insert(0, "proxy_id", [params["raw_ids"]["proxy"].format(n=i + 1) for i in range(n)])
    return out


def site_questionnaire(rng: np.random.Generator, sites: pd.DataFrame, params: dict, cb: Codebook) -> pd.DataFrame:
    """Tidy site questionnaire: the configured values for the study's sites, drawn for generated ones."""
    sp = params["sites"]
    g = sp["generated"]
    rows = []
    for s in sites["site"]:
        if s in sp:
            rows.append({"site": s, **sp[s]})
            continue
        rows.append({
            "site": s,
            "opening_hours": float(rng.integers(g["opening_hours"][0], g["opening_hours"][1] + 1)),
            "paid_staff": round(float(rng.uniform(*g["paid_staff"])), 1),
            "volunteers": int(rng.integers(g["volunteers"][0], g["volunteers"][1] + 1)),
            "experts_by_experience": int(rng.integers(g["experts_by_experience"][0], g["experts_by_experience"][1] + 1)),
            "weekly_visitors": int(rng.integers(g["weekly_visitors"][0], g["weekly_visitors"][1] + 1)),
            "outreach": [c for c in cb.codes("outreach") if rng.random() < g["outreach_share"]] or [cb.codes("outreach")[0]],
        })
    return pd.DataFrame(rows)


def interviews(rng: np.random.Generator, sites: pd.DataFrame, params: dict, cb: Codebook) -> tuple[pd.DataFrame, dict]:
    """Tidy interview truth, long (person, wave), and the realised facts (drop-outs, intervals).

    T1 = T0 + true change + noise on each person's continuous score, then rounded and clipped
    to the instrument's range (params.yaml ``interviews``).
    """
    ip = params["interviews"]
    k = ip["per_site"]
    ns = len(sites)
    person_site = np.repeat(sites["site"].to_numpy(), k)
    person_no = np.tile(np.arange(1, k + 1), ns)
    pid = np.array([f"{s}-{i:02d}" for s, i in zip(person_site, person_no)], dtype=object)
    n = len(pid)

    def clip_round(x, lo, hi):
        return np.clip(np.rint(x), lo, hi).astype(int)

    waves = {}
    # loneliness (latent, same item model as the questionnaire)
    lon = params["population"]["loneliness"]
    dj = ip["djg"]
    z0 = rng.normal(dj["t0_mean"], dj["t0_sd"], n)
    z1 = z0 + dj["change"] + rng.normal(0, dj["noise"], n)
    w0 = np.clip(rng.normal(ip["who5"]["t0_mean"], ip["who5"]["t0_sd"], n), 0, 5)
    w1 = w0 + ip["who5"]["change"] + rng.normal(0, ip["who5"]["noise"], n)
    pg0 = {d: rng.normal(ip["pg"]["t0_mean"], ip["pg"]["t0_sd"], n) for d in ip["pg"]["change"]}
    zr0 = {d: rng.normal(ip["zrm"]["t0_mean"], ip["zrm"]["t0_sd"], n) for d in ip["zrm"]["change"]}
    vf_codes = list(ip["visit_frequency_t0"])
    vf0 = draw_categorical(rng, np.tile(np.array(list(ip["visit_frequency_t0"].values())), (n, 1)), vf_codes)
    order = cb.codes("visit_frequency")
    up = rng.random(n) < ip["visit_frequency_up"]
    vf1 = np.array([order[min(order.index(v) + 1, len(order) - 1)] if u else v for v, u in zip(vf0, up)], dtype=object)
    for wave, z, w, pg_shift, zr_shift, vf in (
        ("T0", z0, w0, 0, 0, vf0), ("T1", z1, w1, 1, 1, vf1)
    ):
        frame = pd.DataFrame({"person_id": pid, "site": person_site, "wave": wave})
        items = pd.DataFrame(djg_answers(rng, z, lon["item_noise"], lon["thresholds"]["low"], lon["thresholds"]["high"]))
        frame = pd.concat([frame, items, djg_scores(items)], axis=1)
        for i in range(1, 6):
            frame[f"who5_{i}"] = clip_round(w + rng.normal(0, ip["who5"]["item_noise"], n), 0, 5)
        frame["who5"] = frame[[f"who5_{i}" for i in range(1, 6)]].sum(axis=1) * 4
        for d, ch in ip["pg"]["change"].items():
            frame[f"pg_{d}"] = clip_round(pg0[d] + pg_shift * (ch + rng.normal(0, ip["pg"]["noise"], n)), 0, 10)
        for d, ch in ip["zrm"]["change"].items():
            frame[f"zrm_{d}"] = clip_round(zr0[d] + zr_shift * (ch + rng.normal(0, ip["zrm"]["noise"], n)), 1, 5)
        frame["visit_frequency"] = vf
        waves[wave] = frame

    # dates, intervals, drop-outs
    t0 = _dates(rng, n, params["fieldwork"], with_time=False).astype("datetime64[D]")
    months = rng.normal(ip["interval_months"]["mean"], ip["interval_months"]["sd"], n)
    drop = np.zeros(n, dtype=bool)
    if "pairs_per_site" in ip:
        kdrops = k - pairs_per_site(rng, ns, k, ip)
    else:
        kdrops = None
        dmin, dmax = ip["dropouts_per_site"]["min"], ip["dropouts_per_site"]["max"]
    for s in range(ns):
        kdrop = int(rng.integers(dmin, dmax + 1)) if kdrops is None else int(kdrops[s])
        drop[s * k + rng.choice(k, kdrop, replace=False)] = True
    completers = np.flatnonzero(~drop)
    outliers = rng.choice(completers, min(len(ip["interval_outliers"]), len(completers)), replace=False)
    months[outliers] = ip["interval_outliers"][: len(outliers)]
    days = np.rint(months * ip["days_per_month"]).astype(int)
    t1 = t0 + days.astype("timedelta64[D]")
    waves["T0"].insert(3, "date", t0.astype("datetime64[s]"))
    waves["T1"].insert(3, "date", t1.astype("datetime64[s]"))
    waves["T1"], unchanged = no_change(rng, waves["T0"], waves["T1"], sites["site"].tolist(), ip)
    long = pd.concat([waves["T0"], waves["T1"][~drop]], ignore_index=True)
    facts = {
        "dropouts": sorted(pid[drop].tolist()),
        "interval_outliers": {pid[i]: float(months[i]) for i in outliers},
        "interval_months_realised": {"mean": float(months[~drop].mean()), "min": float(months[~drop].min()),
                                     "max": float(months[~drop].max())},
    }
    if kdrops is not None:
        facts["pairs_per_site"] = {str(site): int(k - d) for site, d in zip(sites["site"], kdrops)}
    if unchanged is not None:
        facts["no_change"] = unchanged
    return long, facts


def pairs_per_site(rng: np.random.Generator, n_sites: int, per_site: int, ip: dict) -> np.ndarray:
    """Pairs (persons interviewed at T0 and T1) per site: uniform in ``pairs_per_site``, and at
    one site chosen at random uniform in ``smallest_site_pairs`` (when given), so that a small
    profile always has a site with very few pairs (params.yaml ``profiles.small``).

    >>> ip = {"pairs_per_site": {"min": 5, "max": 6}, "smallest_site_pairs": {"min": 2, "max": 2}}
    >>> sorted(pairs_per_site(np.random.default_rng(0), 3, 7, ip).tolist())[0]
    2
    """
    lo, hi = ip["pairs_per_site"]["min"], ip["pairs_per_site"]["max"]
    small = ip.get("smallest_site_pairs")
    bounds = [(lo, hi)] + ([(small["min"], small["max"])] if small else [])
    if any(not 0 <= a <= b <= per_site for a, b in bounds):
        raise ValueError(f"interviews.pairs_per_site {lo}-{hi} and smallest_site_pairs must lie within "
                         f"0-{per_site} (interviews.per_site) with min <= max; fix analysis/synth/params.yaml")
    pairs = rng.integers(lo, hi + 1, n_sites)
    if small:
        pairs[int(rng.integers(0, n_sites))] = int(rng.integers(small["min"], small["max"] + 1))
    return pairs


def no_change(rng: np.random.Generator, t0: pd.DataFrame, t1: pd.DataFrame, sites: list[str],
              ip: dict) -> tuple[pd.DataFrame, dict | None]:
    """``t1`` (same persons and order as ``t0``) with T1 = T0 for the outcomes and sites of
    ``interviews.no_change``, and ``{outcome: [sites]}`` (None when the profile lists none).

    Only single-score outcomes (Positieve Gezondheid and ZRM domains) whose true change is 0,
    so that the documented true change stays the truth for every person.
    """
    specs = ip.get("no_change")
    if not specs:
        return t1, None
    t1 = t1.copy()
    out = {}
    for spec in specs:
        outcome, which = spec["outcome"], spec["sites"]
        instrument, _, domain = outcome.partition("_")
        change = ip.get(instrument, {}).get("change") if instrument in ("pg", "zrm") else None
        if not isinstance(change, dict) or domain not in change:
            raise ValueError(f"interviews.no_change: {outcome!r} is not a Positieve Gezondheid or ZRM domain "
                             "(pg_<domain> or zrm_<domain> of interviews.pg/zrm.change); fix analysis/synth/params.yaml")
        if change[domain] != 0:
            raise ValueError(f"interviews.no_change: {outcome!r} has true change {change[domain]} in "
                             f"interviews.{instrument}.change; choose a domain whose true change is 0")
        if which == "all":
            chosen = list(sites)
        elif isinstance(which, int) and 1 <= which <= len(sites):
            chosen = sorted(rng.choice(np.asarray(sites, dtype=object), which, replace=False).tolist())
        else:
            raise ValueError(f"interviews.no_change: sites of {outcome!r} must be 'all' or a number from 1 to "
                             f"{len(sites)}, not {which!r}")
        at = t0["site"].isin(chosen).to_numpy()
        t1.loc[at, outcome] = t0.loc[at, outcome].to_numpy()
        out[outcome] = [str(s) for s in chosen]
    return t1, out


def segments(rng: np.random.Generator, interviews_long: pd.DataFrame, params: dict, cb: Codebook) -> pd.DataFrame:
    """Coded segments per interview document, with the true change–mechanism co-occurrence."""
    sp = params["segments"]
    ch_codes = list(sp["change_codes"])
    ch_w = np.array(list(sp["change_codes"].values()), dtype=float)
    me_codes = list(sp["mechanism_codes"])
    me_w = np.array(list(sp["mechanism_codes"].values()), dtype=float)
    ch_w /= ch_w.sum()
    me_w /= me_w.sum()
    rows = []
    docs = interviews_long[["person_id", "site", "wave"]].to_numpy()
    n_seg = rng.integers(sp["per_document"]["min"], sp["per_document"]["max"] + 1, len(docs))
    for (pid, site, wave), k in zip(docs, n_seg):
        is_change = rng.random(k) < sp["change_weight"][wave]
        ch = rng.choice(ch_codes, k, p=ch_w)
        me = rng.choice(me_codes, k, p=me_w)
        co = rng.random(k) < sp["co_occurrence_prob"]
        for j in range(k):
            if is_change[j]:
                rows.append((pid, site, wave, ch[j]))
                if co[j] and ch[j] in sp["co_occurrence"]:
                    rows.append((pid, site, wave, sp["co_occurrence"][ch[j]]))
            else:
                rows.append((pid, site, wave, me[j]))
    out = pd.DataFrame(rows, columns=["person_id", "site", "wave", "code"])
    groups = {c: lab["group"] for c, lab in cb.code_labels("code").items()}
    out.insert(3, "code_group", out["code"].map(groups))
    out.insert(0, "segment_id", np.arange(1, len(out) + 1))
    return out


def today_like(value: str) -> dt.datetime:
    """Parse the fixed file timestamp of params.yaml."""
    return dt.datetime.fromisoformat(value)
