"""Q5 (TPC-H Q10): l_returnflag from a multiclass GBDT (XGBoost standing in for LightGBM); staged."""
import os

import joblib
import numpy as np
import xgboost as xgb

MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "debian", "q5")
N_NUMERIC = 6

_scaler = _enc = _lb = _booster = None


def pyinitial():
    global _scaler, _enc, _lb, _booster
    _scaler = joblib.load(os.path.join(MODEL_DIR, "scaler.pkl"))
    _enc = joblib.load(os.path.join(MODEL_DIR, "encoder.pkl"))
    _lb = joblib.load(os.path.join(MODEL_DIR, "label_binarizer.pkl"))
    _booster = xgb.Booster(model_file=os.path.join(MODEL_DIR, "gbdt.json"))


def pyfun(*cols):
    numeric = np.column_stack([np.asarray(c, dtype=np.float64) for c in cols[:N_NUMERIC]])
    categorical = np.column_stack([np.asarray(c).astype(object) for c in cols[N_NUMERIC:]])
    x = np.hstack([_scaler.transform(numeric), _enc.transform(categorical).toarray()])
    probs = _booster.predict(xgb.DMatrix(x))
    return _lb.classes_[probs.argmax(axis=1)].astype(object)
