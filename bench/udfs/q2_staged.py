"""Q2 staged: Flights codeshare with a sklearn RandomForest; artifacts loaded once."""
import os

import joblib
import numpy as np
import scipy.sparse as sp

MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "q2")
N_NUMERIC = 4  # 4 DOUBLE inputs, then 13 categoricals (VARCHAR, INTEGER)

scaler = encoder = model = None


def pyinitial():
    global scaler, encoder, model
    scaler = joblib.load(os.path.join(MODEL_DIR, "scaler.pkl"))
    encoder = joblib.load(os.path.join(MODEL_DIR, "encoder.pkl"))
    model = joblib.load(os.path.join(MODEL_DIR, "rf.pkl"))


def pyfun(*cols):
    num = np.column_stack(cols[:N_NUMERIC]).astype(np.float64)
    cat = np.column_stack([c.astype(object) for c in cols[N_NUMERIC:]])
    # Sparse one-hot: the original's dense 6,756-column matrix would explode at large batches.
    X = sp.hstack([sp.csr_matrix(scaler.transform(num)), encoder.transform(cat)], format="csr")
    return model.predict(X).astype(np.int32)
