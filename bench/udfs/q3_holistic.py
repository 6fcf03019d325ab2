"""Q3 holistic: as q3_staged, but every artifact is loaded on every call."""
import os

import joblib
import numpy as np
import xgboost as xgb

MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "q3")


def pyinitial():
    pass


def pyfun(*cols):
    scaler = joblib.load(os.path.join(MODEL_DIR, "scaler.pkl"))
    booster = xgb.Booster(model_file=os.path.join(MODEL_DIR, "xgb_model.json"))
    booster.set_param({"nthread": 1})
    X = scaler.transform(np.column_stack(cols).astype(np.float64))
    return (booster.predict(xgb.DMatrix(X)) >= 0.5).astype(np.int32)
