"""Q5 (TPC-H Q10) holistic: every call loads the scaler, encoder, binarizer and booster again."""
import os

import joblib
import numpy as np
import xgboost as xgb

MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "debian", "q5")
N_NUMERIC = 6


def pyinitial():
    pass


def pyfun(*cols):
    scaler = joblib.load(os.path.join(MODEL_DIR, "scaler.pkl"))
    enc = joblib.load(os.path.join(MODEL_DIR, "encoder.pkl"))
    lb = joblib.load(os.path.join(MODEL_DIR, "label_binarizer.pkl"))
    booster = xgb.Booster(model_file=os.path.join(MODEL_DIR, "gbdt.json"))

    numeric = np.column_stack([np.asarray(c, dtype=np.float64) for c in cols[:N_NUMERIC]])
    categorical = np.column_stack([np.asarray(c).astype(object) for c in cols[N_NUMERIC:]])
    x = np.hstack([scaler.transform(numeric), enc.transform(categorical).toarray()])
    probs = booster.predict(xgb.DMatrix(x))
    return lb.classes_[probs.argmax(axis=1)].astype(object)
