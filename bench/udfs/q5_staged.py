"""Q5 (TPC-H Q10): l_returnflag from a LightGBM multiclass classifier (argmax over A/N/R); staged."""
import os

import joblib
import lightgbm as lgb
import numpy as np

MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "q5")
N_NUMERIC = 6

_scaler = _enc = _lb = _booster = None


def pyinitial():
    global _scaler, _enc, _lb, _booster
    _scaler = joblib.load(os.path.join(MODEL_DIR, "scaler.pkl"))
    _enc = joblib.load(os.path.join(MODEL_DIR, "encoder.pkl"))
    _lb = joblib.load(os.path.join(MODEL_DIR, "label_binarizer.pkl"))
    _booster = lgb.Booster(model_file=os.path.join(MODEL_DIR, "lgb_gbdt_model.txt"))


def pyfun(*cols):
    numeric = np.column_stack([np.asarray(c, dtype=np.float64) for c in cols[:N_NUMERIC]])
    categorical = np.column_stack([np.asarray(c).astype(object) for c in cols[N_NUMERIC:]])
    x = np.hstack([_scaler.transform(numeric), _enc.transform(categorical).toarray()])
    # One thread, as IMLane's executors pin BLAS to one (bench/README.md).
    probs = _booster.predict(x, num_threads=1)
    return _lb.classes_[probs.argmax(axis=1)].astype(object)
