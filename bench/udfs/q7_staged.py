"""Q7 (TPCx-AI UC04): spam label from a TF-IDF + MultinomialNB pipeline; staged."""
import os

import joblib
import numpy as np
import pandas as pd

MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "q7")

_pipeline = None


def pyinitial():
    global _pipeline
    _pipeline = joblib.load(os.path.join(MODEL_DIR, "uc04.joblib"))


def pyfun(text):
    df = pd.DataFrame({"text": text})
    return _pipeline.predict(df["text"]).astype(np.int32)
