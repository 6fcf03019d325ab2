"""The demo's AI function, in IMBridge's staged style: the model is loaded once per executor in
pyinitial(); pyfun() is called once per batch with one numpy array per SQL argument."""
import os
import pickle

import numpy as np

MODEL_PATH = os.environ.get(
    "IMLANE_DEMO_MODEL",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "demo", "fraud_model.pkl"))


def pyinitial():
    global model
    with open(MODEL_PATH, "rb") as f:
        model = pickle.load(f)


def pyfun(amount, hour, distance, age):
    return model.predict(np.column_stack([amount, hour, distance, age]))
