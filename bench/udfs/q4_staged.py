"""Q4 (TPC-H Q5): o_orderpriority from a PyTorch MLP; staged: artifacts loaded once in pyinitial()."""
import os

import joblib
import numpy as np
import torch

MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "q4")
N_NUMERIC = 7


class MyModel(torch.nn.Module):
    """The architecture of train_Q5_pytorch_mlp.py: 56 -> 512 -> 128 -> 5, softmax."""

    def __init__(self, n_features=56):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(n_features, 512), torch.nn.ReLU(),
            torch.nn.Linear(512, 128), torch.nn.ReLU(),
            torch.nn.Linear(128, 5), torch.nn.Softmax(dim=1))

    def forward(self, x):
        return self.net(x)


def load(model_dir=MODEL_DIR):
    scaler = joblib.load(os.path.join(model_dir, "scaler.pkl"))
    enc = joblib.load(os.path.join(model_dir, "encoder.pkl"))
    lb = joblib.load(os.path.join(model_dir, "label_binarizer.pkl"))
    state = torch.load(os.path.join(model_dir, "mlp.pth"))
    model = MyModel(state["net.0.weight"].shape[1])
    model.load_state_dict(state)
    # float64, so that argmax ties cannot depend on the batch size (BLAS kernel choice).
    model = model.double().eval()
    return scaler, enc, lb, model


def predict(scaler, enc, lb, model, cols):
    numeric = np.column_stack([np.asarray(c, dtype=np.float64) for c in cols[:N_NUMERIC]])
    categorical = np.column_stack([np.asarray(c).astype(object) for c in cols[N_NUMERIC:]])
    x = np.hstack([scaler.transform(numeric), enc.transform(categorical).toarray()])
    with torch.no_grad():
        probs = model(torch.from_numpy(x)).numpy()
    return lb.inverse_transform(probs).astype(object)


_ctx = None


def pyinitial():
    global _ctx
    _ctx = load()


def pyfun(*cols):
    return predict(*_ctx, cols)
