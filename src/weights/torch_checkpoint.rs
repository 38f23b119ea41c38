//! PyTorch checkpoints (`.pt`, `.pth`) read without Python: the zip layout of torch ≥ 1.6
//! and the older "legacy" layout (a chain of pickles followed by raw storages, as in the
//! LPIPS head files, with CUDA-tagged storages). Nested dicts are flattened into dotted keys
//! (`g_ema.style.1.weight`); only tensors are kept.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use super::pickle::{
    PersistentLoad, PickleError, SharedBytes, StorageRef, TensorRef, Value, storage_from_pid,
    unpickle,
};
use super::{StoredTensor, TensorStore, WeightsError, strided_to_row_major};

const FORMAT: &str = "PyTorch checkpoint";
const LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/// Reads every tensor of a PyTorch checkpoint into a [`TensorStore`] with dotted keys.
pub fn read_torch(path: &Path) -> Result<TensorStore, WeightsError> {
    read_torch_filtered(path, |_| Box::new(|_| true))
}

/// Which keys to materialize, chosen once all keys of the file are known.
pub type KeyFilter = Box<dyn Fn(&str) -> bool>;

/// Like [`read_torch`] but only materializes the tensors whose key passes the filter that
/// `choose` builds from the list of all keys (so optimizer and discriminator states of
/// training checkpoints are never copied). The file is parsed once.
pub fn read_torch_filtered(
    path: &Path,
    choose: impl FnOnce(&[String]) -> KeyFilter,
) -> Result<TensorStore, WeightsError> {
    let bytes: SharedBytes = super::read_regular_file(path)
        .map_err(|e| WeightsError::io(path, e))?
        .into();
    let mut parsed = parse(&bytes).map_err(|e| e.into_weights_error(path))?;
    if parsed.entries.is_empty() {
        return Err(ParseError::Other("it holds no tensors".into()).into_weights_error(path));
    }
    let keys: Vec<String> = parsed.entries.iter().map(|(k, _)| k.clone()).collect();
    let keep = choose(&keys);
    let entries: Vec<(String, TensorRef)> = std::mem::take(&mut parsed.entries)
        .into_iter()
        .filter(|(k, _)| keep(k))
        .collect();
    materialize(&mut parsed, entries, bytes.len(), path).map_err(|e| e.into_weights_error(path))
}

/// Tensor data may expand at most this much over the file holding it (deflate's limit is
/// about 1032:1; an uncompressed checkpoint is 1:1).
const MAX_EXPANSION: u64 = 1100;

/// Copies the tensors out of their storages, after checking every declared size against
/// the file: what the tensors need must fit the file, each storage is read only as far as
/// its tensors reach (a zip member never past that), and the copies may not exceed twice the
/// storage bytes actually present.
fn materialize(
    parsed: &mut Parsed<'_>,
    entries: Vec<(String, TensorRef)>,
    file_len: usize,
    path: &Path,
) -> Result<TensorStore, ParseError> {
    let mut reach: HashMap<String, u64> = HashMap::new();
    let mut declared: u64 = 0;
    let mut present: u64 = 0;
    let mut inline_seen = std::collections::HashSet::new();
    for (key, t) in &entries {
        let extent = extent_bytes(t).ok_or_else(|| {
            ParseError::Other(format!(
                "tensor `{key}` declares a shape {:?} / stride {:?} whose size overflows",
                t.shape, t.stride
            ))
        })?;
        declared = declared.saturating_add(extent);
        match &t.storage.inline {
            // the pickle held these bytes itself
            Some(data) => {
                if inline_seen.insert(data.id()) {
                    present += data.as_slice().len() as u64;
                }
            }
            None => {
                let r = reach.entry(t.storage.key.clone()).or_default();
                *r = (*r).max(extent);
            }
        }
    }
    let needed: u64 = reach.values().sum();
    if needed > (file_len as u64).saturating_mul(MAX_EXPANSION) {
        return Err(ParseError::Other(format!(
            "it declares {} of tensor data in a {} file",
            human_bytes(needed),
            human_bytes(file_len as u64)
        )));
    }
    for (key, &limit) in &reach {
        present += parsed.storage(key, limit)?.len() as u64;
    }
    let budget = present.saturating_mul(2) + (16 << 20);
    if declared > budget {
        return Err(ParseError::Other(format!(
            "its tensors would copy {} out of {} of storage (overlapping views)",
            human_bytes(declared),
            human_bytes(present)
        )));
    }
    let mut store = TensorStore::new(path);
    store
        .metadata
        .extend(std::mem::take(&mut parsed.attributes));
    for (key, t) in entries {
        let inline = t.storage.inline.clone();
        let data = match &inline {
            Some(bytes) => bytes.as_slice(),
            None => parsed.storage(&t.storage.key, reach[&t.storage.key])?,
        };
        let tensor = gather(&t, data).ok_or_else(|| {
            ParseError::Other(format!(
                "tensor `{key}`: shape {:?} / stride {:?} / offset {} run past its storage of {} bytes (truncated file?)",
                t.shape,
                t.stride,
                t.offset,
                data.len()
            ))
        })?;
        store.insert(key, tensor);
    }
    Ok(store)
}

/// Bytes of its storage a tensor reaches (offset to its last element), `None` on overflow.
fn extent_bytes(t: &TensorRef) -> Option<u64> {
    if t.stride.len() != t.shape.len() {
        return Some(0); // refused by `gather` with the tensor's name
    }
    let mut last: u64 = t.offset as u64;
    let mut numel: u64 = 1;
    for (&n, &st) in t.shape.iter().zip(&t.stride) {
        numel = numel.checked_mul(n as u64)?;
        if n > 0 {
            last = last.checked_add((n as u64 - 1).checked_mul(st as u64)?)?;
        }
    }
    if numel == 0 {
        return Some(0);
    }
    last.checked_add(1)?
        .checked_mul(t.storage.dtype.size() as u64)
}

/// `1.5 GB`-style sizes for messages.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["bytes", "KB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

enum ParseError {
    Pickle(PickleError),
    Other(String),
}

impl From<PickleError> for ParseError {
    fn from(e: PickleError) -> Self {
        ParseError::Pickle(e)
    }
}

impl ParseError {
    fn into_weights_error(self, path: &Path) -> WeightsError {
        match self {
            ParseError::Pickle(PickleError::Forbidden(global)) => WeightsError::UnsafePickle {
                path: path.to_path_buf(),
                global,
            },
            ParseError::Pickle(other) => WeightsError::Format {
                path: path.to_path_buf(),
                format: FORMAT,
                reason: other.to_string(),
            },
            ParseError::Other(reason) => WeightsError::Format {
                path: path.to_path_buf(),
                format: FORMAT,
                reason,
            },
        }
    }
}

/// Collects the storages that persistent ids name.
#[derive(Default)]
struct StorageIds {
    seen: HashMap<String, StorageRef>,
}

impl PersistentLoad for StorageIds {
    fn load(&mut self, pid: Value) -> Result<Value, PickleError> {
        let (mut storage, view) = storage_from_pid(pid)?;
        self.seen
            .entry(storage.key.clone())
            .or_insert_with(|| storage.clone());
        if let Some((_, offset)) = view {
            storage.view_offset = offset;
        }
        Ok(Value::Storage(storage))
    }
}

/// A parsed checkpoint: its tensors by key, and where their storages' bytes are.
struct Parsed<'a> {
    entries: Vec<(String, TensorRef)>,
    /// Scalar attributes of pickled modules (`conv_clamp`, `c_dim` …) by dotted path.
    attributes: Vec<(String, String)>,
    storages: Storages<'a>,
    loaded: HashMap<String, Vec<u8>>,
}

enum Storages<'a> {
    /// One archive member per storage, `<prefix>data/<key>`.
    Zip {
        archive: zip::ZipArchive<std::io::Cursor<&'a [u8]>>,
        prefix: String,
    },
    /// Byte ranges inside the file.
    Legacy(HashMap<String, &'a [u8]>),
}

impl Parsed<'_> {
    /// The bytes of storage `key`, read at most `limit` bytes far.
    fn storage(&mut self, key: &str, limit: u64) -> Result<&[u8], ParseError> {
        match &mut self.storages {
            Storages::Legacy(map) => map
                .get(key)
                .copied()
                .ok_or_else(|| ParseError::Other(format!("storage {key} is missing"))),
            Storages::Zip { archive, prefix } => {
                if !self.loaded.contains_key(key) {
                    let name = format!("{prefix}data/{key}");
                    let data = read_member(archive, &name, limit)?;
                    self.loaded.insert(key.to_string(), data);
                }
                Ok(&self.loaded[key])
            }
        }
    }
}

/// One zip member, never more than `limit` bytes of it (a deflated member may expand
/// without bound; nothing past what the tensors need is read).
fn read_member(
    archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>,
    name: &str,
    limit: u64,
) -> Result<Vec<u8>, ParseError> {
    let mut data = Vec::new();
    archive
        .by_name(name)
        .map_err(|e| e.to_string())
        .and_then(|f| {
            f.take(limit)
                .read_to_end(&mut data)
                .map_err(|e| e.to_string())
        })
        .map_err(|e| ParseError::Other(format!("{name}: {e}")))?;
    Ok(data)
}

fn parse(bytes: &SharedBytes) -> Result<Parsed<'_>, ParseError> {
    let (root, storages) = if bytes.starts_with(b"PK\x03\x04") {
        parse_zip(bytes)?
    } else {
        parse_legacy(bytes)?
    };
    let mut entries = Vec::new();
    let mut attributes = Vec::new();
    flatten(&root, String::new(), &mut entries, &mut attributes);
    Ok(Parsed {
        entries,
        attributes,
        storages,
        loaded: HashMap::new(),
    })
}

fn parse_zip(bytes: &[u8]) -> Result<(Value, Storages<'_>), ParseError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| ParseError::Other(format!("broken zip archive: {e}")))?;
    let pkl_name = archive
        .file_names()
        .find(|n| n.ends_with("data.pkl"))
        .map(str::to_string)
        .ok_or_else(|| ParseError::Other("zip archive without data.pkl".into()))?;
    let prefix = pkl_name.trim_end_matches("data.pkl").to_string();
    // a pickle is stored, or deflated a few times at most: past this it is a zip bomb
    let limit = (bytes.len() as u64 * 16 + (1 << 20)).min(1 << 30);
    let pkl = read_member(&mut archive, &pkl_name, limit + 1)?;
    if pkl.len() as u64 > limit {
        return Err(ParseError::Other(format!(
            "{pkl_name} expands past {} in a {} file (zip bomb?)",
            human_bytes(limit),
            human_bytes(bytes.len() as u64)
        )));
    }
    let (root, _) = unpickle(&pkl.into(), 0, &mut StorageIds::default())?;
    Ok((root, Storages::Zip { archive, prefix }))
}

/// Persistent ids are not expected in the legacy header pickles.
struct NoStorage;
impl PersistentLoad for NoStorage {
    fn load(&mut self, _pid: Value) -> Result<Value, PickleError> {
        Err(PickleError::Malformed(
            "unexpected persistent id in a header pickle".into(),
        ))
    }
}

fn parse_legacy(shared: &SharedBytes) -> Result<(Value, Storages<'_>), ParseError> {
    let bytes = shared.as_slice();
    let not_torch =
        || ParseError::Other("neither a zip checkpoint nor a legacy PyTorch file".into());
    let (magic, pos) = unpickle(shared, 0, &mut NoStorage).map_err(|e| match e {
        PickleError::Forbidden(_) | PickleError::Limit(_) => ParseError::Pickle(e),
        _ => not_torch(),
    })?;
    if magic != Value::BigInt(LEGACY_MAGIC.to_vec()) {
        // a plain pickle (an NVIDIA network pickle): storages travel inside it
        return Ok((magic, Storages::Legacy(HashMap::new())));
    }
    let (_protocol, pos) = unpickle(shared, pos, &mut NoStorage)?;
    let (_sys_info, pos) = unpickle(shared, pos, &mut NoStorage)?;
    let mut ids = StorageIds::default();
    let (root, pos) = unpickle(shared, pos, &mut ids)?;
    let (keys, mut pos) = unpickle(shared, pos, &mut NoStorage)?;
    let Value::List(keys) = keys else {
        return Err(ParseError::Other("legacy storage key list missing".into()));
    };
    let mut storages = HashMap::new();
    let truncated = |key: &str| ParseError::Other(format!("storage {key}: file truncated"));
    for key in keys {
        let Value::Str(key) = key else {
            return Err(ParseError::Other(
                "legacy storage key is not a string".into(),
            ));
        };
        let elem = ids
            .seen
            .get(&key)
            .map(|s| s.dtype.size())
            .ok_or_else(|| ParseError::Other(format!("storage {key} has no type")))?;
        let numel = bytes
            .get(pos..pos + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
            .ok_or_else(|| truncated(&key))?;
        pos += 8;
        let end = numel
            .checked_mul(elem)
            .and_then(|len| pos.checked_add(len))
            .filter(|&end| end <= bytes.len())
            .ok_or_else(|| {
                ParseError::Other(format!(
                    "storage {key} declares {} of tensor data in a {} file",
                    human_bytes((numel as u64).saturating_mul(elem as u64)),
                    human_bytes(bytes.len() as u64)
                ))
            })?;
        storages.insert(key, &bytes[pos..end]);
        pos = end;
    }
    Ok((root, Storages::Legacy(storages)))
}

/// Metadata key prefix of a pickled module's scalar attribute (`attr:G_ema.synthesis.b8.conv0.conv_clamp`).
pub const ATTRIBUTE_PREFIX: &str = "attr:";
/// Metadata key of a pickled module's class (`class:G_ema` = `Generator`).
pub const CLASS_PREFIX: &str = "class:";

fn flatten(
    v: &Value,
    prefix: String,
    out: &mut Vec<(String, TensorRef)>,
    attributes: &mut Vec<(String, String)>,
) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        // A file that is just one tensor gets the key `tensor`.
        Value::Tensor(t) if prefix.is_empty() => out.push(("tensor".into(), t.clone())),
        Value::Tensor(t) => out.push((prefix, t.clone())),
        Value::Dict(items) => {
            for (k, v) in items {
                let key = match k {
                    Value::Str(s) => s.clone(),
                    Value::Int(i) => i.to_string(),
                    _ => continue,
                };
                flatten(v, join(&key), out, attributes);
            }
        }
        Value::List(items) | Value::Tuple(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(v, join(&i.to_string()), out, attributes);
            }
        }
        // A torch.nn.Module of a network pickle: its parameters, buffers and submodules
        // under their names, its scalar attributes beside them.
        Value::Object { class, state } => {
            attributes.push((format!("{CLASS_PREFIX}{prefix}"), class.clone()));
            let Value::Dict(items) = state.as_ref() else {
                return;
            };
            for (k, v) in items {
                let Value::Str(name) = k else { continue };
                let scalar = match (name.as_str(), v) {
                    ("_parameters" | "_buffers" | "_modules", v) => {
                        flatten(v, prefix.clone(), out, attributes);
                        None
                    }
                    (_, Value::Int(i)) => Some(i.to_string()),
                    (_, Value::Float(f)) => Some(f.to_string()),
                    (_, Value::Bool(b)) => Some(b.to_string()),
                    (_, Value::None) => Some("None".into()),
                    (_, Value::Str(t)) if t.len() <= 64 => Some(t.clone()),
                    (_, v @ (Value::Tensor(_) | Value::Object { .. })) => {
                        flatten(v, join(name), out, attributes);
                        None
                    }
                    _ => None,
                };
                if let Some(value) = scalar {
                    attributes.push((format!("{ATTRIBUTE_PREFIX}{}", join(name)), value));
                }
            }
        }
        _ => {}
    }
}

/// Copies a strided view out of its storage into contiguous row-major bytes; `None` when
/// the view does not fit the storage (checked before anything is allocated).
fn gather(t: &TensorRef, storage: &[u8]) -> Option<StoredTensor> {
    let elem = t.storage.dtype.size();
    if t.stride.len() != t.shape.len() || extent_bytes(t)? > storage.len() as u64 {
        return None;
    }
    let numel: usize = t.shape.iter().product();
    if is_contiguous(&t.shape, &t.stride) {
        let bytes = storage
            .get(t.offset * elem..(t.offset + numel) * elem)?
            .to_vec();
        return Some(StoredTensor {
            dtype: t.storage.dtype,
            shape: t.shape.clone(),
            bytes,
        });
    }
    Some(StoredTensor {
        dtype: t.storage.dtype,
        shape: t.shape.clone(),
        bytes: strided_to_row_major(storage, &t.shape, &t.stride, t.offset, elem)?,
    })
}

fn is_contiguous(shape: &[usize], stride: &[usize]) -> bool {
    let mut expected = 1;
    for (&n, &st) in shape.iter().zip(stride).rev() {
        if n != 1 && st != expected {
            return false;
        }
        expected *= n;
    }
    true
}
