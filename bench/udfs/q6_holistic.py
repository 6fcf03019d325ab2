"""Q6 (TPCx-AI UC03) holistic: every call loads all Holt-Winters models again."""
import os

import joblib
import numpy as np

MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "q6")


def pyinitial():
    pass


def pyfun(store, department):
    model = joblib.load(os.path.join(MODEL_DIR, "uc03.joblib"))
    out = []
    for s, d in zip(store, department):
        f = model["models"][(int(s), str(d))].forecast(52).clip(lower=0)
        values = ";".join(f"{v:.1f}" for v in f.to_numpy())
        out.append(f"{int(s)}|{d}|{f.index[0].date()}|{values}")
    return np.array(out, dtype=object)
