use std::path::PathBuf;

use clap::Args;

use crate::weights::{self, GeneratorLayout};

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// PyTorch checkpoint (.pt / .pth, zip or legacy format), safetensors, or a TensorFlow.js
    /// weights manifest (.json).
    pub input: PathBuf,
    /// Output .safetensors file.
    pub output: PathBuf,
}

pub fn run(a: ConvertArgs) -> anyhow::Result<()> {
    if a.input.extension().is_some_and(|e| e == "json") {
        // A TensorFlow.js manifest (face-api's identity network): dequantized, stored as f16.
        let store = weights::tfjs::to_f16(&weights::tfjs::read_tfjs(&a.input)?);
        weights::write_safetensors(&store, &a.output)?;
        println!(
            "{} → {}: {} tensors: TensorFlow.js weights (f16)",
            a.input.display(),
            a.output.display(),
            store.tensors.len()
        );
        return Ok(());
    }
    let read = weights::read_model_checkpoint(&a.input)?;
    let has = |k: &str| read.contains(k);
    let (store, what) = match GeneratorLayout::detect(read.tensors.keys()) {
        Some(_) => {
            let (store, layout) = weights::extract_generator(&read)?;
            // Validate that the tensors really form a generator before writing.
            crate::model::GeneratorConfig::from_store(&store)?;
            let avg = if store.contains("latent_avg") {
                " + latent_avg"
            } else {
                ""
            };
            (
                store,
                format!("StyleGAN2 generator ({}{avg})", layout.name()),
            )
        }
        None if has("styles.0.weight") && has("block_1.0.conv1.weight") => {
            let c = crate::model::encoder::EncoderConfig::from_store(&read)?;
            let what = format!(
                "Feature-Style encoder (widths {:?}, blocks {:?}, {} w+ heads)",
                c.widths, c.layers, c.n_styles
            );
            (read, what)
        }
        None => (read, "no known model layout, copied as is".to_string()),
    };
    weights::write_safetensors(&store, &a.output)?;
    println!(
        "{} → {}: {} tensors: {}",
        a.input.display(),
        a.output.display(),
        store.tensors.len(),
        what
    );
    Ok(())
}
