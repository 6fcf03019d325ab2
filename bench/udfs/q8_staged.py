"""Q8 (TPCx-AI UC07): rating from Surprise's SVD, one model.predict() call per row as the original; staged."""
import os

import joblib
import numpy as np

MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "q8", "uc07_svd.joblib")

_model = None


def pyinitial():
    global _model
    _model = joblib.load(MODEL)


def pyfun(userid, productid):
    # Raw ids are the training frame's Python ints; unknown users or products get Surprise's default.
    return np.array([_model.predict(int(u), int(p)).est for u, p in zip(userid, productid)],
                    dtype=np.float64)
