use std::path::PathBuf;

use clap::Args;

use super::common::{open_workspace, parse_noise, save_pngs};
use crate::device::DeviceChoice;
use crate::face::Framing;

#[derive(Args, Debug)]
pub struct EditArgs {
    /// Codes of the face (from `invert`).
    pub codes: PathBuf,
    /// Slider settings, `name=value` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = super::common::parse_slider)]
    pub sliders: Vec<(String, f32)>,
    /// Direction set (default: the bundled one).
    #[arg(long)]
    pub directions: Option<PathBuf>,
    #[arg(long)]
    pub weights: Option<PathBuf>,
    #[arg(long, default_value = "const")]
    pub noise: String,
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(a: EditArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let mut ws = open_workspace(choice, a.weights.as_deref(), None, Framing::CenterCrop)?;
    match &a.directions {
        Some(p) => ws.load_directions(p)?,
        None => {
            if let Some(problem) = ws.use_bundled_directions() {
                anyhow::bail!("no direction set: pass --directions SET.safetensors ({problem})");
            }
        }
    }
    ws.noise = parse_noise(&a.noise, None, ws.generator()?, 0, ws.burn_device())?;
    let id = ws.open_codes(&a.codes)?;
    ws.set_sliders_by_name(id, &a.sliders)?;
    let edited = ws.edited(id)?;
    save_pngs(std::slice::from_ref(&edited), &a.out)?;
    // Codes made from an aligned photo: also the whole photo with the edited face pasted back.
    if ws.photo(id)?.face.aligned.is_some() {
        let stem = a
            .out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = a.out.with_file_name(format!("{stem}_full.png"));
        match ws.paste_into_photo(id, &edited) {
            Ok(full) => {
                crate::workspace::save_png(&full, &path)?;
                println!("whole photo with the edited face → {}", path.display());
            }
            Err(e) => eprintln!("no paste-back: {e:#}"),
        }
    }
    Ok(())
}
