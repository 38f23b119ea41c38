use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::common::{ModelArgs, open_workspace, parse_slider};
use crate::device::DeviceChoice;
use crate::face::Framing;
use crate::pti::{CancelToken, TuningConfig};
use crate::workspace::{PersonalizeSettings, PivotSource, Workspace};

#[derive(Args, Debug)]
pub struct SessionArgs {
    #[command(subcommand)]
    pub action: SessionAction,
}

#[derive(Subcommand, Debug)]
pub enum SessionAction {
    /// Open photos, set sliders, personalize if asked, and save it all as one session file.
    Save(SaveArgs),
    /// Open a session: list its photos and write each edited face (and whole photo) to a folder.
    Load(LoadArgs),
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// The session file to write (`.facestyle`).
    pub session: PathBuf,
    /// Photos to open (the largest face of each).
    pub photos: Vec<PathBuf>,
    /// Start from this session's photos (then add `photos`).
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// Slider settings for every photo added, `name=value` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_slider)]
    pub sliders: Vec<(String, f32)>,
    #[arg(long)]
    pub directions: Option<PathBuf>,
    #[command(flatten)]
    pub models: ModelArgs,
    /// Personalize each photo added (PTI from the encoder's pivot, as the editor does).
    #[arg(long)]
    pub personalize: bool,
    /// Pivotal tuning steps with --personalize.
    #[arg(long, default_value_t = 350)]
    pub steps_tune: usize,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    pub session: PathBuf,
    /// Write `<name>_edited.png` (and `<name>_edited_full.png` for aligned faces) here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: SessionArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    match a.action {
        SessionAction::Save(a) => save(a, choice),
        SessionAction::Load(a) => load(a, choice),
    }
}

fn save(a: SaveArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let mut ws = a.models.open(choice)?;
    if let Some(p) = &a.directions {
        ws.load_directions(p)?;
    }
    if let Some(from) = &a.from {
        report_loaded(&ws.load_session(from)?);
    }
    let mut added = Vec::new();
    for (p, r) in a
        .photos
        .iter()
        .zip(ws.open_photos(&a.photos, a.models.framing, 4)?)
    {
        let id = r?;
        ws.set_sliders_by_name(id, &a.sliders)?;
        println!("{}: opened", p.display());
        added.push(id);
    }
    if a.personalize {
        let settings = PersonalizeSettings {
            pivot: PivotSource::Encoder,
            tuning: TuningConfig {
                steps: a.steps_tune,
                ..TuningConfig::default()
            },
            ..PersonalizeSettings::default()
        };
        for &id in &added {
            let r = ws.personalize(&[id], &settings, &CancelToken::default(), |_| {})?;
            println!(
                "{}: personalized ({} steps, MSE {:.5} → {:.5})",
                ws.photo(id)?.name(),
                r.steps_tuning,
                r.mse_before,
                r.mse_after
            );
        }
    }
    let saved = ws.save_session(&a.session)?;
    let tunings: Vec<String> = saved
        .tuning_bytes
        .iter()
        .map(|b| format!("{:.1} KiB", *b as f64 / 1024.0))
        .collect();
    println!(
        "{} photos → {} ({:.1} KiB; personalizations: {})",
        saved.photos,
        a.session.display(),
        saved.bytes as f64 / 1024.0,
        if tunings.is_empty() {
            "none".to_string()
        } else {
            tunings.join(", ")
        }
    );
    Ok(())
}

fn load(a: LoadArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let mut ws = open_workspace(choice, None, None, Framing::CenterCrop)?;
    let loaded = ws.load_session(&a.session)?;
    report_loaded(&loaded);
    for &id in &loaded.photos {
        describe(&ws, id)?;
    }
    if let Some(dir) = &a.out {
        let files = ws
            .prepare_export_all(dir)?
            .run(&CancelToken::default(), |_, _| {})?;
        for f in files {
            println!("  → {}", f.display());
        }
    }
    if !loaded.warnings.is_empty() {
        anyhow::bail!(
            "{} part(s) of the session could not be restored",
            loaded.warnings.len()
        );
    }
    Ok(())
}

fn report_loaded(loaded: &crate::workspace::session::SessionLoaded) {
    for w in &loaded.warnings {
        eprintln!("not restored: {w}");
    }
}

fn describe(ws: &Workspace, id: crate::workspace::PhotoId) -> anyhow::Result<()> {
    let photo = ws.photo(id)?;
    let names = ws.directions().map(|d| &d.set.directions);
    let sliders: Vec<String> = photo
        .slider_pairs()
        .into_iter()
        .map(|(i, v)| {
            let name = names
                .and_then(|n| n.get(i))
                .map(|d| d.info.name.clone())
                .unwrap_or_else(|| format!("#{i}"));
            format!("{name}={v}")
        })
        .collect();
    let tuned = photo
        .personalization
        .as_ref()
        .map(|p| format!(", personalized ({} steps)", p.steps))
        .unwrap_or_default();
    println!(
        "{}: sliders [{}]{tuned}",
        photo.path.display(),
        sliders.join(", ")
    );
    Ok(())
}
