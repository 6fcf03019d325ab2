# IMBridge's staged style: pyinitial() once per executor, pyfun(*columns) per batch.
# plus_offset(x) = x + 100.
def pyinitial():
    global offset
    offset = 100


def pyfun(*args):
    return args[0] + offset
