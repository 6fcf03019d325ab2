"""Q4 (TPC-H Q5) holistic: every call loads the scaler, encoder, binarizer and MLP again."""
import os

import joblib
import numpy as np
import torch

MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "q4")
N_NUMERIC = 7


class MyModel(torch.nn.Module):
    """Same as q4_staged.MyModel (each UDF file is self-contained)."""

    def __init__(self, n_features=56):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(n_features, 512), torch.nn.ReLU(),
            torch.nn.Linear(512, 128), torch.nn.ReLU(),
            torch.nn.Linear(128, 5), torch.nn.Softmax(dim=1))

    def forward(self, x):
        return self.net(x)


def pyinitial():
    pass


def pyfun(*cols):
    scaler = joblib.load(os.path.join(MODEL_DIR, "scaler.pkl"))
    enc = joblib.load(os.path.join(MODEL_DIR, "encoder.pkl"))
    lb = joblib.load(os.path.join(MODEL_DIR, "label_binarizer.pkl"))
    state = torch.load(os.path.join(MODEL_DIR, "mlp.pth"))
    model = MyModel(state["net.0.weight"].shape[1])
    model.load_state_dict(state)
    model = model.double().eval()

    numeric = np.column_stack([np.asarray(c, dtype=np.float64) for c in cols[:N_NUMERIC]])
    categorical = np.column_stack([np.asarray(c).astype(object) for c in cols[N_NUMERIC:]])
    x = np.hstack([scaler.transform(numeric), enc.transform(categorical).toarray()])
    with torch.no_grad():
        probs = model(torch.from_numpy(x)).numpy()
    return lb.inverse_transform(probs).astype(object)
