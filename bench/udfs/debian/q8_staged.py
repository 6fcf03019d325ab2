"""Q8 (TPCx-AI UC07): rating from a biased SVD, one predict() call per row as with Surprise; staged."""
import os

import joblib
import numpy as np

MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "debian", "q8")


class SVDModel:
    """Surprise SVD's estimate: mu + b_u + b_i + q_i.p_u, unknown parts left out, clipped to 1-5."""

    def __init__(self, params):
        self.__dict__.update(params)

    def predict(self, uid, iid):
        u = self.uid.get(uid)
        i = self.iid.get(iid)
        est = self.mu
        if u is not None:
            est += self.bu[u]
        if i is not None:
            est += self.bi[i]
        if u is not None and i is not None:
            est += float(np.dot(self.qi[i], self.pu[u]))
        return min(5.0, max(1.0, est))


_model = None


def pyinitial():
    global _model
    _model = SVDModel(joblib.load(os.path.join(MODEL_DIR, "uc07.joblib")))


def pyfun(userid, productid):
    return np.array([_model.predict(int(u), int(p)) for u, p in zip(userid, productid)],
                    dtype=np.float64)
