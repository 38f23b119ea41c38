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
    /// A clip instead of one image: slider NAME moving from LO to HI and back, as a looping
    /// GIF (`--out clip.gif`), e.g. `--sweep "Smile=-2.8:2.8"`.
    #[arg(long, value_name = "NAME=LO:HI", value_parser = parse_sweep)]
    pub sweep: Option<(String, f32, f32)>,
    /// Frames from LO to HI in a sweep.
    #[arg(long, default_value_t = 24)]
    pub frames: usize,
    /// Milliseconds each frame of a sweep is shown.
    #[arg(long, default_value_t = 80)]
    pub frame_ms: u32,
    #[arg(long)]
    pub out: PathBuf,
}

/// `NAME=LO:HI`.
fn parse_sweep(s: &str) -> Result<(String, f32, f32), String> {
    let (name, range) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("`{s}`: expected NAME=LO:HI"))?;
    let (lo, hi) = range
        .split_once(':')
        .ok_or_else(|| format!("`{s}`: expected NAME=LO:HI"))?;
    let number = |t: &str| {
        t.trim()
            .parse::<f32>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("`{t}` is not a number"))
    };
    Ok((name.trim().to_string(), number(lo)?, number(hi)?))
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
    if let Some((name, lo, hi)) = &a.sweep {
        if a.out
            .extension()
            .is_none_or(|e| !e.eq_ignore_ascii_case("gif"))
        {
            anyhow::bail!(
                "{}: a sweep is written as a GIF: name the output *.gif",
                a.out.display()
            );
        }
        let index = ws.directions().map_or(Ok(0), |d| d.set.index_of(name))?;
        let n = ws.export_sweep(id, index, (*lo, *hi), (a.frames, a.frame_ms), &a.out)?;
        println!(
            "{name} {lo:+} → {hi:+} and back, {n} frames → {}",
            a.out.display()
        );
        return Ok(());
    }
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
