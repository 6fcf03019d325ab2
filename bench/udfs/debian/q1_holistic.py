"""Q1 holistic: as q1_staged, but every artifact is loaded on every call."""
import os

import joblib
import numpy as np
import scipy.sparse as sp

MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "debian", "q1")
N_NUMERIC = 8


def pyinitial():
    pass


def pyfun(*cols):
    scaler = joblib.load(os.path.join(MODEL_DIR, "scaler.pkl"))
    encoder = joblib.load(os.path.join(MODEL_DIR, "encoder.pkl"))
    model = joblib.load(os.path.join(MODEL_DIR, "dt.pkl"))
    num = np.column_stack(cols[:N_NUMERIC]).astype(np.float64)
    cat = np.column_stack([c.astype(object) for c in cols[N_NUMERIC:]])
    X = sp.hstack([sp.csr_matrix(scaler.transform(num)), encoder.transform(cat)], format="csr")
    return model.predict(X).astype(np.int32)
