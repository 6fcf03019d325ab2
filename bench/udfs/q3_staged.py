"""Q3 staged: credit-card fraud with an XGBoost GBDT; artifacts loaded once."""
import os

import joblib
import numpy as np
import xgboost as xgb

MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "q3")

scaler = booster = None


def pyinitial():
    global scaler, booster
    scaler = joblib.load(os.path.join(MODEL_DIR, "scaler.pkl"))
    booster = xgb.Booster(model_file=os.path.join(MODEL_DIR, "xgb_model.json"))
    booster.set_param({"nthread": 1})  # one executor per core


def pyfun(*cols):
    X = scaler.transform(np.column_stack(cols).astype(np.float64))
    prob = booster.predict(xgb.DMatrix(X))
    # INTEGER result: the fraud probability thresholded at 0.5 (a plain cast would give ~always 0).
    return (prob >= 0.5).astype(np.int32)
