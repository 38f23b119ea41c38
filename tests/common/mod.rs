//! Shared helpers of the integration tests: fixture paths, tensors from stores, tolerances.
#![allow(dead_code)]

use std::path::PathBuf;

use burn::tensor::{Device, Tensor};
use facestyle::model::loader::{tensor_from_vec, tensor_to_vec};
use facestyle::weights::{self, TensorStore};

pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

pub fn store(rel: &str) -> TensorStore {
    weights::read_safetensors(&fixture(rel)).unwrap_or_else(|e| panic!("{e}"))
}

pub fn device() -> Device {
    Device::flex()
}

/// Tensor `key` of a store; with `D` = 1 any stored shape is flattened.
pub fn tensor<const D: usize>(s: &TensorStore, key: &str) -> Tensor<D> {
    let stored = s.shape(key).unwrap_or_else(|e| panic!("{e}")).to_vec();
    let shape: [usize; D] = if D == 1 && stored.len() != 1 {
        [stored.iter().product::<usize>(); D]
    } else {
        stored.clone().try_into().unwrap()
    };
    tensor_from_vec(s.f32(key, &stored).unwrap(), shape, &device())
}

/// Asserts `|a − b| ≤ atol + rtol·|b|` elementwise (the fixtures' suggested check) and
/// returns the max absolute error.
pub fn assert_close<const D: usize>(
    what: &str,
    actual: Tensor<D>,
    expected: Tensor<D>,
    atol: f32,
    rtol: f32,
) -> f32 {
    assert_eq!(actual.dims(), expected.dims(), "{what}: shape");
    let a = tensor_to_vec(actual);
    let b = tensor_to_vec(expected);
    let mut max_err = 0f32;
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let err = (x - y).abs();
        max_err = max_err.max(err);
        assert!(
            err <= atol + rtol * y.abs(),
            "{what}: element {i}: {x} vs expected {y} (|err| {err})"
        );
    }
    max_err
}

/// The forward-pass tolerance of the fixture READMEs for a float32 CPU port.
pub const ATOL: f32 = 1e-4;
pub const RTOL: f32 = 1e-4;

/// A per-process scratch path under the system temp dir.
pub fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("facestyle-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs the `facestyle` binary on the CPU backend, asserts success, returns stdout. Tests
/// rewrite their outputs, so `--force` is on (`tests/photos.rs` checks the refusal without it).
pub fn cli<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_facestyle"))
        .args(["--device", "cpu", "--force"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `assert_close` of tensor `key` in two stores, at the forward-pass tolerance.
pub fn assert_key<const D: usize>(got: &TensorStore, expected: &TensorStore, key: &str) -> f32 {
    assert_close(
        key,
        tensor::<D>(got, key),
        tensor::<D>(expected, key),
        ATOL,
        RTOL,
    )
}

/// LPIPS with the published AlexNet heads on the fixtures' random AlexNet trunk.
pub fn lpips_alex_fixture() -> facestyle::model::lpips::Lpips {
    facestyle::model_source::load_lpips(
        &fixture("lpips_alex/alexnet_trunk.safetensors"),
        Some(&fixture("lpips_alex/lin_alex_v0.1.safetensors")),
        facestyle::model::lpips::TrunkKind::Alex,
        &device(),
    )
    .unwrap()
}

/// CRC-32 of a PNG chunk (type and data), to forge valid headers in tests.
pub fn png_crc(bytes: &[u8]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// An 8-px generator configuration (4 channels, style dim 8): models that build in microseconds.
pub fn tiny_generator_config() -> facestyle::model::GeneratorConfig {
    facestyle::model::GeneratorConfig {
        size: 8,
        style_dim: 8,
        n_mlp: 2,
        lr_mlp: 0.01,
        channels: vec![4, 4],
        z_dim: None,
        conv_clamp: None,
    }
}
