"""Q6 (TPCx-AI UC03): 52-week Holt-Winters sales forecast per (store, department); staged."""
import os

import joblib
import numpy as np

MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "q6")

_model = None


def forecast(model, store, department):
    """'store|department|first week|52 forecasts', as UC03 serving: forecast(52) clipped at 0."""
    res = model["models"][(int(store), str(department))]
    f = res.forecast(52).clip(lower=0)
    values = ";".join(f"{v:.1f}" for v in f.to_numpy())
    return f"{int(store)}|{department}|{f.index[0].date()}|{values}"


def pyinitial():
    global _model
    _model = joblib.load(os.path.join(MODEL_DIR, "uc03.joblib"))


def pyfun(store, department):
    return np.array([forecast(_model, s, d) for s, d in zip(store, department)], dtype=object)
