//! Checkpoint I/O: safetensors (native), PyTorch `.pt`/`.pth` (zip and legacy, read without
//! executing pickle code), layout detection and conversion. Errors name file, key and shapes.

mod error;
pub mod layout;
mod nvidia;
pub mod pickle;
mod safetensors_file;
mod tensor_store;
pub mod tfjs;
mod torch_checkpoint;

pub use error::WeightsError;
pub use layout::{GeneratorLayout, extract_generator};
pub use safetensors_file::{parse_safetensors, read_safetensors, write_safetensors};
pub use tensor_store::{DType, StoredTensor, TensorStore, strided_to_row_major};
pub use torch_checkpoint::{KeyFilter, read_torch, read_torch_filtered};

use std::path::Path;

/// The bytes of a regular file: a device, pipe or folder named where a file is expected (e.g.
/// `/dev/zero` in a crafted session) is refused instead of read without end.
pub fn read_regular_file(path: &Path) -> std::io::Result<Vec<u8>> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    std::fs::read(path)
}

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

/// Reads a checkpoint for a model: a PyTorch file holding a StyleGAN2 generator only
/// materializes the generator's tensors and `latent_avg` (discriminator and optimizer states
/// are skipped); anything else is read whole.
pub fn read_model_checkpoint(path: &Path) -> Result<TensorStore, WeightsError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("safetensors") => read_checkpoint(path),
        _ => read_torch_filtered(path, |keys| match GeneratorLayout::detect(keys.iter()) {
            Some(layout) => Box::new(move |k| layout.wants(k)),
            None => Box::new(|_| true),
        }),
    }
}

/// Reads a generator checkpoint of any supported layout (see [`read_model_checkpoint`]).
pub fn read_generator_checkpoint(
    path: &Path,
) -> Result<(TensorStore, GeneratorLayout), WeightsError> {
    extract_generator(&read_model_checkpoint(path)?)
}
