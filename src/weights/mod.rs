//! Checkpoint I/O: safetensors (native), PyTorch `.pt`/`.pth` (zip and legacy, read without
//! executing pickle code), layout detection and conversion. Errors name file, key and shapes.

mod error;
pub mod layout;
pub mod pickle;
pub mod random_init;
mod safetensors_file;
mod tensor_store;
pub mod tfjs;
mod torch_checkpoint;

pub use error::WeightsError;
pub use layout::{GeneratorLayout, extract_generator};
pub use safetensors_file::{parse_safetensors, read_safetensors, write_safetensors};
pub use tensor_store::{DType, StoredTensor, TensorStore};
pub use torch_checkpoint::{list_torch_keys, read_torch, read_torch_filtered};

use std::path::Path;

/// Reads a checkpoint by its extension: `.safetensors` natively, anything else as PyTorch.
pub fn read_checkpoint(path: &Path) -> Result<TensorStore, WeightsError> {
    if !path.exists() {
        return Err(WeightsError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("safetensors") => read_safetensors(path),
        _ => read_torch(path),
    }
}

/// Reads a generator checkpoint of any supported layout; PyTorch files only materialize
/// the generator's tensors (discriminator and optimizer states are skipped).
pub fn read_generator_checkpoint(
    path: &Path,
) -> Result<(TensorStore, GeneratorLayout), WeightsError> {
    let store = match path.extension().and_then(|e| e.to_str()) {
        Some("safetensors") => read_safetensors(path)?,
        _ => {
            let layout = peek_torch_layout(path)?;
            read_torch_filtered(path, |k| layout.wants(k))?
        }
    };
    extract_generator(&store)
}

fn peek_torch_layout(path: &Path) -> Result<GeneratorLayout, WeightsError> {
    let keys = list_torch_keys(path)?;
    GeneratorLayout::detect(keys.iter()).ok_or_else(|| WeightsError::Layout {
        path: path.to_path_buf(),
        reason: "no StyleGAN2 generator found (expected `style.1.weight` at the top level, under `g_ema.` or under `decoder.`)".into(),
    })
}
