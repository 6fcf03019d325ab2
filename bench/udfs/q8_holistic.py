"""Q8 (TPCx-AI UC07) holistic: every call loads Surprise's SVD model again."""
import os

import joblib
import numpy as np

MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "q8", "uc07_svd.joblib")


def pyinitial():
    pass


def pyfun(userid, productid):
    model = joblib.load(MODEL)
    return np.array([model.predict(int(u), int(p)).est for u, p in zip(userid, productid)],
                    dtype=np.float64)
