//! A pickle reader that never executes code: it understands the opcodes PyTorch checkpoints
//! use and builds plain values. Callables named by `GLOBAL` are only accepted from a short
//! allow-list (tensor rebuilding, storages, ordered dicts, argument namespaces); any other
//! global makes the whole file fail with [`PickleError::Forbidden`].

use std::collections::HashMap;

/// Element type of a PyTorch storage class (`torch.FloatStorage` …).
pub use super::DType as StorageDType;

/// A reference to a storage, as produced by a checkpoint's persistent ids.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageRef {
    pub dtype: StorageDType,
    pub key: String,
    /// Legacy-format views: (offset in elements into the root storage).
    pub view_offset: usize,
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
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(Global),
    Storage(StorageRef),
    Tensor(TensorRef),
    /// An allowed object whose contents we do not need (e.g. `argparse.Namespace`).
    Opaque(String),
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
                other => return Err(PickleError::Malformed(format!("storage type {other:?}"))),
            };
            // Legacy views: (view_key, offset, view_size).
            let view = match rest.first() {
                Some(Value::Tuple(v)) => match v.as_slice() {
                    [Value::Str(vk), Value::Int(off), ..] => Some((vk.clone(), *off as usize)),
                    _ => None,
                },
                _ => None,
            };
            Ok((
                StorageRef {
                    dtype,
                    key: key.clone(),
                    view_offset: 0,
                },
                view,
            ))
        }
        [Value::Str(tag), ..] if tag == "module" => Err(PickleError::Forbidden(
            "a pickled nn.Module (save a state_dict instead)".into(),
        )),
        _ => Err(PickleError::Malformed(format!("persistent id {items:?}"))),
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
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
                    "expected a size, got {other:?}"
                ))),
            })
            .collect(),
        other => Err(PickleError::Malformed(format!(
            "expected a tuple of sizes, got {other:?}"
        ))),
    }
}

fn call(global: Global, args: Value) -> Result<Value, PickleError> {
    let args = match args {
        Value::Tuple(a) => a,
        other => return Err(PickleError::Malformed(format!("call arguments {other:?}"))),
    };
    match global {
        Global::RebuildTensor => match args.as_slice() {
            [Value::Storage(s), Value::Int(offset), size, stride, ..] => {
                Ok(Value::Tensor(TensorRef {
                    storage: s.clone(),
                    offset: *offset as usize + s.view_offset,
                    shape: as_usize_list(size)?,
                    stride: as_usize_list(stride)?,
                }))
            }
            _ => Err(PickleError::Malformed(format!(
                "_rebuild_tensor arguments {args:?}"
            ))),
        },
        Global::RebuildParameter => match args.into_iter().next() {
            Some(t @ Value::Tensor(_)) => Ok(t),
            other => Err(PickleError::Malformed(format!("parameter of {other:?}"))),
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
    }
}

/// Runs one pickle from `data[start..]`; returns the value and the position after `STOP`.
pub fn unpickle(
    data: &[u8],
    start: usize,
    persistent: &mut dyn PersistentLoad,
) -> Result<(Value, usize), PickleError> {
    let mut r = Reader { data, pos: start };
    let mut stack: Vec<Value> = Vec::new();
    let mut memo: HashMap<u32, Value> = HashMap::new();
    let pop = |stack: &mut Vec<Value>| {
        stack
            .pop()
            .ok_or(PickleError::Malformed("stack underflow".into()))
    };
    let pop_mark = |stack: &mut Vec<Value>| -> Result<Vec<Value>, PickleError> {
        let m = stack
            .iter()
            .rposition(|v| matches!(v, Value::Mark))
            .ok_or(PickleError::Malformed("missing MARK".into()))?;
        let items = stack.split_off(m + 1);
        stack.pop();
        Ok(items)
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
                let v = pop(&mut stack)?;
                return Ok((v, r.pos));
            }
            b'(' => stack.push(Value::Mark),
            b'0' => {
                pop(&mut stack)?;
            }
            b'1' => {
                pop_mark(&mut stack)?;
            }
            b'2' => {
                let v = stack
                    .last()
                    .cloned()
                    .ok_or(PickleError::Malformed("DUP on empty stack".into()))?;
                stack.push(v);
            }
            b'N' => stack.push(Value::None),
            0x88 => stack.push(Value::Bool(true)),
            0x89 => stack.push(Value::Bool(false)),
            b'J' => stack.push(Value::Int(r.u32()? as i32 as i64)),
            b'K' => stack.push(Value::Int(r.u8()? as i64)),
            b'M' => stack.push(Value::Int(r.u16()? as i64)),
            0x8a => {
                let n = r.u8()? as usize;
                stack.push(int_from_le(r.take(n)?));
            }
            0x8b => {
                let n = r.u32()? as usize;
                stack.push(int_from_le(r.take(n)?));
            }
            b'G' => stack.push(Value::Float(f64::from_be_bytes(
                r.take(8)?.try_into().expect("8 bytes"),
            ))),
            b'X' => {
                let n = r.u32()? as usize;
                stack.push(Value::Str(r.string(n)?));
            }
            0x8c => {
                let n = r.u8()? as usize;
                stack.push(Value::Str(r.string(n)?));
            }
            0x8d => {
                let n = r.u64()? as usize;
                stack.push(Value::Str(r.string(n)?));
            }
            b'T' => {
                let n = r.u32()? as usize;
                stack.push(Value::Str(String::from_utf8_lossy(r.take(n)?).into_owned()));
            }
            b'U' => {
                let n = r.u8()? as usize;
                stack.push(Value::Str(String::from_utf8_lossy(r.take(n)?).into_owned()));
            }
            b'B' => {
                let n = r.u32()? as usize;
                stack.push(Value::Bytes(r.take(n)?.to_vec()));
            }
            b'C' => {
                let n = r.u8()? as usize;
                stack.push(Value::Bytes(r.take(n)?.to_vec()));
            }
            0x8e => {
                let n = r.u64()? as usize;
                stack.push(Value::Bytes(r.take(n)?.to_vec()));
            }
            b')' => stack.push(Value::Tuple(Vec::new())),
            b't' => {
                let items = pop_mark(&mut stack)?;
                stack.push(Value::Tuple(items));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err(PickleError::Malformed("stack underflow".into()));
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(Value::Tuple(items));
            }
            b']' => stack.push(Value::List(Vec::new())),
            b'l' => {
                let items = pop_mark(&mut stack)?;
                stack.push(Value::List(items));
            }
            b'}' => stack.push(Value::Dict(Vec::new())),
            b'd' => {
                let items = pop_mark(&mut stack)?;
                stack.push(Value::Dict(pairs(items)?));
            }
            0x8f => stack.push(Value::List(Vec::new())), // EMPTY_SET, kept as a list
            0x90 => {
                let items = pop_mark(&mut stack)?;
                match stack.last_mut() {
                    Some(Value::List(l)) => l.extend(items),
                    _ => return Err(PickleError::Malformed("ADDITEMS target".into())),
                }
            }
            b'a' => {
                let v = pop(&mut stack)?;
                match stack.last_mut() {
                    Some(Value::List(l)) => l.push(v),
                    _ => return Err(PickleError::Malformed("APPEND target".into())),
                }
            }
            b'e' => {
                let items = pop_mark(&mut stack)?;
                match stack.last_mut() {
                    Some(Value::List(l)) => l.extend(items),
                    _ => return Err(PickleError::Malformed("APPENDS target".into())),
                }
            }
            b's' => {
                let v = pop(&mut stack)?;
                let k = pop(&mut stack)?;
                match stack.last_mut() {
                    Some(Value::Dict(d)) => d.push((k, v)),
                    _ => return Err(PickleError::Malformed("SETITEM target".into())),
                }
            }
            b'u' => {
                let items = pop_mark(&mut stack)?;
                let new = pairs(items)?;
                match stack.last_mut() {
                    Some(Value::Dict(d)) => d.extend(new),
                    Some(Value::Opaque(_)) => {}
                    _ => return Err(PickleError::Malformed("SETITEMS target".into())),
                }
            }
            b'q' => {
                let i = r.u8()? as u32;
                memo.insert(
                    i,
                    stack
                        .last()
                        .cloned()
                        .ok_or(PickleError::Malformed("PUT".into()))?,
                );
            }
            b'r' => {
                let i = r.u32()?;
                memo.insert(
                    i,
                    stack
                        .last()
                        .cloned()
                        .ok_or(PickleError::Malformed("PUT".into()))?,
                );
            }
            0x94 => {
                let i = memo.len() as u32;
                memo.insert(
                    i,
                    stack
                        .last()
                        .cloned()
                        .ok_or(PickleError::Malformed("MEMOIZE".into()))?,
                );
            }
            b'h' => {
                let i = r.u8()? as u32;
                stack.push(
                    memo.get(&i)
                        .cloned()
                        .ok_or(PickleError::Malformed(format!("memo {i}")))?,
                );
            }
            b'j' => {
                let i = r.u32()?;
                stack.push(
                    memo.get(&i)
                        .cloned()
                        .ok_or(PickleError::Malformed(format!("memo {i}")))?,
                );
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                let g = resolve_global(&module, &name)
                    .ok_or_else(|| PickleError::Forbidden(format!("{module}.{name}")))?;
                stack.push(Value::Global(g));
            }
            0x93 => {
                let name = pop(&mut stack)?;
                let module = pop(&mut stack)?;
                let (Value::Str(module), Value::Str(name)) = (module, name) else {
                    return Err(PickleError::Malformed("STACK_GLOBAL names".into()));
                };
                let g = resolve_global(&module, &name)
                    .ok_or_else(|| PickleError::Forbidden(format!("{module}.{name}")))?;
                stack.push(Value::Global(g));
            }
            b'R' => {
                let args = pop(&mut stack)?;
                let f = pop(&mut stack)?;
                let Value::Global(g) = f else {
                    return Err(PickleError::Malformed(format!("REDUCE on {f:?}")));
                };
                stack.push(call(g, args)?);
            }
            0x81 => {
                let args = pop(&mut stack)?;
                let cls = pop(&mut stack)?;
                let Value::Global(g) = cls else {
                    return Err(PickleError::Malformed(format!("NEWOBJ on {cls:?}")));
                };
                stack.push(call(g, args)?);
            }
            b'b' => {
                pop(&mut stack)?; // BUILD: object state (e.g. `_metadata`) carries no tensors we use
            }
            b'Q' => {
                let pid = pop(&mut stack)?;
                stack.push(persistent.load(pid)?);
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
