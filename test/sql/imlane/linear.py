# lin(a, b) = 2a + b; a NULL argument (NaN here) gives NULL.
def pyfun(a, b):
    r = a * 2 + b
    return [None if v != v else v for v in r.tolist()]
