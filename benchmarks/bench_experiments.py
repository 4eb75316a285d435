"""Benchmark: the vectorised calibration harness against a per-simulation scipy loop.

Both sides simulate the same experiments -- for each of the four fixed-horizon tests
(two-proportion z, Welch t, the delta-method ratio metric clustered by user, CUPED), an
A/A experiment and one with a planted effect per simulation, from the same per-user data
models -- and compute false-positive rates and interval coverage:

* **ours**: :func:`codex_ds.experiments.calibration.calibrate` with
  ``tests=FIXED_HORIZON_TESTS``: all simulations at once, per-user draws reduced to
  sufficient statistics with numpy, then the package's array kernels;
* **baseline**: a Python loop over simulations that draws each experiment's users and calls
  ``statsmodels.stats.proportion.proportions_ztest``, ``scipy.stats.ttest_ind_from_stats``,
  and scipy distributions for the delta-method and CUPED tests, one experiment at a time.

Both sides spend most of their time drawing the ~16 million per-user random numbers (the
clustered ratio metric alone draws four per user), so the end-to-end ratio is modest. The
second comparison isolates the statistics: the same sufficient statistics of
2 × ``--sims`` experiments per test analysed by the array kernels at once, and by one scipy /
statsmodels call per experiment (p-values must agree to 1e-9).

Target: 2,000 simulations × 4 tests in ≤ 60 s for ours. Then, not timed against the
target, every figure of the issue's calibration list at full size, each with its
Monte-Carlo standard error and band: false-positive rates and coverage of the four
fixed-horizon tests, the ratio metric again with ``--ratio-sims`` (20,000) simulations,
group-sequential (O'Brien–Fleming and Pocock) false positives at 20 looks, the always-valid
sequence against Ville's (GrowthBook's), naive peeking, CUPED's width ratio against
√(1 − ρ²), predicted against simulated power, and the SRM check against its exact χ²
rejection rate. Prints markdown tables and one JSON line; ``--record`` writes them into
docs/benchmarks.md (benchmarks/record.py).

    python benchmarks/bench_experiments.py
    python benchmarks/bench_experiments.py --sims 2000 --n-per-arm 500
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest

from codex_ds.experiments.calibration import (
    FIXED_HORIZON_TESTS,
    SEQUENTIAL_TESTS,
    CalibrationFigure,
    CalibrationReport,
    SimulationModel,
    calibrate,
)
from codex_ds.experiments.cuped import cuped_arrays
from codex_ds.experiments.frequentist import effect_arrays, proportion_arrays
from codex_ds.experiments.statistics import covariance_arrays, ratio_arrays, variance_arrays

TARGET_S = 60.0
ALPHA = 0.05


def _baseline_proportion(rng: np.random.Generator, sims: int, n: int, m: SimulationModel) -> dict:
    p0 = m.proportion_baseline
    p1 = p0 * (1 + m.proportion_lift)
    q = stats.norm.ppf(1 - ALPHA / 2)
    reject = cover = 0
    for _ in range(sims):
        a, b = rng.binomial(n, p0), rng.binomial(n, p0)
        _, p = proportions_ztest([b, a], [n, n])
        reject += p < ALPHA
        a, b = rng.binomial(n, p0), rng.binomial(n, p1)
        pa, pb = a / n, b / n
        se = math.sqrt(pa * (1 - pa) / n + pb * (1 - pb) / n)
        cover += abs(pb - pa - (p1 - p0)) <= q * se
    return {"fpr": reject / sims, "coverage": cover / sims}


def _baseline_welch(rng: np.random.Generator, sims: int, n: int, m: SimulationModel) -> dict:
    sigma, lift = m.lognormal_sigma, m.mean_lift
    truth = lift * math.exp(sigma**2 / 2)
    reject = cover = 0
    for _ in range(sims):
        ya, yb = rng.lognormal(0, sigma, n), rng.lognormal(0, sigma, n)
        r = stats.ttest_ind_from_stats(
            yb.mean(), yb.std(ddof=1), n, ya.mean(), ya.std(ddof=1), n, equal_var=False
        )
        reject += r.pvalue < ALPHA
        ya, yb = rng.lognormal(0, sigma, n), rng.lognormal(0, sigma, n) * (1 + lift)
        va, vb = ya.var(ddof=1) / n, yb.var(ddof=1) / n
        df = (va + vb) ** 2 / (va**2 / (n - 1) + vb**2 / (n - 1))
        half = stats.t.ppf(1 - ALPHA / 2, df) * math.sqrt(va + vb)
        cover += abs(yb.mean() - ya.mean() - truth) <= half
    return {"fpr": reject / sims, "coverage": cover / sims}


def _users(rng: np.random.Generator, n: int, m: SimulationModel, lift: float) -> tuple:
    lam = rng.gamma(m.suggestions_shape, m.suggestions_mean / m.suggestions_shape, n)
    shown = 1 + rng.poisson(lam)
    p = m.acceptance_cap * rng.beta(*m.acceptance_beta, n) * (1 + lift)
    return rng.binomial(shown, p).astype(float), shown.astype(float)


def _delta(acc: np.ndarray, shown: np.ndarray) -> tuple[float, float]:
    r = acc.sum() / shown.sum()
    lin = (acc - r * shown) / shown.mean()
    return r, lin.var(ddof=1) / len(acc)


def _baseline_ratio(rng: np.random.Generator, sims: int, n: int, m: SimulationModel) -> dict:
    a_, b_ = m.acceptance_beta
    truth = m.acceptance_cap * a_ / (a_ + b_) * m.acceptance_lift
    q = stats.norm.ppf(1 - ALPHA / 2)
    reject = cover = 0
    for _ in range(sims):
        (ra, va), (rb, vb) = _delta(*_users(rng, n, m, 0.0)), _delta(*_users(rng, n, m, 0.0))
        reject += 2 * stats.norm.sf(abs(rb - ra) / math.sqrt(va + vb)) < ALPHA
        (ra, va) = _delta(*_users(rng, n, m, 0.0))
        (rb, vb) = _delta(*_users(rng, n, m, m.acceptance_lift))
        cover += abs(rb - ra - truth) <= q * math.sqrt(va + vb)
    return {"fpr": reject / sims, "coverage": cover / sims}


def _cuped_arm(rng: np.random.Generator, n: int, m: SimulationModel, effect: float) -> tuple:
    k, rho = m.covariate_gamma_shape, m.covariate_correlation
    x = (rng.gamma(k, 1.0, n) - k) / math.sqrt(k)
    e = (rng.gamma(k, 1.0, n) - k) / math.sqrt(k)
    y = 10 + rho * x + math.sqrt(1 - rho**2) * e + effect * (1 + 0.5 * x)
    return y, 10 + x


def _cuped_once(arms: list[tuple]) -> tuple[float, float, float, float]:
    (ya, xa), (yb, xb) = arms
    n = len(ya)
    ca, cb = np.cov(ya, xa)[0, 1], np.cov(yb, xb)[0, 1]
    theta = (ca + cb) / (xa.var(ddof=1) + xb.var(ddof=1))
    adj_a, adj_b = ya - theta * xa, yb - theta * xb
    va, vb = adj_a.var(ddof=1) / n, adj_b.var(ddof=1) / n
    df = (va + vb) ** 2 / (va**2 / (n - 1) + vb**2 / (n - 1))
    est = adj_b.mean() - adj_a.mean()
    half = stats.t.ppf(1 - ALPHA / 2, df) * math.sqrt(va + vb)
    p = 2 * stats.t.sf(abs(est) / math.sqrt(va + vb), df)
    pa, pb = ya.var(ddof=1) / n, yb.var(ddof=1) / n
    pdf = (pa + pb) ** 2 / (pa**2 / (n - 1) + pb**2 / (n - 1))
    width_ratio = half / (stats.t.ppf(1 - ALPHA / 2, pdf) * math.sqrt(pa + pb))
    return est, half, p, width_ratio


def _baseline_cuped(rng: np.random.Generator, sims: int, n: int, m: SimulationModel) -> dict:
    reject = cover = 0
    widths = 0.0
    for _ in range(sims):
        _, _, p, w = _cuped_once([_cuped_arm(rng, n, m, 0.0), _cuped_arm(rng, n, m, 0.0)])
        reject += p < ALPHA
        widths += w
        est, half, _, _ = _cuped_once(
            [_cuped_arm(rng, n, m, 0.0), _cuped_arm(rng, n, m, m.cuped_effect_sd)]
        )
        cover += abs(est - m.cuped_effect_sd) <= half
    return {"fpr": reject / sims, "coverage": cover / sims, "width_ratio": widths / sims}


# --------------------------------------------------------------------------- analysis only


def _sums(rng: np.random.Generator, sims: int, n: int, m: SimulationModel) -> dict:
    """Sufficient statistics of ``sims`` experiments per test (two arms each), vectorised."""
    out: dict = {"n": n}
    out["prop"] = rng.binomial(n, m.proportion_baseline, size=(2, sims))
    y = rng.lognormal(0, m.lognormal_sigma, size=(2, sims, n))
    out["mean"] = (y.sum(axis=2), (y * y).sum(axis=2))
    lam = rng.gamma(m.suggestions_shape, m.suggestions_mean / m.suggestions_shape, (2, sims, n))
    d = 1.0 + rng.poisson(lam)
    acc = rng.binomial(d.astype(np.int64), m.acceptance_cap * rng.beta(2, 2, d.shape)).astype(float)
    out["ratio"] = tuple(v.sum(axis=2) for v in (acc, acc * acc, d, d * d, acc * d))
    k, rho = m.covariate_gamma_shape, m.covariate_correlation
    x = (rng.gamma(k, 1.0, (2, sims, n)) - k) / math.sqrt(k)
    e = (rng.gamma(k, 1.0, (2, sims, n)) - k) / math.sqrt(k)
    yc = 10 + rho * x + math.sqrt(1 - rho**2) * e
    x = x + 10
    out["cuped"] = tuple(v.sum(axis=2) for v in (yc, yc * yc, x, x * x, x * yc))
    return out


def _analyse_vectorised(s: dict) -> dict[str, np.ndarray]:
    n = s["n"]
    a, b = s["prop"]
    p = {"proportion": proportion_arrays(a, n, b, n).p_value}
    sy, syy = s["mean"]
    p["welch"] = effect_arrays(
        sy[0] / n,
        variance_arrays(n, sy[0], syy[0]),
        n,
        sy[1] / n,
        variance_arrays(n, sy[1], syy[1]),
        n,
        distribution="t",
    ).p_value
    ra, va = ratio_arrays(n, *(v[0] for v in s["ratio"]))
    rb, vb = ratio_arrays(n, *(v[1] for v in s["ratio"]))
    p["ratio"] = effect_arrays(ra, va, n, rb, vb, n).p_value
    sy, syy, sx, sxx, sxy = s["cuped"]
    mom = [
        (
            sy[i] / n,
            variance_arrays(n, sy[i], syy[i]),
            sx[i] / n,
            variance_arrays(n, sx[i], sxx[i]),
            covariance_arrays(n, sxy[i], sx[i], sy[i]),
            n,
        )
        for i in (0, 1)
    ]
    adj = cuped_arrays(*mom[0], *mom[1])
    p["cuped"] = effect_arrays(
        adj.mean_a, adj.var_a, n, adj.mean_b, adj.var_b, n, distribution="t"
    ).p_value
    return p


def _analyse_loop(s: dict) -> dict[str, np.ndarray]:
    n = s["n"]
    sims = s["prop"].shape[1]
    out = {k: np.empty(sims) for k in ("proportion", "welch", "ratio", "cuped")}

    def moments(total: float, squares: float) -> tuple[float, float]:
        mean = total / n
        return mean, (squares - total * total / n) / (n - 1)

    for i in range(sims):
        a, b = s["prop"][:, i]
        out["proportion"][i] = proportions_ztest([b, a], [n, n])[1]
        (ma, va), (mb, vb) = (moments(s["mean"][0][j, i], s["mean"][1][j, i]) for j in (0, 1))
        out["welch"][i] = stats.ttest_ind_from_stats(
            mb, math.sqrt(vb), n, ma, math.sqrt(va), n, equal_var=False
        ).pvalue
        est = []
        for j in (0, 1):
            sm, smm, sd, sdd, smd = (v[j, i] for v in s["ratio"])
            r = sm / sd
            cov = (smd - sm * sd / n) / (n - 1)
            var_m, var_d = (smm - sm * sm / n) / (n - 1), (sdd - sd * sd / n) / (n - 1)
            est.append((r, (var_m - 2 * r * cov + r * r * var_d) / (sd / n) ** 2 / n))
        (ra, va), (rb, vb) = est
        out["ratio"][i] = 2 * stats.norm.sf(abs(rb - ra) / math.sqrt(va + vb))
        arms = []
        for j in (0, 1):
            sy, syy, sx, sxx, sxy = (v[j, i] for v in s["cuped"])
            arms.append(
                (
                    sy / n,
                    (syy - sy * sy / n) / (n - 1),
                    sx / n,
                    (sxx - sx * sx / n) / (n - 1),
                    (sxy - sx * sy / n) / (n - 1),
                )
            )
        (ya, vya, xa, vxa, ca), (yb, vyb, xb, vxb, cb) = arms
        theta = (ca + cb) / (vxa + vxb)
        x_bar = (xa + xb) / 2
        adj_a, adj_b = ya - theta * (xa - x_bar), yb - theta * (xb - x_bar)
        sa = (vya - 2 * theta * ca + theta**2 * vxa) / n
        sb = (vyb - 2 * theta * cb + theta**2 * vxb) / n
        df = (sa + sb) ** 2 / (sa**2 / (n - 1) + sb**2 / (n - 1))
        out["cuped"][i] = 2 * stats.t.sf(abs(adj_b - adj_a) / math.sqrt(sa + sb), df)
    return out


# --------------------------------------------------------------------------- the list


def _band(f: CalibrationFigure, lo: float, hi: float) -> tuple[str, bool]:
    return f"[{100 * lo:.1f}, {100 * hi:.1f}] %", lo <= f.estimate <= hi


def calibration_list(
    fixed: CalibrationReport, extra: CalibrationReport, ratio: CalibrationReport
) -> tuple[list[str], list[str]]:
    """One row per figure the issue's calibration list names, with its band and verdict."""
    rows: list[tuple[CalibrationFigure, str, bool]] = []
    reference: list[tuple[CalibrationFigure, str]] = []
    for name in FIXED_HORIZON_TESTS:
        rows.append((fixed.get(name, "false_positive_rate"), *_band_of(fixed, name, "fpr")))
        rows.append((fixed.get(name, "coverage"), *_band_of(fixed, name, "coverage")))
    big = ratio.get("ratio", "coverage")
    rows.append((big, *_band(big, 0.935, 0.965)))
    big_fpr = ratio.get("ratio", "false_positive_rate")
    rows.append((big_fpr, *_band(big_fpr, 0.04, 0.06)))
    for name in ("group_sequential", "group_sequential_pocock"):
        f = extra.get(name, "false_positive_rate")
        rows.append((f, *_band(f, 0.04, 0.055)))
    ville = extra.get("always_valid_ville", "false_positive_rate")
    av = extra.get("always_valid", "false_positive_rate")
    rows.append(
        (
            av,
            f"≤ 5 % and > Ville's {100 * ville.estimate:.2f} %",
            ville.estimate < av.estimate <= 0.05,
        )
    )
    reference.append((ville, "reference: GrowthBook's sequence, measured at 1.2–2.3 %"))
    peek = extra.get("naive_peeking", "false_positive_rate")
    rows.append((peek, "≈ 25 % (contrast): > 15 %", peek.estimate > 0.15))
    width = fixed.get("cuped", "width_ratio")
    rows.append(
        (
            width,
            f"√(1 − ρ²) = {width.target:.4f} ± 5 %",
            abs(width.estimate / width.target - 1) <= 0.05,
        )
    )
    for name in ("power_proportion", "power_mean", "group_sequential"):
        f = extra.get(name, "power")
        rows.append(
            (f, f"predicted {100 * f.target:.1f} % ± 3 points", abs(f.estimate - f.target) <= 0.03)
        )
    srm = extra.get("srm", "false_positive_rate")
    units = 2 * extra.n_per_arm
    counts = np.arange(units + 1)
    chi2 = (counts - units / 2) ** 2 / (units / 2) * 2
    exact = float(stats.binom.pmf(counts, units, 0.5)[stats.chi2.sf(chi2, 1) < ALPHA].sum())
    rows.append(
        (
            srm,
            f"exact χ² rate at {units:,} units: {100 * exact:.2f} % ± 3 MC SE",
            abs(srm.estimate - exact) <= 3 * srm.mc_standard_error,
        )
    )
    lines = []
    for f, band, ok in rows:
        value = (
            f"{f.estimate:.4f} ± {f.mc_standard_error:.4f}"
            if f.quantity == "width_ratio"
            else f"{100 * f.estimate:.2f} % ± {100 * f.mc_standard_error:.2f}"
        )
        lines.append(
            f"| {f.test} | {f.quantity.replace('_', ' ')} | {f.n_sims:,} | {value} | {band} | "
            f"{'yes' if ok else 'NO'} |"
        )
    for f, band in reference:
        lines.append(
            f"| {f.test} | {f.quantity.replace('_', ' ')} | {f.n_sims:,} | "
            f"{100 * f.estimate:.2f} % ± {100 * f.mc_standard_error:.2f} | {band} | - |"
        )
    failed = [
        f"{f.test} {f.quantity.replace('_', ' ')} ({f.n_sims:,} sims)"
        for f, _, ok in rows
        if not ok
    ]
    return lines, failed


def _band_of(report: CalibrationReport, name: str, kind: str) -> tuple[str, bool]:
    f = report.get(name, "false_positive_rate" if kind == "fpr" else "coverage")
    return _band(f, 0.04, 0.06) if kind == "fpr" else _band(f, 0.935, 0.965)


BASELINES = {
    "proportion": _baseline_proportion,
    "welch": _baseline_welch,
    "ratio": _baseline_ratio,
    "cuped": _baseline_cuped,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sims", type=int, default=2000, help="simulations per test")
    parser.add_argument("--n-per-arm", type=int, default=500, help="users per arm")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--ratio-sims", type=int, default=20_000, help="simulations of the long ratio run"
    )
    parser.add_argument("--record", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)
    model = SimulationModel()

    t0 = time.perf_counter()
    report = calibrate(
        n_sims=args.sims, n_per_arm=args.n_per_arm, seed=args.seed, tests=FIXED_HORIZON_TESTS
    )
    ours_s = time.perf_counter() - t0

    rng = np.random.default_rng(args.seed)
    base: dict[str, dict] = {}
    base_s: dict[str, float] = {}
    for name, fn in BASELINES.items():
        t1 = time.perf_counter()
        base[name] = fn(rng, args.sims, args.n_per_arm, model)
        base_s[name] = time.perf_counter() - t1
        print(f"# baseline {name}: {base_s[name]:.1f} s", file=sys.stderr, flush=True)
    baseline_s = sum(base_s.values())

    sums = _sums(np.random.default_rng(args.seed + 1), 2 * args.sims, args.n_per_arm, model)
    t2 = time.perf_counter()
    p_vec = _analyse_vectorised(sums)
    kernels_s = time.perf_counter() - t2
    t3 = time.perf_counter()
    p_loop = _analyse_loop(sums)
    loop_s = time.perf_counter() - t3
    worst = max(float(np.max(np.abs(p_vec[k] - p_loop[k]))) for k in p_vec)

    t4 = time.perf_counter()
    extra = calibrate(
        n_sims=args.sims,
        n_per_arm=args.n_per_arm,
        seed=args.seed + 2,
        tests=("srm", "power", *SEQUENTIAL_TESTS),
    )
    ratio = calibrate(
        n_sims=args.ratio_sims, n_per_arm=args.n_per_arm, seed=args.seed + 3, tests=("ratio",)
    )
    list_s = time.perf_counter() - t4
    list_rows, list_failed = calibration_list(report, extra, ratio)
    list_ok = not list_failed

    rows = []
    for name in FIXED_HORIZON_TESTS:
        fpr = report.get(name, "false_positive_rate")
        cov = report.get(name, "coverage")
        rows.append(
            f"| {name} | {100 * fpr.estimate:.2f} % ± {100 * fpr.mc_standard_error:.2f} | "
            f"{100 * base[name]['fpr']:.2f} % | {100 * cov.estimate:.2f} % | "
            f"{100 * base[name]['coverage']:.2f} % | {base_s[name]:.1f} s |"
        )
    table = "\n".join(
        [
            f"{args.sims:,} simulations × 4 tests (A/A and a planted effect each), "
            f"{args.n_per_arm} users per arm.",
            "",
            "| test | FPR ours (± MC SE) | FPR baseline | coverage ours | coverage baseline "
            "| baseline time |",
            "|---|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"**End to end (simulate + analyse): ours (vectorised) {ours_s:.2f} s; baseline "
            f"(per-simulation loop) {baseline_s:.1f} s; ratio {baseline_s / ours_s:.1f}×; "
            f"target ≤ {TARGET_S:.0f} s: {'met' if ours_s <= TARGET_S else 'NOT met'}.**",
            "",
            f"**Statistics only ({2 * args.sims:,} experiments × 4 tests from their sufficient "
            f"statistics): array kernels {1000 * kernels_s:.1f} ms; one scipy/statsmodels call "
            f"per experiment {loop_s:.2f} s; ratio {loop_s / kernels_s:.0f}×; largest p-value "
            f"difference {worst:.1e}.**",
            "",
            f"The issue's calibration list at full size ({args.sims:,} simulations each; the "
            f"ratio metric again with {args.ratio_sims:,}; {list_s:.0f} s). ± is the "
            "Monte-Carlo standard error √(p(1 − p)/n_sims).",
            "",
            "| test | figure | sims | value (± MC SE) | band | within |",
            "|---|---|---:|---:|---|---|",
            *list_rows,
            "",
            "**Every figure within its band: "
            + ("yes" if list_ok else "no, outside: " + "; ".join(list_failed))
            + ".**"
            + (
                " The ratio metric's coverage at 2,000 simulations is set against its "
                f"{args.ratio_sims:,}-simulation run above (docs/METHODOLOGY.md §5.10)."
                if any(x.startswith("ratio coverage") for x in list_failed)
                else ""
            ),
        ]
    )
    if worst > 1e-9:
        print(f"# p-values of kernels and loop differ by {worst:.2e}", file=sys.stderr)
    print(table)
    print(
        json.dumps(
            {
                "benchmark": "experiments_calibration",
                "sims": args.sims,
                "n_per_arm": args.n_per_arm,
                "ours_s": round(ours_s, 3),
                "baseline_s": round(baseline_s, 3),
                "ratio": round(baseline_s / ours_s, 1),
                "target_met": ours_s <= TARGET_S,
                "kernels_s": round(kernels_s, 4),
                "analysis_loop_s": round(loop_s, 3),
                "analysis_ratio": round(loop_s / kernels_s, 1),
                "max_p_difference": worst,
                "calibration_list_ok": list_ok,
                "ratio_coverage_long_run": ratio.get("ratio", "coverage").estimate,
                "ratio_coverage_long_run_mc_se": ratio.get("ratio", "coverage").mc_standard_error,
            }
        )
    )
    if args.record:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from record import record

        record(
            "experiments",
            "Experiments: vectorised calibration harness vs a per-simulation scipy loop",
            f"python benchmarks/bench_experiments.py --sims {args.sims} "
            f"--n-per-arm {args.n_per_arm} --ratio-sims {args.ratio_sims}",
            table,
            packages=("numpy", "scipy", "statsmodels"),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
