"""The inference-context cache: a holistic UDF (one that loads its model inside the function) runs at
staged speed, unchanged.

While an IMLane function runs (its load, its one-off context, each batch), calls to the known model
loaders are memoised per executor by (loader, resolved path, file size, mtime, inode, the other
arguments). The first call pays the load; later batches, queries and clients get the same object.
A rewritten model file has another size/mtime/inode and is a miss. A loader given an open stream
keys on the stream's path and position when it has a real file behind it; a stream without one
(BytesIO, a socket) and arguments that cannot be keyed (unhashable, bytes) are never cached. Cached
objects are shared: a function must not mutate a model it loaded.

Bounded in bytes (the model files' sizes stand for the objects' sizes), least recently used evicted.
The objects live in the executor process, so they count against its memory limit (RLIMIT_AS).

Loaders are patched where they live (pickle.load, joblib.load, torch.load, keras' load_model, and
the constructors of onnxruntime.InferenceSession, xgboost.Booster, lightgbm.Booster), also in
modules imported after start-up (an import hook), so `from joblib import load` gets the cached one.
"""
import collections
import functools
import importlib.abc
import importlib.util
import io
import os
import sys
import time

# module -> (attribute paths of loader functions, attribute paths of loader classes)
LOADERS = {
    "pickle": (["load"], []),
    "joblib": (["load"], []),
    "joblib.numpy_pickle": (["load"], []),
    "torch": (["load"], []),
    "torch.serialization": (["load"], []),
    "keras.models": (["load_model"], []),
    "keras.saving": (["load_model"], []),
    "onnxruntime": ([], ["InferenceSession"]),
    "onnxruntime.capi.onnxruntime_inference_collection": ([], ["InferenceSession"]),
    "xgboost": ([], ["Booster"]),
    "xgboost.core": ([], ["Booster"]),
    "lightgbm": ([], ["Booster"]),
    "lightgbm.basic": ([], ["Booster"]),
}

DEFAULT_MAX_BYTES = 2 << 30


class _Uncacheable(Exception):
    pass


class FunctionCacheStats:
    __slots__ = ("hits", "misses", "bytes", "saved_s", "load_s")

    def __init__(self):
        self.hits = self.misses = self.bytes = 0
        self.saved_s = self.load_s = 0.0

    def as_dict(self):
        return {"cache_hits": self.hits, "cache_misses": self.misses, "cache_bytes": self.bytes,
                "cache_saved_s": self.saved_s}


class _Entry:
    __slots__ = ("value", "nbytes", "load_s", "owner")

    def __init__(self, value, nbytes, load_s, owner):
        self.value, self.nbytes, self.load_s, self.owner = value, nbytes, load_s, owner


def _file_identity(path):
    st = os.stat(path)
    return (os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def _key_part(value):
    """A hashable stand-in for one loader argument, or _Uncacheable."""
    if value is None or isinstance(value, (bool, int, float, complex)):
        return value
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if isinstance(path, str) and os.path.isfile(path):
            return ("file",) + _file_identity(path)
        return ("str", path)
    if isinstance(value, io.IOBase) or (hasattr(value, "read") and hasattr(value, "seek")):
        name = getattr(value, "name", None)
        if isinstance(name, str) and os.path.isfile(name):
            try:
                return ("stream",) + _file_identity(name) + (value.tell(),)
            except (OSError, ValueError):
                pass
        raise _Uncacheable()
    if isinstance(value, (tuple, frozenset)):
        return (type(value).__name__,) + tuple(_key_part(v) for v in value)
    if isinstance(value, list):
        return ("list",) + tuple(_key_part(v) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple(sorted((k, _key_part(v)) for k, v in value.items()))
    code = getattr(value, "__code__", None)
    if code is not None and not getattr(value, "__closure__", None):
        return ("code", code)  # a map_location function: the same code is the same function
    if isinstance(value, type) or isinstance(value, (type(len), type(str.upper))):
        return ("callable", value)  # a class or a builtin: compared as themselves
    raise _Uncacheable()


def _make_key(loader, args, kwargs):
    """(key, nbytes) or None; needs at least one argument naming a real file."""
    try:
        parts = tuple(_key_part(a) for a in args)
        named = tuple(sorted((k, _key_part(v)) for k, v in kwargs.items()))
    except (_Uncacheable, TypeError, OSError):
        return None
    files = [p for p in parts + tuple(v for _, v in named)
             if isinstance(p, tuple) and p and p[0] in ("file", "stream")]
    if not files:
        return None
    key = (loader, parts, named)
    try:
        hash(key)
    except TypeError:
        return None
    return key, sum(p[2] for p in files)


class ContextCache:
    def __init__(self, max_bytes=DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self._entries = collections.OrderedDict()
        self._cached_ids = set()  # objects handed out: their class's __init__ must not run again
        self._bytes = 0
        self.stats = {}  # function name -> FunctionCacheStats
        self._active = None  # the function running now (the executor runs one at a time)

    # --- the running function ---
    def run(self, function, fn, *args):
        """Calls fn(*args) with `function` (a LoadedFunction) as the active one."""
        previous, self._active = self._active, function
        try:
            return fn(*args)
        finally:
            self._active = previous

    def stats_for(self, name):
        return self.stats.setdefault(name, FunctionCacheStats())

    # --- loader calls ---
    def call(self, loader, original, args, kwargs):
        function = self._active
        if function is None or not getattr(function, "context_cache", True):
            return original(*args, **kwargs)
        keyed = _make_key(loader, args, kwargs)
        if keyed is None:
            return original(*args, **kwargs)
        key, nbytes = keyed
        stats = self.stats_for(function.name)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            stats.hits += 1
            stats.saved_s += entry.load_s
            return entry.value
        start = time.perf_counter()
        value = original(*args, **kwargs)
        load_s = time.perf_counter() - start
        stats.misses += 1
        stats.load_s += load_s
        if nbytes <= self.max_bytes:
            self._entries[key] = _Entry(value, nbytes, load_s, function.name)
            self._cached_ids.add(id(value))
            self._bytes += nbytes
            stats.bytes += nbytes
            self._evict()
        return value

    def is_cached_object(self, obj):
        return id(obj) in self._cached_ids

    def _evict(self):
        while self._bytes > self.max_bytes and self._entries:
            _, entry = self._entries.popitem(last=False)
            self._drop(entry)

    def _drop(self, entry):
        self._bytes -= entry.nbytes
        self._cached_ids.discard(id(entry.value))
        self.stats_for(entry.owner).bytes -= entry.nbytes

    def reset(self, name=None):
        """Empties the cache (or the entries loaded by function `name`); returns how many went."""
        gone = [k for k, e in self._entries.items() if name is None or e.owner == name]
        for k in gone:
            self._drop(self._entries.pop(k))
        return len(gone)

    @property
    def bytes(self):
        return self._bytes

    def __len__(self):
        return len(self._entries)

    # --- patching the loaders ---
    def patch_function(self, module, attr):
        original = getattr(module, attr, None)
        if original is None or getattr(original, "__imlane_cached__", False):
            return
        loader = f"{getattr(original, '__module__', module.__name__)}.{getattr(original, '__qualname__', attr)}"
        cache = self

        @functools.wraps(original)
        def cached_loader(*args, **kwargs):
            return cache.call(loader, original, args, kwargs)

        cached_loader.__imlane_cached__ = True
        setattr(module, attr, cached_loader)

    def patch_class(self, module, attr):
        cls = getattr(module, attr, None)
        if not isinstance(cls, type) or cls.__dict__.get("__imlane_cached__", False):
            return
        original_new, original_init = cls.__new__, cls.__init__
        loader = f"{cls.__module__}.{cls.__qualname__}"
        cache, built = self, set()  # built: ids constructed here, whose __init__ has run

        def blank(klass, args, kwargs):
            return original_new(klass) if original_new is object.__new__ else original_new(klass, *args, **kwargs)

        def construct(*args, **kwargs):
            obj = blank(cls, args, kwargs)
            original_init(obj, *args, **kwargs)
            built.add(id(obj))
            return obj

        def __new__(klass, *args, **kwargs):
            if klass is not cls:  # a user's subclass initialises itself: not cached
                return blank(klass, args, kwargs)
            return cache.call(loader, construct, args, kwargs)

        def __init__(self, *args, **kwargs):
            # Python calls __init__ on what __new__ returned: a fresh object built above, or a cached one.
            if type(self) is cls and (id(self) in built or cache.is_cached_object(self)):
                built.discard(id(self))
                return
            original_init(self, *args, **kwargs)

        try:
            cls.__new__ = staticmethod(__new__)
            cls.__init__ = functools.wraps(original_init)(__init__)
            cls.__imlane_cached__ = True
        except TypeError:  # a C extension type: left alone
            pass

    def patch_module(self, module):
        functions_, classes = LOADERS.get(module.__name__, ((), ()))
        for attr in functions_:
            self.patch_function(module, attr)
        for attr in classes:
            self.patch_class(module, attr)

    def install(self):
        """Patches the loaders already imported and hooks the import of the others."""
        for name in LOADERS:
            if name in sys.modules:
                self.patch_module(sys.modules[name])
        if not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
            sys.meta_path.insert(0, _PatchOnImport(self))


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, inner, cache):
        self._inner, self._cache = inner, cache

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._inner.exec_module(module)
        self._cache.patch_module(module)


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def __init__(self, cache):
        self._cache = cache
        self._busy = set()

    def find_spec(self, name, path, target=None):
        if name not in LOADERS or name in self._busy:
            return None
        self._busy.add(name)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._busy.discard(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _PatchingLoader(spec.loader, self._cache)
        return spec


CACHE = ContextCache()  # the process's one cache: the executor installs it (install_context_cache)
