"""Q8 (TPCx-AI UC07) holistic: every call loads the SVD model again."""
import os

import joblib
import numpy as np

MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "debian", "q8")


def pyinitial():
    pass


def pyfun(userid, productid):
    m = joblib.load(os.path.join(MODEL_DIR, "uc07.joblib"))
    mu, bu, bi, pu, qi, uids, iids = m["mu"], m["bu"], m["bi"], m["pu"], m["qi"], m["uid"], m["iid"]
    out = np.empty(len(userid), dtype=np.float64)
    for k, (uid, iid) in enumerate(zip(userid, productid)):
        u, i = uids.get(int(uid)), iids.get(int(iid))
        est = mu
        if u is not None:
            est += bu[u]
        if i is not None:
            est += bi[i]
        if u is not None and i is not None:
            est += float(np.dot(qi[i], pu[u]))
        out[k] = min(5.0, max(1.0, est))
    return out
