"""Q1 holistic: as q1_staged, but the ONNX Runtime session is built on every call.

No SessionOptions: an options object is not a key the context cache can compare, so it would make
every call a miss; ONNX Runtime's default thread pool is used instead (bench/README.md)."""
import os

import numpy as np
import onnxruntime as ort

MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "q1", "expedia_dt_pipeline.onnx")
DTYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(string)": object}


def pyinitial():
    pass


def pyfun(*cols):
    session = ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
    label = session.get_outputs()[0].name
    feeds = {i.name: np.asarray(col).astype(DTYPES[i.type]).reshape(-1, 1)
             for i, col in zip(session.get_inputs(), cols)}
    return session.run([label], feeds)[0].astype(np.int32)
