# label(s): 'L:' || s; NULL stays NULL.
def pyfun(s):
    return [None if v is None else "L:" + v for v in s]
