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
    /// Float precision of a TensorFlow.js manifest's tensors in the output (checkpoints keep
    /// theirs).
    #[arg(long, value_enum, default_value_t = Precision::F16)]
    pub precision: Precision,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Precision {
    /// Half the size (the identity network's bundled form).
    F16,
    /// The dequantized values exactly (the attribute networks' bundled form).
    F32,
}

pub fn run(a: ConvertArgs) -> anyhow::Result<()> {
    if a.input.extension().is_some_and(|e| e == "json") {
        // A TensorFlow.js manifest (face-api's networks): dequantized.
        let store = weights::tfjs::read_tfjs(&a.input)?;
        let store = match a.precision {
            Precision::F16 => weights::tfjs::to_f16(&store),
            Precision::F32 => store,
        };
        weights::write_safetensors(&store, &a.output)?;
        println!(
            "{} → {}: {} tensors: TensorFlow.js weights ({:?})",
            a.input.display(),
            a.output.display(),
            store.tensors.len(),
            a.precision
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
