"""A tiny model for the C++ example, in IMBridge's staged style.

pyinitial() builds the one-off context (here: weights) once per executor; pyfun() is called once per
batch with one numpy array per input column and returns one value per row for each result column.
"""
import numpy as np


def pyinitial():
    global weights, bias
    weights = np.array([0.5, -0.25, 2.0])
    bias = 1.0


def pyfun(x1, x2, x3):
    score = np.stack([x1, x2, x3], axis=1) @ weights + bias
    return score, (score > 0).astype(np.int32)
