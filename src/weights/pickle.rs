//! A pickle reader that never executes code: it understands the opcodes PyTorch checkpoints
//! use and builds plain values. Callables named by `GLOBAL` are only accepted from a short
//! allow-list (tensor rebuilding, storages, ordered dicts, argument namespaces); any other
//! global makes the whole file fail with [`PickleError::Forbidden`].
//!
//! NVIDIA network pickles (stylegan2-ada-pytorch) hold their modules as persistent objects
//! whose class source code travels inside the file: they become [`Value::Object`] (class
//! name and state dict); the source is dropped, never run. Their tensors' storages are
//! `torch.storage._load_from_bytes` blobs, each a legacy `torch.save` stream of one storage,
//! read here into [`StorageRef::inline`].

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

/// Element type of a PyTorch storage class (`torch.FloatStorage` …).
pub use super::DType as StorageDType;

/// A reference to a storage, as produced by a checkpoint's persistent ids.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageRef {
    pub dtype: StorageDType,
    pub key: String,
    /// Legacy-format views: (offset in elements into the root storage).
    pub view_offset: usize,
    /// The storage's bytes when the pickle carries them itself (`_load_from_bytes` blobs).
    pub inline: Option<SharedBytes>,
}

/// Bytes of a file held once and shared: a pickle's bytes values and the storages inside
/// them are views of the file's buffer, never copies.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedBytes {
    buf: Arc<[u8]>,
    start: usize,
    end: usize,
}

impl SharedBytes {
    pub fn as_slice(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
    /// Identifies the bytes (two tensors may share one storage).
    pub fn id(&self) -> (*const u8, usize) {
        (self.buf.as_ptr(), self.start)
    }
    /// The view of `range` (relative to this one); `None` past its end.
    fn slice(&self, range: std::ops::Range<usize>) -> Option<SharedBytes> {
        let (start, end) = (
            self.start.checked_add(range.start)?,
            self.start.checked_add(range.end)?,
        );
        (range.start <= range.end && end <= self.end).then(|| SharedBytes {
            buf: self.buf.clone(),
            start,
            end,
        })
    }
}

impl From<Vec<u8>> for SharedBytes {
    fn from(v: Vec<u8>) -> Self {
        let end = v.len();
        SharedBytes {
            buf: v.into(),
            start: 0,
            end,
        }
    }
}

impl std::ops::Deref for SharedBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

/// A tensor as described by `torch._utils._rebuild_tensor_v2`.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    pub storage: StorageRef,
    pub offset: usize,
    pub shape: Vec<usize>,
    pub stride: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer too wide for i64 (little-endian two's complement bytes).
    BigInt(Vec<u8>),
    Float(f64),
    Str(String),
    /// A view of the file's buffer: memo copies of large blobs cost nothing.
    Bytes(SharedBytes),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(Global),
    Storage(StorageRef),
    Tensor(TensorRef),
    /// An allowed object whose contents we do not need (e.g. `argparse.Namespace`).
    Opaque(String),
    /// A persistent-class object of an NVIDIA network pickle (a `torch.nn.Module`): its class
    /// name and its `__dict__` (`_parameters`, `_buffers`, `_modules`, attributes).
    Object {
        class: String,
        state: Box<Value>,
    },
    Mark,
}

/// The callables a checkpoint may name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Global {
    RebuildTensor,
    RebuildParameter,
    OrderedDict,
    Storage(StorageDType),
    Namespace,
    Device,
    /// `torch_utils.persistence._reconstruct_persistent_obj(meta)`.
    PersistentObject,
    /// `torch.storage._load_from_bytes(blob)`.
    StorageFromBytes,
    /// `numpy.core.multiarray.scalar(dtype, bytes)`.
    NumpyScalar,
    /// `numpy.dtype(code, …)`.
    NumpyDtype,
    /// `dnnlib.util.EasyDict` (a dict).
    EasyDict,
    /// `builtins.set(items)` (kept as a list).
    Set,
    /// `_codecs.encode(text, 'latin1')`: how protocol 2 stores bytes.
    CodecsEncode,
    /// `numpy.core.multiarray._reconstruct(numpy.ndarray, …)`: a numpy array attribute,
    /// kept opaque (no tensor we load is one).
    NumpyArray,
    /// `numpy.ndarray`, only as `_reconstruct`'s argument.
    NumpyArrayType,
}

fn resolve_global(module: &str, name: &str) -> Option<Global> {
    use StorageDType as D;
    Some(match (module, name) {
        ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => Global::RebuildTensor,
        ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state")
        | ("torch.nn.parameter", "Parameter") => Global::RebuildParameter,
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("argparse", "Namespace") => Global::Namespace,
        ("torch", "device") => Global::Device,
        ("torch_utils.persistence", "_reconstruct_persistent_obj") => Global::PersistentObject,
        ("torch.storage", "_load_from_bytes") => Global::StorageFromBytes,
        ("numpy.core.multiarray" | "numpy._core.multiarray", "scalar") => Global::NumpyScalar,
        ("numpy", "dtype") => Global::NumpyDtype,
        ("numpy.core.multiarray" | "numpy._core.multiarray", "_reconstruct") => Global::NumpyArray,
        ("numpy", "ndarray") => Global::NumpyArrayType,
        ("dnnlib.util", "EasyDict") => Global::EasyDict,
        ("builtins" | "__builtin__", "set") => Global::Set,
        ("_codecs", "encode") => Global::CodecsEncode,
        ("torch", storage) => Global::Storage(match storage {
            "FloatStorage" | "float32" => D::F32,
            "DoubleStorage" | "float64" => D::F64,
            "HalfStorage" | "float16" => D::F16,
            "BFloat16Storage" | "bfloat16" => D::BF16,
            "LongStorage" | "int64" => D::I64,
            "IntStorage" | "int32" => D::I32,
            "ShortStorage" | "int16" => D::I16,
            "CharStorage" | "int8" => D::I8,
            "ByteStorage" | "uint8" => D::U8,
            "BoolStorage" | "bool" => D::Bool,
            _ => return None,
        }),
        _ => return None,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum PickleError {
    #[error("unexpected end of data")]
    Eof,
    #[error("unsupported pickle opcode 0x{0:02x} at byte {1}")]
    Opcode(u8, usize),
    #[error(
        "needs `{0}`, which is not a tensor or a plain container (pickle code is never executed)"
    )]
    Forbidden(String),
    #[error("malformed pickle: {0}")]
    Malformed(String),
    #[error("{0}")]
    Limit(String),
}

/// How persistent ids turn into storages; the zip and legacy layouts differ slightly.
pub trait PersistentLoad {
    fn load(&mut self, pid: Value) -> Result<Value, PickleError>;
}

/// Parses `pid` tuples of the form ('storage', <storage global>, key, location, numel[, view]).
pub fn storage_from_pid(pid: Value) -> Result<(StorageRef, Option<(String, usize)>), PickleError> {
    let Value::Tuple(items) = pid else {
        return Err(PickleError::Malformed(
            "persistent id is not a tuple".into(),
        ));
    };
    match items.as_slice() {
        [
            Value::Str(tag),
            ty,
            Value::Str(key),
            _location,
            _numel,
            rest @ ..,
        ] if tag == "storage" => {
            let dtype = match ty {
                Value::Global(Global::Storage(d)) => *d,
                other => {
                    return Err(PickleError::Malformed(format!(
                        "storage type {}",
                        brief(other)
                    )));
                }
            };
            // Legacy views: (view_key, offset, view_size).
            let view = match rest.first() {
                Some(Value::Tuple(v)) => match v.as_slice() {
                    [Value::Str(vk), Value::Int(off), ..] => {
                        Some((vk.clone(), non_negative(*off)?))
                    }
                    _ => None,
                },
                _ => None,
            };
            Ok((
                StorageRef {
                    dtype,
                    key: key.clone(),
                    view_offset: 0,
                    inline: None,
                },
                view,
            ))
        }
        [Value::Str(tag), ..] if tag == "module" => Err(PickleError::Forbidden(
            "a pickled nn.Module (save a state_dict instead)".into(),
        )),
        _ => Err(PickleError::Malformed(format!(
            "persistent id {}",
            brief(&Value::Tuple(items))
        ))),
    }
}

struct Reader<'a> {
    data: &'a [u8],
    shared: &'a SharedBytes,
    pos: usize,
}

impl<'a> Reader<'a> {
    /// `n` bytes as a view of the shared buffer (bytes values: no copy).
    fn take_shared(&mut self, n: usize) -> Result<SharedBytes, PickleError> {
        let end = self.pos.checked_add(n).ok_or(PickleError::Eof)?;
        let s = self.shared.slice(self.pos..end).ok_or(PickleError::Eof)?;
        self.pos = end;
        Ok(s)
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self.pos.checked_add(n).ok_or(PickleError::Eof)?;
        let s = self.data.get(self.pos..end).ok_or(PickleError::Eof)?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, PickleError> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self) -> Result<u32, PickleError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, PickleError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(PickleError::Eof)?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }
    fn string(&mut self, n: usize) -> Result<String, PickleError> {
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| PickleError::Malformed("invalid UTF-8 string".into()))
    }
}

/// An offset or size from the file, refused when negative.
fn non_negative(n: i64) -> Result<usize, PickleError> {
    usize::try_from(n).map_err(|_| PickleError::Malformed(format!("negative offset or size {n}")))
}

fn int_from_le(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Int(0);
    }
    if bytes.len() > 8 {
        return Value::BigInt(bytes.to_vec());
    }
    let negative = bytes[bytes.len() - 1] & 0x80 != 0;
    let mut buf = [if negative { 0xff } else { 0 }; 8];
    buf[..bytes.len()].copy_from_slice(bytes);
    Value::Int(i64::from_le_bytes(buf))
}

fn as_usize_list(v: &Value) -> Result<Vec<usize>, PickleError> {
    match v {
        Value::Tuple(items) | Value::List(items) => items
            .iter()
            .map(|i| match i {
                Value::Int(n) if *n >= 0 => Ok(*n as usize),
                other => Err(PickleError::Malformed(format!(
                    "expected a size, got {}",
                    brief(other)
                ))),
            })
            .collect(),
        other => Err(PickleError::Malformed(format!(
            "expected a tuple of sizes, got {}",
            brief(other)
        ))),
    }
}

fn call(global: Global, args: Value) -> Result<Value, PickleError> {
    let args = match args {
        Value::Tuple(a) => a,
        other => {
            return Err(PickleError::Malformed(format!(
                "call arguments {}",
                brief(&other)
            )));
        }
    };
    match global {
        Global::RebuildTensor => match args.as_slice() {
            [Value::Storage(s), Value::Int(offset), size, stride, ..] => {
                Ok(Value::Tensor(TensorRef {
                    storage: s.clone(),
                    offset: non_negative(*offset)?
                        .checked_add(s.view_offset)
                        .ok_or_else(|| PickleError::Malformed("tensor offset overflows".into()))?,
                    shape: as_usize_list(size)?,
                    stride: as_usize_list(stride)?,
                }))
            }
            _ => Err(PickleError::Malformed(format!(
                "_rebuild_tensor arguments {}",
                brief(&Value::Tuple(args))
            ))),
        },
        Global::RebuildParameter => match args.into_iter().next() {
            Some(t @ Value::Tensor(_)) => Ok(t),
            other => Err(PickleError::Malformed(format!(
                "parameter of {}",
                other.as_ref().map_or("nothing".into(), brief)
            ))),
        },
        Global::OrderedDict => {
            let mut items = Vec::new();
            if let Some(Value::List(pairs) | Value::Tuple(pairs)) = args.into_iter().next() {
                for p in pairs {
                    if let Value::Tuple(kv) | Value::List(kv) = p
                        && let [k, v] = <[Value; 2]>::try_from(kv).map_err(|_| {
                            PickleError::Malformed("OrderedDict item is not a pair".into())
                        })?
                    {
                        items.push((k, v));
                    }
                }
            }
            Ok(Value::Dict(items))
        }
        Global::Namespace => Ok(Value::Opaque("argparse.Namespace".into())),
        Global::Device => Ok(match args.into_iter().next() {
            Some(Value::Str(s)) => Value::Str(s),
            _ => Value::Str("device".into()),
        }),
        Global::Storage(_) => Err(PickleError::Forbidden("calling a storage class".into())),
        Global::PersistentObject => persistent_object(args),
        Global::StorageFromBytes => match args.as_slice() {
            [Value::Bytes(blob)] => storage_from_blob(blob).map(Value::Storage),
            _ => Err(PickleError::Malformed(
                "_load_from_bytes takes one bytes value".into(),
            )),
        },
        Global::NumpyDtype => match args.first() {
            Some(Value::Str(code)) => Ok(Value::Opaque(format!("numpy.dtype {code}"))),
            _ => Err(PickleError::Malformed(
                "numpy.dtype without a type code".into(),
            )),
        },
        Global::NumpyScalar => match args.as_slice() {
            [Value::Opaque(dtype), Value::Bytes(b)] => numpy_scalar(dtype, b),
            _ => Err(PickleError::Malformed("numpy scalar arguments".into())),
        },
        Global::EasyDict => Ok(Value::Dict(Vec::new())),
        Global::NumpyArray => Ok(Value::Opaque("numpy.ndarray".into())),
        Global::NumpyArrayType => Err(PickleError::Forbidden("calling numpy.ndarray".into())),
        Global::Set => Ok(match args.into_iter().next() {
            Some(Value::List(items) | Value::Tuple(items)) => Value::List(items),
            _ => Value::List(Vec::new()),
        }),
        Global::CodecsEncode => match args.as_slice() {
            [Value::Str(text), ..] => text
                .chars()
                .map(|c| u8::try_from(c as u32))
                .collect::<Result<Vec<u8>, _>>()
                .map(|b| Value::Bytes(b.into()))
                .map_err(|_| PickleError::Malformed("_codecs.encode of a non-latin-1 text".into())),
            _ => Err(PickleError::Malformed("_codecs.encode arguments".into())),
        },
    }
}

/// A persistent object from its `meta` dict: the class name and state; the class's source
/// code (`module_src`) is dropped unread.
fn persistent_object(args: Vec<Value>) -> Result<Value, PickleError> {
    let Some(Value::Dict(meta)) = args.into_iter().next() else {
        return Err(PickleError::Malformed(
            "persistent object without its meta dict".into(),
        ));
    };
    let mut class = None;
    let mut state = Value::Dict(Vec::new());
    for (k, v) in meta {
        match (k, v) {
            (Value::Str(k), Value::Str(name)) if k == "class_name" => class = Some(name),
            (Value::Str(k), v) if k == "state" => state = v,
            _ => {}
        }
    }
    Ok(Value::Object {
        class: class.ok_or_else(|| {
            PickleError::Malformed("persistent object without a class name".into())
        })?,
        state: Box::new(state),
    })
}

/// The float or integer a numpy scalar holds.
fn numpy_scalar(dtype: &str, b: &[u8]) -> Result<Value, PickleError> {
    let code = dtype.trim_start_matches("numpy.dtype ");
    let bytes = |n: usize| -> Result<&[u8], PickleError> {
        b.get(..n).filter(|_| b.len() == n).ok_or_else(|| {
            PickleError::Malformed(format!("numpy {code} scalar of {} bytes", b.len()))
        })
    };
    Ok(match code {
        "f8" => Value::Float(f64::from_le_bytes(bytes(8)?.try_into().expect("8 bytes"))),
        "f4" => Value::Float(f32::from_le_bytes(bytes(4)?.try_into().expect("4 bytes")) as f64),
        "i8" => Value::Int(i64::from_le_bytes(bytes(8)?.try_into().expect("8 bytes"))),
        "i4" => Value::Int(i32::from_le_bytes(bytes(4)?.try_into().expect("4 bytes")) as i64),
        "b1" => Value::Bool(bytes(1)?[0] != 0),
        other => return Err(PickleError::Forbidden(format!("a numpy {other} scalar"))),
    })
}

thread_local! {
    /// `_load_from_bytes` blobs being read on this thread (a blob inside a blob is refused).
    static BLOB_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// One storage from a `_load_from_bytes` blob: a legacy `torch.save` stream (magic,
/// protocol, system info, the storage as a persistent id, its key list) followed by the
/// element count and the raw bytes.
fn storage_from_blob(blob: &SharedBytes) -> Result<StorageRef, PickleError> {
    if BLOB_DEPTH.get() > 0 {
        return Err(PickleError::Malformed(
            "a storage blob inside a storage blob".into(),
        ));
    }
    BLOB_DEPTH.set(1);
    let result = read_blob(blob);
    BLOB_DEPTH.set(0);
    result
}

fn read_blob(blob: &SharedBytes) -> Result<StorageRef, PickleError> {
    struct One(Option<StorageRef>);
    impl PersistentLoad for One {
        fn load(&mut self, pid: Value) -> Result<Value, PickleError> {
            let (s, _) = storage_from_pid(pid)?;
            self.0 = Some(s.clone());
            Ok(Value::Storage(s))
        }
    }
    let mut one = One(None);
    let mut pos = 0;
    for _ in 0..5 {
        pos = unpickle(blob, pos, &mut one)?.1;
    }
    let mut storage = one
        .0
        .ok_or_else(|| PickleError::Malformed("storage blob without a storage".into()))?;
    let numel = blob
        .get(pos..pos + 8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .ok_or(PickleError::Eof)?;
    let start = pos + 8;
    let have = blob.len() - start;
    match numel.checked_mul(storage.dtype.size() as u64) {
        Some(n) if n == have as u64 => {}
        Some(n) if n < have as u64 => {
            return Err(PickleError::Malformed(format!(
                "a storage blob has {} bytes past its storage",
                have as u64 - n
            )));
        }
        _ => {
            return Err(PickleError::Limit(format!(
                "a storage blob declares {numel} elements in {} bytes",
                blob.len()
            )));
        }
    }
    storage.inline = blob.slice(start..blob.len());
    Ok(storage)
}

/// Deepest nesting of containers a pickle may build (checkpoints need a handful of levels).
pub const MAX_DEPTH: u32 = 1000;
/// Memory every pickle may use for its values beyond four times its own size (values read from
/// the data are bounded by it; copies made by DUP, PUT and GET are not).
pub const VALUE_BUDGET: u64 = 256 << 20;
/// What one value costs in the budget besides its string or byte contents.
const NODE_COST: u64 = (std::mem::size_of::<Value>() + std::mem::size_of::<Size>()) as u64;

/// Nesting depth and approximate memory of one value on the stack or in the memo, kept beside
/// it so copies and nesting are checked in O(1) before they are made.
#[derive(Debug, Clone, Copy)]
struct Size {
    depth: u32,
    cost: u64,
}

impl Size {
    fn leaf(bytes: usize) -> Self {
        Size {
            depth: 0,
            cost: NODE_COST + bytes as u64,
        }
    }
    fn of(v: &Value) -> Self {
        match v {
            Value::Str(s) => Size::leaf(s.len()),
            Value::Bytes(b) => Size::leaf(b.len()),
            Value::BigInt(b) => Size::leaf(b.len()),
            _ => Size::leaf(0),
        }
    }
    fn container<'a>(parts: impl IntoIterator<Item = &'a Size>) -> Self {
        let mut out = Size {
            depth: 1,
            cost: NODE_COST,
        };
        for p in parts {
            out.depth = out.depth.max(p.depth + 1);
            out.cost += p.cost;
        }
        out
    }
}

/// The pickle machine's stack and memo, with the limits every operation is checked against.
struct Machine {
    stack: Vec<(Value, Size)>,
    memo: HashMap<u32, (Value, Size)>,
    spent: u64,
    budget: u64,
}

impl Machine {
    fn charge(&mut self, size: Size) -> Result<(), PickleError> {
        check_depth(size.depth)?;
        self.spent += size.cost;
        if self.spent > self.budget {
            return Err(PickleError::Limit(format!(
                "its values would need more than {} MB of memory (copies of copies?)",
                self.budget >> 20
            )));
        }
        Ok(())
    }
    fn push(&mut self, v: Value) -> Result<(), PickleError> {
        let size = Size::of(&v);
        self.push_sized(v, size)
    }
    fn push_sized(&mut self, v: Value, size: Size) -> Result<(), PickleError> {
        self.charge(size)?;
        self.stack.push((v, size));
        Ok(())
    }
    fn pop(&mut self) -> Result<(Value, Size), PickleError> {
        self.stack
            .pop()
            .ok_or(PickleError::Malformed("stack underflow".into()))
    }
    fn pop_value(&mut self) -> Result<Value, PickleError> {
        Ok(self.pop()?.0)
    }
    fn pop_mark(&mut self) -> Result<(Vec<Value>, Size), PickleError> {
        let m = self
            .stack
            .iter()
            .rposition(|(v, _)| matches!(v, Value::Mark))
            .ok_or(PickleError::Malformed("missing MARK".into()))?;
        let items = self.stack.split_off(m + 1);
        self.stack.pop();
        let size = Size::container(items.iter().map(|(_, s)| s));
        Ok((items.into_iter().map(|(v, _)| v).collect(), size))
    }
    /// A copy of the top of the stack (DUP, PUT), charged before it is made.
    fn copy_top(&mut self, op: &str) -> Result<(Value, Size), PickleError> {
        let size = self
            .stack
            .last()
            .map(|(_, s)| *s)
            .ok_or_else(|| PickleError::Malformed(format!("{op} on an empty stack")))?;
        self.charge(size)?;
        Ok(self.stack.last().cloned().expect("checked above"))
    }
    fn put(&mut self, index: u32, op: &str) -> Result<(), PickleError> {
        let entry = self.copy_top(op)?;
        self.memo.insert(index, entry);
        Ok(())
    }
    fn get(&mut self, index: u32) -> Result<(), PickleError> {
        let size =
            self.memo.get(&index).map(|(_, s)| *s).ok_or_else(|| {
                PickleError::Malformed(format!("memo index {index} was never set"))
            })?;
        self.charge(size)?;
        let entry = self.memo[&index].clone();
        self.stack.push(entry);
        Ok(())
    }
    /// Adds `items` (already charged) to the container on top of the stack.
    fn extend_top(&mut self, items: Vec<Value>, size: Size, op: &str) -> Result<(), PickleError> {
        let Some((top, top_size)) = self.stack.last_mut() else {
            return Err(PickleError::Malformed(format!("{op} on an empty stack")));
        };
        let mut grown = *top_size;
        grown.depth = grown.depth.max(size.depth);
        grown.cost += size.cost - NODE_COST;
        check_depth(grown.depth)?;
        match top {
            Value::List(l) => l.extend(items),
            Value::Dict(d) => d.extend(pairs(items)?),
            Value::Opaque(_) => {}
            other => {
                return Err(PickleError::Malformed(format!("{op} on {}", brief(other))));
            }
        }
        *top_size = grown;
        Ok(())
    }
}

fn check_depth(depth: u32) -> Result<(), PickleError> {
    if depth > MAX_DEPTH {
        return Err(PickleError::Limit(format!(
            "nesting deeper than {MAX_DEPTH} levels"
        )));
    }
    Ok(())
}

/// A short description of a value for error messages (never its whole contents).
pub fn brief(v: &Value) -> String {
    match v {
        Value::None => "None".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(b) => format!("a {}-byte integer", b.len()),
        Value::Float(f) => f.to_string(),
        Value::Str(s) if s.len() <= 60 => format!("{s:?}"),
        Value::Str(s) => format!("a {}-byte string", s.len()),
        Value::Bytes(b) => format!("{} bytes", b.len()),
        Value::Tuple(t) => format!("a tuple of {}", t.len()),
        Value::List(l) => format!("a list of {}", l.len()),
        Value::Dict(d) => format!("a dict of {}", d.len()),
        Value::Global(g) => format!("{g:?}"),
        Value::Storage(s) => format!("storage {:?} ({:?})", s.key, s.dtype),
        Value::Tensor(t) => format!("a tensor of shape {:?}", t.shape),
        Value::Opaque(name) => name.clone(),
        Value::Object { class, .. } => format!("a {class} object"),
        Value::Mark => "MARK".into(),
    }
}

/// Runs one pickle from `data[start..]`; returns the value and the position after `STOP`.
/// Nesting deeper than [`MAX_DEPTH`] and copies beyond the memory budget are refused
/// ([`PickleError::Limit`]) before anything is allocated for them.
pub fn unpickle(
    shared: &SharedBytes,
    start: usize,
    persistent: &mut dyn PersistentLoad,
) -> Result<(Value, usize), PickleError> {
    let data = shared.as_slice();
    let mut r = Reader {
        data,
        shared,
        pos: start,
    };
    let mut m = Machine {
        stack: Vec::new(),
        memo: HashMap::new(),
        spent: 0,
        budget: VALUE_BUDGET + 4 * data.len() as u64,
    };
    loop {
        let at = r.pos;
        let op = r.u8()?;
        match op {
            0x80 => {
                r.u8()?; // PROTO
            }
            0x95 => {
                r.u64()?; // FRAME
            }
            b'.' => {
                let v = m.pop_value()?;
                return Ok((v, r.pos));
            }
            b'(' => m.push(Value::Mark)?,
            b'0' => {
                m.pop()?;
            }
            b'1' => {
                m.pop_mark()?;
            }
            b'2' => {
                let (v, size) = m.copy_top("DUP")?;
                m.stack.push((v, size));
            }
            b'N' => m.push(Value::None)?,
            0x88 => m.push(Value::Bool(true))?,
            0x89 => m.push(Value::Bool(false))?,
            b'J' => m.push(Value::Int(r.u32()? as i32 as i64))?,
            b'K' => m.push(Value::Int(r.u8()? as i64))?,
            b'M' => m.push(Value::Int(r.u16()? as i64))?,
            0x8a => {
                let n = r.u8()? as usize;
                m.push(int_from_le(r.take(n)?))?;
            }
            0x8b => {
                let n = r.u32()? as usize;
                m.push(int_from_le(r.take(n)?))?;
            }
            b'G' => m.push(Value::Float(f64::from_be_bytes(
                r.take(8)?.try_into().expect("8 bytes"),
            )))?,
            b'X' => {
                let n = r.u32()? as usize;
                m.push(Value::Str(r.string(n)?))?;
            }
            0x8c => {
                let n = r.u8()? as usize;
                m.push(Value::Str(r.string(n)?))?;
            }
            0x8d => {
                let n = usize::try_from(r.u64()?).map_err(|_| PickleError::Eof)?;
                m.push(Value::Str(r.string(n)?))?;
            }
            b'T' => {
                let n = r.u32()? as usize;
                m.push(Value::Str(String::from_utf8_lossy(r.take(n)?).into_owned()))?;
            }
            b'U' => {
                let n = r.u8()? as usize;
                m.push(Value::Str(String::from_utf8_lossy(r.take(n)?).into_owned()))?;
            }
            b'B' => {
                let n = r.u32()? as usize;
                m.push(Value::Bytes(r.take_shared(n)?))?;
            }
            b'C' => {
                let n = r.u8()? as usize;
                m.push(Value::Bytes(r.take_shared(n)?))?;
            }
            0x8e => {
                let n = usize::try_from(r.u64()?).map_err(|_| PickleError::Eof)?;
                m.push(Value::Bytes(r.take_shared(n)?))?;
            }
            b')' => m.push_sized(Value::Tuple(Vec::new()), Size::container([]))?,
            b't' => {
                let (items, size) = m.pop_mark()?;
                m.push_sized(Value::Tuple(items), size)?;
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if m.stack.len() < n {
                    return Err(PickleError::Malformed("stack underflow".into()));
                }
                let items = m.stack.split_off(m.stack.len() - n);
                let size = Size::container(items.iter().map(|(_, s)| s));
                m.push_sized(
                    Value::Tuple(items.into_iter().map(|(v, _)| v).collect()),
                    size,
                )?;
            }
            b']' => m.push_sized(Value::List(Vec::new()), Size::container([]))?,
            b'l' => {
                let (items, size) = m.pop_mark()?;
                m.push_sized(Value::List(items), size)?;
            }
            b'}' => m.push_sized(Value::Dict(Vec::new()), Size::container([]))?,
            b'd' => {
                let (items, size) = m.pop_mark()?;
                m.push_sized(Value::Dict(pairs(items)?), size)?;
            }
            0x8f => m.push_sized(Value::List(Vec::new()), Size::container([]))?, // EMPTY_SET, kept as a list
            0x90 | b'e' => {
                let (items, size) = m.pop_mark()?;
                if !matches!(m.stack.last(), Some((Value::List(_), _))) {
                    return Err(PickleError::Malformed("APPENDS/ADDITEMS target".into()));
                }
                m.extend_top(items, size, "APPENDS")?;
            }
            b'a' => {
                let (v, size) = m.pop()?;
                if !matches!(m.stack.last(), Some((Value::List(_), _))) {
                    return Err(PickleError::Malformed("APPEND target".into()));
                }
                m.extend_top(vec![v], Size::container([&size]), "APPEND")?;
            }
            b's' => {
                let (v, vs) = m.pop()?;
                let (k, ks) = m.pop()?;
                if !matches!(m.stack.last(), Some((Value::Dict(_), _))) {
                    return Err(PickleError::Malformed("SETITEM target".into()));
                }
                m.extend_top(vec![k, v], Size::container([&ks, &vs]), "SETITEM")?;
            }
            b'u' => {
                let (items, size) = m.pop_mark()?;
                m.extend_top(items, size, "SETITEMS")?;
            }
            b'q' => {
                let i = r.u8()? as u32;
                m.put(i, "PUT")?;
            }
            b'r' => {
                let i = r.u32()?;
                m.put(i, "PUT")?;
            }
            0x94 => {
                let i = m.memo.len() as u32;
                m.put(i, "MEMOIZE")?;
            }
            b'h' => {
                let i = r.u8()? as u32;
                m.get(i)?;
            }
            b'j' => {
                let i = r.u32()?;
                m.get(i)?;
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                let g = resolve_global(&module, &name)
                    .ok_or_else(|| PickleError::Forbidden(format!("{module}.{name}")))?;
                m.push(Value::Global(g))?;
            }
            0x93 => {
                let name = m.pop_value()?;
                let module = m.pop_value()?;
                let (Value::Str(module), Value::Str(name)) = (module, name) else {
                    return Err(PickleError::Malformed("STACK_GLOBAL names".into()));
                };
                let g = resolve_global(&module, &name)
                    .ok_or_else(|| PickleError::Forbidden(format!("{module}.{name}")))?;
                m.push(Value::Global(g))?;
            }
            b'R' | 0x81 => {
                let (args, size) = m.pop()?;
                let f = m.pop_value()?;
                let Value::Global(g) = f else {
                    let op = if op == b'R' { "REDUCE" } else { "NEWOBJ" };
                    return Err(PickleError::Malformed(format!("{op} on {}", brief(&f))));
                };
                // the result holds what its arguments held: already charged
                m.stack.push((call(g, args)?, size));
            }
            b'b' => {
                m.pop()?; // BUILD: object state (e.g. `_metadata`) carries no tensors we use
            }
            b'Q' => {
                let pid = m.pop_value()?;
                m.push(persistent.load(pid)?)?;
            }
            _ => return Err(PickleError::Opcode(op, at)),
        }
    }
}

fn pairs(items: Vec<Value>) -> Result<Vec<(Value, Value)>, PickleError> {
    if !items.len().is_multiple_of(2) {
        return Err(PickleError::Malformed("odd number of dict items".into()));
    }
    let mut it = items.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}
