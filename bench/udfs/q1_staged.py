"""Q1 staged: Expedia promotion_flag from the DecisionTree pipeline in ONNX Runtime (preprocessing
inside the graph, one input per column); the session is built once."""
import os

import numpy as np
import onnxruntime as ort

MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "q1", "expedia_dt_pipeline.onnx")
# ONNX input type -> numpy dtype: DOUBLE -> float32, INTEGER and BOOLEAN -> int64, VARCHAR -> str objects
DTYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(string)": object}

session = label = inputs = None


def pyinitial():
    global session, label, inputs
    options = ort.SessionOptions()
    # One thread per session, as IMLane's executors pin BLAS to one (bench/README.md).
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(MODEL, options, providers=["CPUExecutionProvider"])
    label = session.get_outputs()[0].name
    inputs = [(i.name, DTYPES[i.type]) for i in session.get_inputs()]


def pyfun(*cols):
    feeds = {name: np.asarray(col).astype(dtype).reshape(-1, 1) for (name, dtype), col in zip(inputs, cols)}
    return session.run([label], feeds)[0].astype(np.int32)
