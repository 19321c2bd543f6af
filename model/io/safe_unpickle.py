"""A restricted unpickler for NVlabs network pickles, PyTorch and TensorFlow: data comes out, no code from the
file runs (spec §6.4-§7).

A pickle is a small stack machine. Its only ways to run code are "look up a global by name and call it"
(GLOBAL, STACK_GLOBAL, INST, OBJ, EXT*), "call an object's __setstate__" (BUILD) and persistent ids. Here
globals come from one table of exact (module, name) pairs mapped to our own functions, BUILD is honoured only
for four types of ours, and persistent ids are refused. Network modules come back as inert `PersistentObject`
records, TensorFlow networks as inert `TFNetwork` records holding their state dict; torch_utils and dnnlib are
never imported, and neither module_src nor a TF network's build_module_src is ever executed.

The pure-Python `pickle._Unpickler` is the base because its opcode table can be narrowed (BUILD, EXT); the
files hold few opcodes and a few large byte strings, so its speed does not matter.
"""

from __future__ import annotations

import collections
import io
import math
import os
import pickle
import stat
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ModelError


@dataclass(frozen=True)
class Limits:
    """Resource bounds for reading one file (spec §7); official 1024² snapshots are about 360 MB."""

    max_file_bytes: int = 2 << 30
    max_tensor_bytes: int = 2 << 30
    max_tensors: int = 100_000
    max_module_src_bytes: int = 4 << 20
    max_depth: int = 16


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class PersistentObject:
    """What `torch_utils.persistence` pickled: a class name, its source text (never run) and the instance state."""

    class_name: str
    module_src: str
    state: dict


class EasyDict(dict):
    """Stands in for `dnnlib.util.EasyDict` (nested keyword arguments): just a dict."""


class TFNetwork:
    """Stands in for `dnnlib.tflib.network.Network`: holds the state dict its BUILD gives (checked in `tf`)."""

    state: dict | None = None


def human_bytes(n: int) -> str:
    """1.5 GiB, 3 MiB, 120 B: for limit messages."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} B"


def read_pickle(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> object:
    """Unpickle a network pickle file under the allow-list; any problem is a one-line ModelError."""
    path = os.fspath(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ModelError(f"not a regular file: {path}")
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > limits.max_file_bytes:
                raise ModelError(f"file too large: {human_bytes(size)} > {human_bytes(limits.max_file_bytes)} limit")
            obj = _unpickle(f, limits)
            if f.read(1):
                raise ModelError("corrupt pickle: trailing bytes after the end of the pickle")
    except FileNotFoundError:
        raise ModelError(f"file not found: {path}") from None
    except OSError as e:
        raise ModelError(f"cannot read {path}: {e.strerror}") from None
    return obj


def _unpickle(f: io.BufferedIOBase, limits: Limits) -> object:
    try:
        return _OuterUnpickler(f, limits).load()
    except ModelError:
        raise
    except EOFError:
        raise ModelError("corrupt pickle: the file is truncated") from None
    except Exception as e:  # anything the pickle machine or our checks trip over is a corrupt file
        raise ModelError(f"corrupt pickle: {_one_line(e)}") from None


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 200 else text[:200] + "..."


def _show(module: str, name: str) -> str:
    text = f"{module}.{name}".encode("unicode_escape").decode("ascii")
    return text if len(text) <= 120 else text[:120] + "..."


def _is_index(x: object) -> bool:
    return type(x) is int and x >= 0


def _is_empty_mapping(x: object) -> bool:
    return isinstance(x, dict) and len(x) == 0


class _OuterUnpickler(pickle._Unpickler):
    """The file's own pickle: globals from `allowed` only, BUILD only on our stand-in types, no persistent ids."""

    def __init__(self, file: io.BufferedIOBase, limits: Limits):
        super().__init__(file)
        self.limits = limits
        self.tensor_count = 0
        self.tensor_bytes = 0
        numpy_reconstruct, numpy_frombuffer = self._numpy_reconstruct, self._numpy_frombuffer
        self.allowed = {
            ("torch_utils.persistence", "_reconstruct_persistent_obj"): self._persistent_obj,
            ("torch._utils", "_rebuild_tensor_v2"): self._rebuild_tensor_v2,
            ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
            ("torch.storage", "_load_from_bytes"): _load_from_bytes,
            ("collections", "OrderedDict"): _ordered_dict,
            ("builtins", "set"): _set,
            ("dnnlib.util", "EasyDict"): EasyDict,
            ("dnnlib.tflib.network", "Network"): TFNetwork,
            ("_codecs", "encode"): _codecs_encode,
            ("numpy", "dtype"): _NumpyDType.create,
            ("numpy", "ndarray"): _NDARRAY,
            ("numpy.core.multiarray", "scalar"): _numpy_scalar,
            ("numpy._core.multiarray", "scalar"): _numpy_scalar,
            ("numpy.core.multiarray", "_reconstruct"): numpy_reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): numpy_reconstruct,
            ("numpy.core.numeric", "_frombuffer"): numpy_frombuffer,
            ("numpy._core.numeric", "_frombuffer"): numpy_frombuffer,
        }

    def find_class(self, module: str, name: str) -> object:
        found = self.allowed.get((module, name))
        if found is None:
            raise ModelError(f"unsafe pickle: global '{_show(module, name)}' is not allowed")
        return found

    def persistent_load(self, pid: object) -> object:
        raise ModelError("unsafe pickle: persistent id in the network pickle")

    def get_extension(self, code: int) -> None:
        raise ModelError("unsafe pickle: extension codes are not allowed")

    def load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        kind = type(inst)
        if kind is _NumpyDType:
            inst.set_state(state)
        elif kind is np.ndarray:
            self._numpy_array_state(inst, state)
        elif kind is EasyDict:
            _merge_easydict_state(inst, state)
        elif kind is TFNetwork and type(state) is dict:
            inst.state = state
        else:
            raise ModelError(f"unsafe pickle: setting the state of {kind.__name__} objects is not allowed")

    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.BUILD[0]] = load_build

    # -- budget ---------------------------------------------------------------------------------------------

    def _count_tensor(self, nbytes: int) -> None:
        self.tensor_count += 1
        self.tensor_bytes += nbytes
        if self.tensor_count > self.limits.max_tensors:
            raise ModelError(f"file too large: more than {self.limits.max_tensors} tensors")
        if self.tensor_bytes > self.limits.max_tensor_bytes:
            raise ModelError(f"file too large: more than {human_bytes(self.limits.max_tensor_bytes)} of tensor data")

    # -- torch_utils.persistence ----------------------------------------------------------------------------

    def _persistent_obj(self, meta: object) -> PersistentObject:
        """Validate the persistence meta (spec §6.2) and keep it as data."""
        if type(meta) is not dict:
            raise ModelError("corrupt pickle: persistent object without a meta dict")
        version = meta.get("version")
        if type(version) is not int or version != 6:
            shown = version if type(version) is int else type(version).__name__
            raise ModelError(f"unsupported pickle: persistence version {shown} (expected 6)")
        if type(meta.get("type")) is not str or meta["type"] != "class":
            raise ModelError("unsupported pickle: persistent object of a type other than 'class'")
        if set(meta) != {"type", "version", "module_src", "class_name", "state"}:
            raise ModelError("corrupt pickle: persistent object meta has unexpected keys")
        class_name, src, state = meta["class_name"], meta["module_src"], meta["state"]
        if type(class_name) is not str or not class_name.isidentifier() or len(class_name) > 100:
            raise ModelError("corrupt pickle: persistent object with a bad class name")
        if type(src) is not str or type(state) is not dict:
            raise ModelError(f"corrupt pickle: persistent object '{class_name}' has a bad module_src or state")
        if len(src) > self.limits.max_module_src_bytes:
            raise ModelError(f"file too large: module_src of '{class_name}' is over "
                             f"{human_bytes(self.limits.max_module_src_bytes)}")
        return PersistentObject(class_name, src, state)

    # -- torch ----------------------------------------------------------------------------------------------

    def _rebuild_tensor_v2(self, storage: object, offset: object, size: object, stride: object,
                           requires_grad: object, backward_hooks: object, metadata: object = None) -> torch.Tensor:
        """A bounds-checked strided view of the storage; no two tensors share memory (copies where needed)."""
        if type(storage) is not _Storage:
            raise ModelError("corrupt pickle: tensor without a storage")
        if type(size) is not tuple or type(stride) is not tuple or len(size) != len(stride):
            raise ModelError("corrupt pickle: bad tensor size or stride")
        if not (_is_index(offset) and all(map(_is_index, size)) and all(map(_is_index, stride))):
            raise ModelError("corrupt pickle: negative or non-integer tensor size, stride or offset")
        if type(requires_grad) is not bool or not _is_empty_mapping(backward_hooks):
            raise ModelError("unsupported pickle: tensor with backward hooks")
        if not (metadata is None or _is_empty_mapping(metadata)):
            raise ModelError("unsupported pickle: tensor with metadata")
        numel = math.prod(size)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) if numel else offset - 1
        if offset > storage.data.numel() or last >= storage.data.numel():
            raise ModelError("corrupt pickle: tensor exceeds its storage")
        self._count_tensor(numel * storage.data.element_size())
        view = torch.as_strided(storage.data, size, stride, offset)
        if not storage.lent and offset == 0 and numel == storage.data.numel() and view.is_contiguous():
            storage.lent = True  # the usual case: one tensor per storage; saves a copy of every weight
            return view
        return view.clone(memory_format=torch.contiguous_format)

    # -- numpy arrays (TensorFlow pickles, StyleGAN3 attributes) -----------------------------------------------

    def _numpy_reconstruct(self, subtype: object, shape: object, dtype_char: object) -> np.ndarray:
        """An empty ndarray that the following BUILD fills (checked in _numpy_array_state)."""
        if subtype is not _NDARRAY:
            raise ModelError("unsafe pickle: numpy array of a subclass")
        if shape != (0,) or dtype_char != b"b":  # what numpy always writes; the BUILD state says the rest
            raise ModelError("corrupt pickle: unexpected numpy array constructor arguments")
        return np.empty((0,), np.uint8)

    def _numpy_array_state(self, array: np.ndarray, state: object) -> None:
        if type(state) is not tuple or len(state) != 5:
            raise ModelError("corrupt pickle: bad numpy array state")
        version, shape, dtype, fortran, raw = state
        if type(version) is not int or type(dtype) is not _NumpyDType or type(fortran) is not bool \
                or type(raw) is not bytes:
            raise ModelError("unsupported pickle: numpy array with a non-numeric dtype or non-byte data")
        dt = dtype.numpy()
        self._check_array(shape, dt, len(raw))
        array.__setstate__((version, shape, dt, fortran, raw))

    def _numpy_frombuffer(self, buf: object, dtype: object, shape: object, order: object,
                          axis_order: object = None) -> np.ndarray:
        """Protocol 5 arrays. An array that is a transposed view is written in memory order ('K'): `shape` is then
        the memory layout's shape and `axis_order` the permutation that gives the array's own (numpy 2)."""
        if type(buf) not in (bytes, bytearray) or type(dtype) is not _NumpyDType or type(order) is not str \
                or order not in ("C", "F", "K"):
            raise ModelError("unsupported pickle: numpy array with a non-numeric dtype or non-byte data")
        dt = dtype.numpy()
        self._check_array(shape, dt, len(buf))
        if order != "K":
            return np.frombuffer(buf, dt).reshape(shape, order=order).copy(order=order)
        if type(axis_order) is not tuple or sorted(axis_order) != list(range(len(shape))) \
                or not all(type(a) is int for a in axis_order):
            raise ModelError("corrupt pickle: bad numpy array axis order")
        return np.frombuffer(buf, dt).reshape(shape).transpose(axis_order).copy()

    def _check_array(self, shape: object, dt: np.dtype, nbytes: int) -> None:
        if type(shape) is not tuple or not all(map(_is_index, shape)):
            raise ModelError("corrupt pickle: bad numpy array shape")
        if math.prod(shape) * dt.itemsize != nbytes:
            raise ModelError("corrupt pickle: numpy array data does not match its shape")
        self._count_tensor(nbytes)


def _rebuild_parameter(data: object, requires_grad: object, backward_hooks: object) -> torch.Tensor:
    """A Parameter is read as its plain tensor; the state-dict walk knows parameters from buffers."""
    if type(data) is not torch.Tensor or type(requires_grad) is not bool:
        raise ModelError("corrupt pickle: bad parameter")
    if not _is_empty_mapping(backward_hooks):
        raise ModelError("unsupported pickle: tensor with backward hooks")
    return data


def _rebuild_parameter_with_state(data: object, requires_grad: object, backward_hooks: object,
                                  state: object) -> torch.Tensor:
    empty = state is None or _is_empty_mapping(state) or (
        type(state) is tuple and all(s is None or _is_empty_mapping(s) for s in state))
    if not empty:
        raise ModelError("unsupported pickle: parameter with extra state")
    return _rebuild_parameter(data, requires_grad, backward_hooks)


def _ordered_dict(*args: object) -> collections.OrderedDict:
    """Items arrive through SETITEMS; constructor arguments would be a different, unexpected encoding."""
    if args:
        raise ModelError("corrupt pickle: OrderedDict with constructor arguments")
    return collections.OrderedDict()


def _set(items: object = ()) -> set:
    if type(items) not in (list, tuple):
        raise ModelError("corrupt pickle: bad set")
    return set(items)


def _codecs_encode(text: object, encoding: object = None) -> bytes:
    """How protocol 2 writes a bytes object: `_codecs.encode(the bytes as latin-1 text, 'latin1')`."""
    if type(text) is not str or type(encoding) is not str or encoding != "latin1":
        raise ModelError("unsupported pickle: _codecs.encode is allowed only to spell bytes as latin-1")
    return text.encode("latin-1")


def _merge_easydict_state(inst: EasyDict, state: object) -> None:
    """Some writers put EasyDict items in a BUILD state dict (or a (dict, slots) pair): merge them."""
    parts = state if type(state) is tuple and len(state) == 2 else (state,)
    for part in parts:
        if part is None:
            continue
        if not isinstance(part, dict):
            raise ModelError("corrupt pickle: bad EasyDict state")
        inst.update(part)


# -- numpy dtypes and scalars --------------------------------------------------------------------------------

NUMPY_CODES = ("b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8")


class _NdarrayMarker:
    """What `numpy.ndarray` resolves to: a token for _reconstruct to check, not a class anyone can call."""


_NDARRAY = _NdarrayMarker()


class _NumpyDType:
    """`numpy.dtype(code)` as pickled, then a BUILD that may only set a little-endian byte order.

    numpy's own dtype state setter is never given data from the file.
    """

    __slots__ = ("code", "byteorder")

    @classmethod
    def create(cls, code: object, align: object = False, copy: object = False) -> _NumpyDType:
        flags_ok = all(type(x) in (bool, int) and x in (0, 1) for x in (align, copy))
        if type(code) is not str or code not in NUMPY_CODES or not flags_ok:
            raise ModelError(f"unsupported pickle: numpy dtype {code!r:.40} (only numeric types are allowed)")
        dt = cls()
        dt.code, dt.byteorder = code, "<"
        return dt

    def set_state(self, state: object) -> None:
        if type(state) is not tuple or len(state) not in (8, 9) or state[0] not in (3, 4):
            raise ModelError("corrupt pickle: bad numpy dtype state")
        if state[1] == ">":
            raise ModelError("unsupported pickle: big-endian numpy data")
        if state[1] not in ("<", "|", "=") or state[2:5] != (None, None, None):
            raise ModelError("unsupported pickle: numpy dtype with fields or sub-arrays")

    def numpy(self) -> np.dtype:
        return np.dtype(self.byteorder + self.code)


def _numpy_scalar(dtype: object, raw: object = None) -> np.generic:
    """A numpy scalar (e.g. the float64 act_gain attributes) from its raw little-endian bytes."""
    if type(dtype) is not _NumpyDType or type(raw) is not bytes or len(raw) != dtype.numpy().itemsize:
        raise ModelError("unsupported pickle: bad numpy scalar")
    return np.frombuffer(raw, dtype.numpy())[0]


# -- storage blobs (spec §6.5) -------------------------------------------------------------------------------

STORAGE_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES = {
    ("torch", "FloatStorage"): torch.float32,
    ("torch", "HalfStorage"): torch.float16,
    ("torch", "DoubleStorage"): torch.float64,
    ("torch", "BFloat16Storage"): torch.bfloat16,
    ("torch", "LongStorage"): torch.int64,
    ("torch", "IntStorage"): torch.int32,
    ("torch", "ShortStorage"): torch.int16,
    ("torch", "CharStorage"): torch.int8,
    ("torch", "ByteStorage"): torch.uint8,
    ("torch", "BoolStorage"): torch.bool,
}


@dataclass
class _Storage:
    """A decoded storage: its elements as a flat tensor, lent without a copy to at most one whole-storage tensor."""

    data: torch.Tensor
    lent: bool = False


@dataclass(frozen=True)
class _StorageRef:
    dtype: torch.dtype
    key: str
    numel: int


class _BlobUnpickler(pickle._Unpickler):
    """One pickled part of a storage blob: only the storage type names, one persistent id, no BUILD."""

    def find_class(self, module: str, name: str) -> object:
        found = STORAGE_DTYPES.get((module, name))
        if found is None:
            raise ModelError(f"unsafe pickle: global '{_show(module, name)}' is not allowed in a storage blob")
        return found

    def persistent_load(self, pid: object) -> _StorageRef:
        if type(pid) is not tuple or len(pid) != 6 or type(pid[0]) is not str or pid[0] != "storage":
            raise ModelError("corrupt pickle: bad storage reference in a storage blob")
        _, dtype, key, location, numel, view = pid
        if type(dtype) is not torch.dtype or type(key) is not str or type(location) is not str \
                or not _is_index(numel):
            raise ModelError("corrupt pickle: bad storage reference in a storage blob")
        if view is not None:
            raise ModelError("unsupported pickle: storage view in a storage blob")
        return _StorageRef(dtype, key, numel)

    def get_extension(self, code: int) -> None:
        raise ModelError("unsafe pickle: extension codes are not allowed")

    def load_build(self) -> None:
        raise ModelError("unsafe pickle: BUILD in a storage blob")

    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.BUILD[0]] = load_build


def _load_from_bytes(blob: object) -> _Storage:
    """Replaces torch.storage._load_from_bytes (which runs a full torch.load) with a strict parser."""
    if type(blob) is not bytes:
        raise ModelError("corrupt pickle: storage blob is not bytes")
    f = io.BytesIO(blob)
    try:
        magic, version, sys_info, ref, keys = (_BlobUnpickler(f).load() for _ in range(5))
    except ModelError:
        raise
    except EOFError:
        raise ModelError("corrupt pickle: storage blob is truncated") from None
    except Exception as e:
        raise ModelError(f"corrupt pickle: bad storage blob ({_one_line(e)})") from None
    if type(magic) is not int or magic != STORAGE_MAGIC or type(version) is not int or version != 1001:
        raise ModelError("corrupt pickle: storage blob has a bad magic number or version")
    if type(sys_info) is not dict or sys_info.get("little_endian") is not True:
        raise ModelError("unsupported pickle: big-endian storage data")
    if type(ref) is not _StorageRef or type(keys) is not list or keys != [ref.key]:
        raise ModelError("corrupt pickle: storage blob does not hold exactly one storage")
    head = f.read(8)
    if len(head) != 8:
        raise ModelError("corrupt pickle: storage blob is truncated")
    count = int.from_bytes(head, "little", signed=True)
    if count != ref.numel:
        raise ModelError(f"corrupt pickle: storage blob holds {count} elements, expected {ref.numel}")
    data = bytearray(ref.numel * ref.dtype.itemsize)
    if f.readinto(data) != len(data):
        raise ModelError("corrupt pickle: storage blob is truncated")
    if f.read(1):
        raise ModelError("corrupt pickle: trailing bytes in a storage blob")
    return _Storage(torch.frombuffer(data, dtype=ref.dtype) if data else torch.empty(0, dtype=ref.dtype))
