//! Forms of a module's weights that the CPU kernels derive from them — Winograd-transformed
//! filters, the rearranged upsampling filters, the demodulation's per-pair sums of squares —
//! computed once and kept by the identity of the weights' storage (`StorageKey`), least
//! recently used first out, within a byte budget. A module's weights do not change in place
//! while they are shared (a tuning step makes new tensors), so a key names fixed values.

use std::any::Any;
use std::sync::{Arc, Mutex};

use super::cpu_tensor::StorageKey;

/// Derived forms kept at most (bytes). Enough for every Winograd filter of the released-size
/// encoder (≈ 215 MB), the 1024-px generator's (≈ 150 MB) and LPIPS's together: the models
/// run their layers in the same order every call, so a budget below one model's forms is
/// missed on every layer (least recently used goes first) — at 160 MB the released-size
/// encoder transformed its filters anew on each encode, a third of its time.
const CACHE_BYTES: usize = 512 << 20;

/// Which form of the weights an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `cpu_winograd::Filters`.
    Winograd,
    /// `cpu_winograd::Filters` of a same-size convolution's adjoint (its input gradient).
    WinogradAdjoint,
    /// `cpu_conv::taps_by_input`: the left side of a transposed convolution's product.
    TapsByInput,
    /// Σ over the taps of W², per (out, in) pair: the demodulation's weight part.
    SquaredTaps,
}

struct Entry {
    key: StorageKey,
    form: Form,
    value: Arc<dyn Any + Send + Sync>,
    bytes: usize,
}

static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// A derived form of f32 values (the common case).
pub fn values(
    key: Option<&StorageKey>,
    form: Form,
    make: impl FnOnce() -> Vec<f32>,
) -> Arc<Vec<f32>> {
    derived(key, form, |v: &Vec<f32>| v.len() * 4, make)
}

/// The `form` of the weights named by `key`: from the cache when it was made before, else
/// made now (and kept when `key` is given; `bytes` tells its size).
pub fn derived<T: Any + Send + Sync>(
    key: Option<&StorageKey>,
    form: Form,
    bytes: impl Fn(&T) -> usize,
    make: impl FnOnce() -> T,
) -> Arc<T> {
    let Some(key) = key else {
        return Arc::new(make());
    };
    // the lock is never held while a form is made: that runs parallel loops, and a thread
    // waiting in one may meanwhile run another task that wants the cache
    let lock = || {
        CACHE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    {
        let mut cache = lock();
        if let Some(i) = cache.iter().position(|e| e.form == form && e.key == *key) {
            let entry = cache.remove(i);
            let found = entry.value.clone().downcast::<T>().ok();
            cache.push(entry);
            if let Some(found) = found {
                return found;
            }
        }
    }
    let made = Arc::new(make());
    let size = bytes(&made);
    let mut cache = lock();
    cache.retain(|e| !(e.form == form && e.key == *key));
    let mut total = cache.iter().map(|e| e.bytes).sum::<usize>() + size;
    while total > CACHE_BYTES && !cache.is_empty() {
        total -= cache.remove(0).bytes;
    }
    if total <= CACHE_BYTES {
        cache.push(Entry {
            key: key.clone(),
            form,
            value: made.clone(),
            bytes: size,
        });
    }
    made
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::loader::tensor_from_vec;
    use burn::tensor::Device;

    /// The same weights get the kept form; other weights, or another form, are made anew.
    #[test]
    fn keeps_each_form_of_each_weight() {
        let device = Device::flex();
        let a = tensor_from_vec(vec![1.0, 2.0], [2], &device);
        let b = tensor_from_vec(vec![1.0, 2.0], [2], &device);
        let (ka, kb) = (StorageKey::of(&a), StorageKey::of(&b));
        let mut made = 0;
        let mut get = |key: Option<&StorageKey>, form, v: f32| {
            values(key, form, || {
                made += 1;
                vec![v]
            })
        };
        assert_eq!(*get(ka.as_ref(), Form::SquaredTaps, 1.0), vec![1.0]);
        assert_eq!(*get(ka.as_ref(), Form::SquaredTaps, 9.0), vec![1.0]);
        assert_eq!(*get(kb.as_ref(), Form::SquaredTaps, 2.0), vec![2.0]);
        assert_eq!(*get(ka.as_ref(), Form::TapsByInput, 3.0), vec![3.0]);
        assert_eq!(*get(None, Form::SquaredTaps, 4.0), vec![4.0]);
        assert_eq!(made, 4);
    }
}
