"""Q7 (TPCx-AI UC04) holistic: every call loads the pipeline again."""
import os

import joblib
import numpy as np
import pandas as pd

MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "q7")


def pyinitial():
    pass


def pyfun(text):
    pipeline = joblib.load(os.path.join(MODEL_DIR, "uc04.joblib"))
    df = pd.DataFrame({"text": text})
    return pipeline.predict(df["text"]).astype(np.int32)
