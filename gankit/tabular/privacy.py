"""Privacy of a synthetic table: are synthetic rows closer to real rows than fresh real rows are (near-copies),
or copies of them?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from gankit.tabular.frames import MISSING, fit_encoder, sample

# Fresh rows fall below the held-out rows' 5th percentile 5% of the time by definition; twice that is more
# closeness than chance gives, and the report says so in words.
NEAR_COPY_WARNING = 2 * 0.05

# ---- 5. privacy ------------------------------------------------------------------------------------------

def privacy(r, s, t, kinds, seed: int, max_rows: int) -> dict:
    """Distances to the closest real row (DCR) in the encoding fitted on real: of synthetic rows, and of
    held-out real rows (real_test, or else each real row against the other real rows), which show what
    fresh rows of the same distribution give. Exact copies compare whole rows as strings."""
    reference = sample(r, max_rows, seed)
    encode = fit_encoder(reference, kinds)
    neighbours = NearestNeighbors(n_neighbors=1).fit(encode(reference))
    synthetic_dcr = neighbours.kneighbors(encode(sample(s, max_rows, seed + 1)))[0][:, 0]
    if t is not None:
        holdout_dcr = neighbours.kneighbors(encode(sample(t, max_rows, seed + 2)))[0][:, 0]
    else:  # kneighbors() without rows leaves each fitted row out of its own neighbours
        holdout_dcr = neighbours.kneighbors()[0][:, 0]
    p5 = float(np.percentile(holdout_dcr, 5))
    share = float(np.mean(synthetic_dcr < p5))
    copies, holdout_copies = _exact_copies(r, s, t)
    return {
        "holdout": "real_test" if t is not None else "real rows, each left out in turn",
        "dcr_synthetic": {"p5": float(np.percentile(synthetic_dcr, 5)), "median": float(np.median(synthetic_dcr))},
        "dcr_holdout": {"p5": p5, "median": float(np.median(holdout_dcr))},
        "share_closer_than_holdout_p5": share, "near_copy_warning": share > NEAR_COPY_WARNING,
        "exact_copies": copies, "exact_copies_share": copies / len(s),
        "holdout_exact_copies": holdout_copies,
        "holdout_exact_copies_share": holdout_copies / (len(t) if t is not None else len(r)),
    }


def _exact_copies(r, s, t) -> tuple[int, int]:
    """Synthetic rows equal to some real row; and what chance gives: real_test rows equal to some real row,
    or without real_test, real rows equal to another real row."""
    real_keys = _row_keys(r)
    copies = int(np.isin(_row_keys(s), real_keys).sum())
    if t is not None:
        return copies, int(np.isin(_row_keys(t), real_keys).sum())
    return copies, int(pd.Series(real_keys).duplicated(keep=False).sum())


def _row_keys(frame: pd.DataFrame) -> np.ndarray:
    # One 64-bit hash per row of its values as strings (NaN as MISSING, so NaN equals NaN).
    text = frame.astype(str).fillna(MISSING)
    return pd.util.hash_pandas_object(text, index=False).to_numpy()
