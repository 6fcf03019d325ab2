"""Q1 staged: Expedia promotion_flag with the sklearn DecisionTree twin; artifacts loaded once."""
import os

import joblib
import numpy as np
import scipy.sparse as sp

MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "debian", "q1")
N_NUMERIC = 8  # 8 DOUBLE inputs, then 20 categoricals (VARCHAR, INTEGER, BOOLEAN)

scaler = encoder = model = None


def pyinitial():
    global scaler, encoder, model
    scaler = joblib.load(os.path.join(MODEL_DIR, "scaler.pkl"))
    encoder = joblib.load(os.path.join(MODEL_DIR, "encoder.pkl"))
    model = joblib.load(os.path.join(MODEL_DIR, "dt.pkl"))


def pyfun(*cols):
    num = np.column_stack(cols[:N_NUMERIC]).astype(np.float64)
    cat = np.column_stack([c.astype(object) for c in cols[N_NUMERIC:]])
    # Sparse one-hot (the original densified it with .toarray(); the tree predicts the same).
    X = sp.hstack([sp.csr_matrix(scaler.transform(num)), encoder.transform(cat)], format="csr")
    return model.predict(X).astype(np.int32)
