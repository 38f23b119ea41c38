//! Plain-slice access to tensors of burn's `flex` CPU backend, for the CPU kernels of this
//! folder (`cpu_conv`, `cpu_modulated_conv`, `cpu_fir`): a tensor's values are read in place
//! (weights are shared with the module, so reading them through `into_data` would copy
//! them on every call), and results are wrapped without another copy.

use std::any::Any;
use std::cell::RefCell;
use std::sync::Arc;

use burn::backend::Flex;
use burn::tensor::{Device, Tensor, TensorData};
use burn_flex::FlexTensor;

use super::loader::tensor_to_vec;

/// Elementwise work below this many values stays on one thread (waking the pool costs more).
pub const MIN_PARALLEL: usize = 1 << 14;

thread_local! {
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Calls `f` with `len` values of this thread's scratch buffer (kept between calls, so large
/// temporaries are neither zeroed nor faulted in again); their contents are unspecified:
/// `f` writes before it reads. A nested call on the same thread (rayon may run another task
/// while this one waits) gets a fresh buffer.
pub fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() < len {
                buffer.resize(len, 0.0);
            }
            f(&mut buffer[..len])
        }
        Err(_) => f(&mut vec![0f32; len]),
    })
}

/// Whether this CPU has AVX-512F: loops compiled for it in a `#[target_feature]` copy run
/// 16 values an instruction (the crate is built for the x86-64 baseline, where they run 4 at
/// best).
pub fn wide_vectors() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `len` values for a kernel that writes every one of them before anything reads one (a
/// convolution's output, a scaled copy): not zeroed first, so a large buffer is neither
/// cleared twice nor, when the allocator hands back a kept block (`huge_pages`), touched
/// before the kernel writes it. Never read a value of it that was not written.
#[allow(clippy::uninit_vec)]
pub fn unfilled(len: usize) -> Vec<f32> {
    let mut values = Vec::with_capacity(len);
    // SAFETY: f32 has no invalid bit patterns and no destructor, and the caller writes every
    // value before reading it (the contract above).
    unsafe { values.set_len(len) };
    values
}

/// Whether `device` runs the CPU kernels: the `flex` backend without autodiff (the
/// training paths keep burn's differentiable ops).
pub fn is_cpu_inference(device: &Device) -> bool {
    *device == Device::flex() && !device.is_autodiff()
}

/// Calls `f` with the tensor's values in row-major order: borrowed from the backend's
/// storage when the tensor is a contiguous `flex` tensor, else read back (a copy).
pub fn with_values<const D: usize, R>(t: &Tensor<D>, f: impl FnOnce(&[f32]) -> R) -> R {
    if let Ok(primitive) = t.clone().try_into_primitive::<Flex>()
        && let Some(values) = primitive.as_slice::<f32>()
    {
        return f(values);
    }
    f(&tensor_to_vec(t.clone()))
}

/// Calls `f` with the values of each tensor to change them in place, and returns the changed
/// tensors: a `flex` tensor that alone owns its contiguous storage is changed where it lies
/// (an optimizer's moments), a shared one is copied once first. `None` off the `flex` backend.
pub fn update_in_place<const N: usize, const D: usize>(
    tensors: [Tensor<D>; N],
    f: impl FnOnce([&mut [f32]; N]),
) -> Option<[Tensor<D>; N]> {
    let mut owned = Vec::with_capacity(N);
    for t in tensors {
        let dims = t.dims();
        let mut t = t.try_into_primitive::<Flex>().ok()?;
        let n = t.layout().num_elements();
        if t.layout().contiguous_offsets() != Some((0, n)) || t.storage::<f32>().len() != n {
            // a view into a larger or strided storage: its values in a storage of their own
            let values = t.to_contiguous().as_slice::<f32>()?.to_vec();
            t = FlexTensor::from_data(TensorData::new(values, dims));
        }
        owned.push(t);
    }
    let slices: Vec<&mut [f32]> = owned.iter_mut().map(|t| t.storage_mut::<f32>()).collect();
    f(slices.try_into().ok()?);
    let out: Vec<Tensor<D>> = owned
        .into_iter()
        .map(Tensor::from_primitive::<Flex>)
        .collect();
    out.try_into().ok()
}

/// The identity of a `flex` tensor's values: equal for tensors that share their storage,
/// offset and shape (a module's weight on every call), never equal to a later tensor's — it
/// holds the storage alive, so the address cannot be reused, and the storage cannot change in
/// place while it is shared.
#[derive(Clone)]
pub struct StorageKey {
    storage: Arc<dyn Any + Send + Sync>,
    offset: usize,
    dims: Vec<usize>,
}

impl StorageKey {
    pub fn of<const D: usize>(t: &Tensor<D>) -> Option<Self> {
        Self::of_flex(&t.clone().try_into_primitive::<Flex>().ok()?)
    }

    /// The key of a `flex` tensor primitive (e.g. the values under an autodiff tensor).
    pub fn of_flex(t: &FlexTensor) -> Option<Self> {
        let (offset, _) = t.layout().contiguous_offsets()?;
        Some(Self {
            storage: t.data_arc(),
            offset,
            dims: t.layout().shape().to_vec(),
        })
    }
}

impl std::fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StorageKey({:p} + {}, {:?})",
            Arc::as_ptr(&self.storage),
            self.offset,
            self.dims
        )
    }
}

impl PartialEq for StorageKey {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.storage), Arc::as_ptr(&other.storage))
            && self.offset == other.offset
            && self.dims == other.dims
    }
}

/// `dst[m, n] = lhs[m, k] · rhs[k, n]` (f32 products summed in f32), every operand given as
/// (values, row stride, column stride); the destination is row-major and overwritten.
pub fn matmul(
    dst: &mut [f32],
    shape: [usize; 3],
    lhs: (&[f32], usize, usize),
    rhs: (&[f32], usize, usize),
) {
    product(dst, shape, lhs, rhs, gemm::Parallelism::Rayon(0));
}

/// `matmul` on the calling thread alone (for products that already run one per thread).
pub fn matmul_single_thread(
    dst: &mut [f32],
    shape: [usize; 3],
    lhs: (&[f32], usize, usize),
    rhs: (&[f32], usize, usize),
) {
    product(dst, shape, lhs, rhs, gemm::Parallelism::None);
}

/// `matmul_single_thread` into columns of a larger row-major matrix: `dst[i·row_stride + j]`
/// for row `i` < m and column `j` < n (e.g. one band of output positions of every channel,
/// written in place while other threads write the other bands).
///
/// # Safety
/// `dst` must be valid for writes at every such index, and no other thread may read or write
/// those values while the product runs.
pub unsafe fn matmul_single_thread_into(
    dst: *mut f32,
    row_stride: usize,
    [m, n, k]: [usize; 3],
    lhs: (&[f32], usize, usize),
    rhs: (&[f32], usize, usize),
) {
    check_operands([m, n, k], lhs, rhs);
    assert!(n <= row_stride, "a row's columns fit within its stride");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for i in 0..m {
            // SAFETY: row i's n columns are the caller's to write.
            unsafe { std::slice::from_raw_parts_mut(dst.add(i * row_stride), n).fill(0.0) };
        }
        return;
    }
    // SAFETY: the operands were bounds-checked above, the destination is the caller's promise.
    unsafe {
        gemm_into(
            dst,
            row_stride,
            [m, n, k],
            lhs,
            rhs,
            gemm::Parallelism::None,
        )
    }
}

/// Panics unless `lhs` holds `m`×`k` and `rhs` `k`×`n` values at their strides.
fn check_operands([m, n, k]: [usize; 3], lhs: (&[f32], usize, usize), rhs: (&[f32], usize, usize)) {
    let last = |(v, rs, cs): (&[f32], usize, usize), rows: usize, cols: usize| {
        assert!(
            rows == 0 || cols == 0 || (rows - 1) * rs + (cols - 1) * cs < v.len(),
            "matmul operand too small"
        );
    };
    last(lhs, m, k);
    last(rhs, k, n);
}

/// gemm's product into `dst` with rows `row_stride` apart.
///
/// # Safety
/// As `matmul_single_thread_into`, and the operands hold their shapes (`check_operands`).
unsafe fn gemm_into(
    dst: *mut f32,
    row_stride: usize,
    [m, n, k]: [usize; 3],
    lhs: (&[f32], usize, usize),
    rhs: (&[f32], usize, usize),
    parallelism: gemm::Parallelism,
) {
    // SAFETY: the caller's promises.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            row_stride as isize,
            false,
            lhs.0.as_ptr(),
            lhs.2 as isize,
            lhs.1 as isize,
            rhs.0.as_ptr(),
            rhs.2 as isize,
            rhs.1 as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

fn product(
    dst: &mut [f32],
    [m, n, k]: [usize; 3],
    lhs: (&[f32], usize, usize),
    rhs: (&[f32], usize, usize),
    parallelism: gemm::Parallelism,
) {
    assert!(dst.len() >= m * n, "matmul destination too small");
    check_operands([m, n, k], lhs, rhs);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        dst[..m * n].fill(0.0);
        return;
    }
    // SAFETY: every index the product reads or writes was bounds-checked above.
    unsafe { gemm_into(dst.as_mut_ptr(), n, [m, n, k], lhs, rhs, parallelism) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::loader::tensor_from_vec;

    /// Whole tensors, views into a larger storage and shared tensors: each result holds the
    /// changed values, and a tensor that shares the storage keeps its own.
    #[test]
    fn update_in_place_changes_only_the_updated_tensors() {
        let device = Device::flex();
        let whole = tensor_from_vec((0..8).map(|v| v as f32).collect(), [8], &device);
        let view = whole.clone().narrow(0, 2, 3);
        let shared = whole.clone();
        let [a, b] = update_in_place([whole.clone(), view], |[a, b]| {
            a.iter_mut().for_each(|v| *v += 10.0);
            b.iter_mut().for_each(|v| *v *= -1.0);
        })
        .expect("flex tensors");
        assert_eq!(
            tensor_to_vec(a),
            (10..18).map(|v| v as f32).collect::<Vec<_>>()
        );
        assert_eq!(tensor_to_vec(b), vec![-2.0, -3.0, -4.0]);
        assert_eq!(
            tensor_to_vec(shared),
            (0..8).map(|v| v as f32).collect::<Vec<_>>()
        );
    }
}
