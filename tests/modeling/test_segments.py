"""User segments: known clusters are recovered; descriptions; degenerate input."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from codex_ds.modeling import segments as S


def _population(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Three planted kinds of users in the user_behaviour columns."""
    rng = np.random.default_rng(seed)
    kinds = [  # (users, active_hours, shown/h, acceptance, mean chars, invoked share)
        (150, 30.0, 60.0, 0.40, 150.0, 0.50),  # heavy users who accept long suggestions
        (250, 6.0, 40.0, 0.30, 60.0, 0.15),  # typical
        (100, 1.5, 15.0, 0.12, 40.0, 0.05),  # light users who accept rarely
    ]
    frames, truth = [], []
    for label, (n, hours, rate, acc, chars, inv) in enumerate(kinds):
        frames.append(
            pd.DataFrame(
                {
                    "user_id": [f"k{label}u{i}" for i in range(n)],
                    "segment": rng.choice(["beginner", "expert"], n),
                    "active_hours": hours * rng.lognormal(0, 0.15, n),
                    "shown_per_active_hour": rate * rng.lognormal(0, 0.15, n),
                    "acceptance_rate": np.clip(acc + rng.normal(0, 0.03, n), 0, 1),
                    "mean_shown_chars": chars * rng.lognormal(0, 0.15, n),
                    "invoked_share": np.clip(inv + rng.normal(0, 0.04, n), 0, 1),
                }
            )
        )
        truth += [label] * n
    return pd.concat(frames, ignore_index=True), np.array(truth)


def test_known_clusters_are_recovered() -> None:
    table, truth = _population()
    res = S.find_segments(table)
    assert res.ok and res.k == 3
    assert adjusted_rand_score(truth, res.labels) > 0.95
    assert res.silhouette == max(res.silhouette_by_k.values())
    assert [c.users for c in res.clusters] == sorted((c.users for c in res.clusters), reverse=True)
    names = {c.users: c.name for c in res.clusters}
    heavy = next(c for c in res.clusters if c.medians["active_hours"] > 20)
    light = next(c for c in res.clusters if c.medians["active_hours"] < 3)
    assert heavy.name.startswith("heavy users who") and "accept often" in heavy.name
    assert "see long suggestions" in heavy.name
    assert light.name.startswith("light users who") and "accept rarely" in light.name
    assert sum(c.users for c in res.clusters) == 500 and len(names) == 3
    assert abs(sum(c.share for c in res.clusters) - 1) < 1e-12
    assert set(heavy.segment_mix) == {"beginner", "expert"}
    assert res.to_dict(with_labels=True)["assignments"]["k0u0"] in range(3)


def test_fixed_k_and_reproducibility() -> None:
    table, _ = _population(1)
    a = S.find_segments(table, k=2, seed=3)
    b = S.find_segments(table, k=2, seed=3)
    assert a.k == 2 and a.labels == b.labels and list(a.silhouette_by_k) == [2]


def test_degenerate_input() -> None:
    table, _ = _population(2)
    few = S.find_segments(table.iloc[:6])
    assert few.error == "too_few_users" and "6 users" in few.message
    flat = table.assign(invoked_share=0.2)
    res = S.find_segments(flat)
    assert res.ok and "invoked_share is the same for every user: left out" in res.notes
    assert "invoked_share" not in res.features
    holes = table.copy()
    holes.loc[:9, "acceptance_rate"] = np.nan
    res = S.find_segments(holes)
    assert res.users == 490 and res.notes[0].startswith("10 users with a missing feature")
    assert S.find_segments(table, features=("nope",)).error == "missing_columns"
    const = table.assign(**{f: 1.0 for f in S.FEATURES})
    assert S.find_segments(const).error == "no_features"


def test_segments_of_the_simulated_warehouse(simulated) -> None:
    from codex_ds.modeling.productivity import load_user_behaviour

    res = S.find_segments(load_user_behaviour(simulated.con), k_range=(2, 4))
    assert res.ok and 2 <= res.k <= 4
    assert sum(c.users for c in res.clusters) == res.users
    for c in res.clusters:
        assert c.name and set(c.medians) == set(S.FEATURES)
