//! What personalization changed in a generator, stored exactly and compactly: only the tensors
//! tuning changed, each as the bitwise XOR of its f32 bits with the base generator's, byte
//! planes grouped (all sign/exponent bytes, then the next byte of every value, …) and deflated.
//! Tuning moves weights by small amounts, so signs, exponents and the leading mantissa bits
//! mostly stay: those planes XOR to zeros and compress to almost nothing. Applying the delta
//! to the same base gives the tuned weights bit for bit.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

use crate::weights::{StoredTensor, TensorStore};

/// The tensors that differ between a base generator and a tuned copy of it.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorDelta {
    /// Key → the deflated, plane-grouped XOR of the tensor's bytes with the base's.
    pub changed: BTreeMap<String, Vec<u8>>,
}

impl GeneratorDelta {
    /// The delta that turns `base` into `tuned`; both must have the same keys and shapes.
    pub fn between(base: &TensorStore, tuned: &TensorStore) -> anyhow::Result<Self> {
        let mut changed = BTreeMap::new();
        for (key, t) in &tuned.tensors {
            let b = base.tensors.get(key).ok_or_else(|| {
                anyhow::anyhow!("the tuned generator has `{key}`, which its base lacks")
            })?;
            if b.dtype != t.dtype || b.shape != t.shape || b.bytes.len() != t.bytes.len() {
                anyhow::bail!(
                    "`{key}` is {:?} {:?} in the tuned generator and {:?} {:?} in its base",
                    t.dtype,
                    t.shape,
                    b.dtype,
                    b.shape
                );
            }
            if b.bytes != t.bytes {
                let xor: Vec<u8> = b.bytes.iter().zip(&t.bytes).map(|(x, y)| x ^ y).collect();
                changed.insert(key.clone(), deflate(&group_planes(&xor, t.dtype.size())));
            }
        }
        Ok(Self { changed })
    }

    /// The tuned generator's tensors: `base` with every changed tensor restored.
    pub fn apply(&self, base: &TensorStore) -> anyhow::Result<TensorStore> {
        let mut out = base.clone();
        for (key, packed) in &self.changed {
            let b: &StoredTensor = base.tensors.get(key).ok_or_else(|| {
                anyhow::anyhow!("the personalization changes `{key}`, which the generator lacks")
            })?;
            let planes = inflate_exactly(packed, b.bytes.len())
                .map_err(|e| anyhow::anyhow!("the personalization of `{key}` is damaged: {e}"))?;
            let xor = ungroup_planes(&planes, b.dtype.size());
            let restored = b.bytes.iter().zip(&xor).map(|(x, y)| x ^ y).collect();
            out.tensors.get_mut(key).expect("present in the copy").bytes = restored;
        }
        Ok(out)
    }

    /// Bytes the delta takes (what a session file stores for it).
    pub fn stored_bytes(&self) -> usize {
        self.changed.iter().map(|(k, v)| k.len() + v.len()).sum()
    }
}

/// Byte `j` of every element together, for j = size−1 (most significant, little-endian) … 0.
fn group_planes(bytes: &[u8], size: usize) -> Vec<u8> {
    let n = bytes.len() / size;
    let mut out = Vec::with_capacity(bytes.len());
    for j in (0..size).rev() {
        out.extend((0..n).map(|i| bytes[i * size + j]));
    }
    out
}

fn ungroup_planes(planes: &[u8], size: usize) -> Vec<u8> {
    let n = planes.len() / size;
    let mut out = vec![0u8; planes.len()];
    for (p, j) in (0..size).rev().enumerate() {
        for i in 0..n {
            out[i * size + j] = planes[p * n + i];
        }
    }
    out
}

fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).expect("writing into memory");
    e.finish().expect("writing into memory")
}

/// Inflates `packed`, which must hold exactly `len` bytes (never reads more than `len + 1`).
fn inflate_exactly(packed: &[u8], len: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    DeflateDecoder::new(packed)
        .take(len as u64 + 1)
        .read_to_end(&mut out)?;
    if out.len() != len {
        return Err(std::io::Error::other(format!(
            "{} bytes instead of {len}",
            out.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(values: &[(&str, Vec<f32>)]) -> TensorStore {
        let mut s = TensorStore::new("<test>");
        for (k, v) in values {
            s.insert_f32(*k, vec![v.len()], v);
        }
        s
    }

    #[test]
    fn the_delta_restores_the_tuned_bits_exactly_and_keeps_only_changed_tensors() {
        let base_values: Vec<f32> = (0..4096).map(|i| ((i as f32) * 0.37).sin()).collect();
        let tuned_values: Vec<f32> = base_values
            .iter()
            .enumerate()
            .map(|(i, v)| v + 1e-3 * ((i as f32) * 1.3).cos())
            .collect();
        let base = store(&[("a", base_values.clone()), ("b", vec![1.0, 2.0])]);
        let tuned = store(&[("a", tuned_values), ("b", vec![1.0, 2.0])]);
        let delta = GeneratorDelta::between(&base, &tuned).unwrap();
        assert_eq!(delta.changed.keys().collect::<Vec<_>>(), vec!["a"]);
        let restored = delta.apply(&base).unwrap();
        assert_eq!(restored.tensors, tuned.tensors);
        // small changes: sign and exponent planes vanish, so well under the raw 16 KiB
        assert!(delta.stored_bytes() < 3 * 4096, "{}", delta.stored_bytes());
    }

    #[test]
    fn a_damaged_delta_is_an_error_not_a_wrong_generator() {
        let base = store(&[("a", vec![1.0; 64])]);
        let tuned = store(&[("a", vec![1.5; 64])]);
        let mut delta = GeneratorDelta::between(&base, &tuned).unwrap();
        let packed = delta.changed.get_mut("a").unwrap();
        packed.truncate(packed.len() / 2);
        let err = delta.apply(&base).unwrap_err().to_string();
        assert!(err.contains("`a` is damaged"), "{err}");
        // a delta of a bigger tensor than the base's is refused as well
        let big = store(&[("a", vec![1.5; 128])]);
        let bigger = GeneratorDelta::between(&store(&[("a", vec![1.0; 128])]), &big).unwrap();
        assert!(bigger.apply(&base).is_err());
    }
}
