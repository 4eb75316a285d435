"""User segments: clusters of developers by how they use the assistant.

Users are described by behaviour features from the ``user_behaviour`` query (how much they
use the assistant, how often they accept, how long the suggestions they see are, how often
they ask for one), transformed (log for the skewed volume features) and standardised to mean
0 and standard deviation 1. k-means (scikit-learn, ``n_init`` restarts) runs for each k in a
range; the k with the highest mean silhouette is kept (or ``k`` fixed by the caller). Each
cluster is then described in numbers (size, share, median of every raw feature, mean z-score,
the mix of self-reported experience segments) and in words, from the features whose cluster
mean lies at least :data:`NOTABLE_Z` standard deviations from the overall mean
("heavy users who accept often and see long suggestions"). METHODOLOGY.md §6.3.

Users with a missing feature are left out (counted in a note); a constant feature is dropped
with a note; too few users for two clusters gives a result with an ``error`` code.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> a = rng.normal([1.0, 0.2], 0.05, (60, 2)); b = rng.normal([3.0, 0.5], 0.05, (40, 2))
>>> t = pd.DataFrame(np.vstack([a, b]), columns=["active_hours", "acceptance_rate"])
>>> res = find_segments(t, features=("active_hours", "acceptance_rate"))
>>> res.k, sorted(c.users for c in res.clusters)
(2, [40, 60])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "FEATURES",
    "FEATURE_WORDS",
    "LOG_FEATURES",
    "NOTABLE_Z",
    "Cluster",
    "SegmentationResult",
    "find_segments",
]

Progress = Callable[[str, float], None]
F64 = npt.NDArray[np.float64]

#: Default behaviour features (columns of the user_behaviour query).
FEATURES: tuple[str, ...] = (
    "active_hours",
    "shown_per_active_hour",
    "acceptance_rate",
    "mean_shown_chars",
    "invoked_share",
)
#: Skewed volume features, clustered on log(1 + x).
LOG_FEATURES: frozenset[str] = frozenset(
    {
        "active_hours",
        "shown_per_active_hour",
        "mean_shown_chars",
        "accepted_per_active_hour",
        "accepted_chars_per_active_hour",
        "sessions",
        "shown",
        "accepted",
    }
)
#: Words for a cluster mean above (high) or below (low) the overall mean.
FEATURE_WORDS: dict[str, tuple[str, str]] = {
    "active_hours": ("many active hours", "few active hours"),
    "shown_per_active_hour": ("many suggestions per hour", "few suggestions per hour"),
    "acceptance_rate": ("accept often", "accept rarely"),
    "mean_shown_chars": ("see long suggestions", "see short suggestions"),
    "invoked_share": ("ask for suggestions themselves", "rarely ask for suggestions"),
    "unchanged_30s_rate": ("keep accepted code unchanged", "edit accepted code soon"),
    "accepted_per_active_hour": ("accept many per hour", "accept few per hour"),
}
#: A cluster mean at least this far (in standard deviations) from the overall mean is notable.
NOTABLE_Z = 0.5
MIN_USERS = 10


@dataclass(frozen=True)
class Cluster:
    """One segment: who is in it, in numbers and words."""

    label: int
    name: str
    users: int
    share: float
    medians: dict[str, float]
    mean_z: dict[str, float]
    segment_mix: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SegmentationResult:
    """The chosen clustering (largest cluster first), or an ``error`` code and message."""

    k: int = 0
    method: Literal["kmeans"] = "kmeans"
    features: tuple[str, ...] = ()
    clusters: tuple[Cluster, ...] = ()
    silhouette_by_k: dict[int, float] = field(default_factory=dict)
    users: int = 0
    user_ids: tuple[str, ...] = ()
    labels: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()
    error: Literal["too_few_users", "no_features", "missing_columns"] | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def silhouette(self) -> float | None:
        return self.silhouette_by_k.get(self.k)

    def to_dict(self, *, with_labels: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": self.ok,
            "error": self.error,
            "message": self.message,
            "method": self.method,
            "k": self.k,
            "silhouette": self.silhouette,
            "silhouette_by_k": {str(k): v for k, v in self.silhouette_by_k.items()},
            "features": list(self.features),
            "users": self.users,
            "clusters": [c.to_dict() for c in self.clusters],
            "notes": list(self.notes),
        }
        if with_labels:
            out["assignments"] = dict(zip(self.user_ids, self.labels, strict=True))
        return out


def _describe(z_means: dict[str, float]) -> str:
    notable = sorted(
        ((f, v) for f, v in z_means.items() if abs(v) >= NOTABLE_Z), key=lambda fv: -abs(fv[1])
    )
    volume = [v for f, v in z_means.items() if f in ("active_hours", "shown_per_active_hour")]
    mean_volume = float(np.mean(volume)) if volume else 0.0
    who = (
        "heavy users"
        if mean_volume >= NOTABLE_Z
        else "light users"
        if mean_volume <= -NOTABLE_Z
        else "typical users"
    )
    clauses = [
        FEATURE_WORDS.get(f, (f"high {f}", f"low {f}"))[0 if v > 0 else 1]
        for f, v in notable
        if f not in ("active_hours", "shown_per_active_hour") or not volume
    ]
    if not clauses:
        return f"{who}, close to the average on every other feature"
    text = ", ".join(clauses[:-1]) + (" and " if len(clauses) > 1 else "") + clauses[-1]
    return f"{who} who {text}"


def find_segments(
    table: pd.DataFrame,
    *,
    features: Sequence[str] = FEATURES,
    k: int | None = None,
    k_range: tuple[int, int] = (2, 8),
    seed: int = 0,
    n_init: int = 10,
    silhouette_sample: int = 5000,
    progress: Progress | None = None,
) -> SegmentationResult:
    """Cluster users on standardised behaviour features; ``k`` fixed or chosen by silhouette."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    missing = [f for f in features if f not in table.columns]
    if missing:
        return SegmentationResult(
            error="missing_columns",
            message=f"missing feature column(s): {', '.join(missing)}",
        )
    notes: list[str] = []
    raw = table[list(features)].apply(pd.to_numeric, errors="coerce")
    complete = raw.notna().all(axis=1).to_numpy()
    if not complete.all():
        notes.append(
            f"{int((~complete).sum())} users with a missing feature left out "
            f"({', '.join(c for c in features if raw[c].isna().any())})"
        )
    raw = raw.loc[complete]
    ids = (
        table.loc[complete, "user_id"].astype(str).tolist()
        if "user_id" in table.columns
        else [str(i) for i in np.flatnonzero(complete)]
    )
    n = len(raw)
    k_lo, k_hi = (k, k) if k is not None else k_range
    if n < max(MIN_USERS, k_lo + 1):
        return SegmentationResult(
            users=n,
            notes=tuple(notes),
            error="too_few_users",
            message=f"{n} users with every feature; at least {max(MIN_USERS, k_lo + 1)} needed",
        )
    used: list[str] = []
    cols = []
    for f in features:
        x = raw[f].to_numpy(dtype=float)
        if float(np.ptp(x)) == 0.0 or not np.all(np.isfinite(x)):
            notes.append(f"{f} is the same for every user: left out")
            continue
        if f in LOG_FEATURES and np.all(x >= 0):
            x = np.log1p(x)
        sd = float(x.std())
        if sd == 0.0 or not math.isfinite(sd):
            notes.append(f"{f} is the same for every user: left out")
            continue
        used.append(f)
        cols.append((x - x.mean()) / sd)
    if not used:
        return SegmentationResult(
            users=n,
            notes=tuple(notes),
            error="no_features",
            message="every feature is constant over the users",
        )
    x = np.column_stack(cols)
    k_hi = min(k_hi, n - 1)
    sil: dict[int, float] = {}
    fits: dict[int, Any] = {}
    rng_sample = min(silhouette_sample, n)
    for i, kk in enumerate(range(k_lo, k_hi + 1)):
        if progress is not None:
            progress(f"k={kk}", i / max(1, k_hi - k_lo + 1))
        # one thread: per-user data are small, and OpenMP threads on a busy machine cost
        # orders of magnitude more than they save
        with threadpool_limits(limits=1):
            km = KMeans(n_clusters=kk, n_init=n_init, random_state=seed).fit(x)
        if len(set(km.labels_)) < 2:
            continue
        sil[kk] = float(silhouette_score(x, km.labels_, sample_size=rng_sample, random_state=seed))
        fits[kk] = km
    if not sil:
        return SegmentationResult(
            users=n,
            notes=tuple(notes),
            error="too_few_users",
            message="no k gives two distinct clusters",
        )
    best = k if k is not None and k in sil else max(sil, key=lambda kk: sil[kk])
    labels = np.asarray(fits[best].labels_)
    # relabel by size, largest first
    sizes = np.bincount(labels, minlength=best)
    order = np.argsort(-sizes, kind="stable")
    relabel = np.empty(best, dtype=np.int64)
    relabel[order] = np.arange(best)
    labels = relabel[labels]
    seg = table.loc[complete, "segment"].astype(str).to_numpy() if "segment" in table else None
    clusters = []
    for c in range(best):
        members = labels == c
        z_means = {f: float(x[members, j].mean()) for j, f in enumerate(used)}
        medians = {f: float(np.median(raw[f].to_numpy(dtype=float)[members])) for f in features}
        mix: dict[str, float] = {}
        if seg is not None:
            values, counts = np.unique(seg[members], return_counts=True)
            mix = {
                str(v): float(cnt / members.sum()) for v, cnt in zip(values, counts, strict=True)
            }
        clusters.append(
            Cluster(
                label=c,
                name=_describe(z_means),
                users=int(members.sum()),
                share=float(members.mean()),
                medians=medians,
                mean_z=z_means,
                segment_mix=mix,
            )
        )
    if progress is not None:
        progress("done", 1.0)
    return SegmentationResult(
        k=best,
        features=tuple(used),
        clusters=tuple(clusters),
        silhouette_by_k=sil,
        users=n,
        user_ids=tuple(ids),
        labels=tuple(int(v) for v in labels),
        notes=tuple(notes),
    )
