use std::ops::Range;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use crate::device::{ComputeDevice, DeviceChoice};
use crate::edit::directions::pick::{Pick, parse_layers, pick};
use crate::edit::directions::{DirectionSet, Owner, import};
use crate::model_source::load_generator;
use crate::workspace::DirectionMethod;

#[derive(Args, Debug)]
pub struct DirectionsArgs {
    #[command(subcommand)]
    pub action: DirectionsAction,
}

#[derive(Subcommand, Debug)]
pub enum DirectionsAction {
    /// SeFa: closed-form directions from the generator's modulation weights.
    Sefa {
        #[arg(long)]
        weights: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// w+ layers whose styles the directions should move (default: all).
        #[arg(long, value_parser = parse_layers)]
        layers: Option<Range<usize>>,
        #[arg(long, default_value_t = 10)]
        count: usize,
    },
    /// GANSpace: PCA of mapped latents of sampled z.
    Ganspace {
        #[arg(long)]
        weights: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// Sampled z (default 10,000 on GPU, 2,000 on CPU).
        #[arg(long)]
        samples: Option<usize>,
        #[arg(long, default_value_t = 20)]
        count: usize,
        #[arg(long, value_parser = parse_layers)]
        layers: Option<Range<usize>>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Import an InterFaceGAN boundary (.npy, W or per-layer w+; or a .pt tensor).
    ImportInterfacegan {
        file: PathBuf,
        #[arg(long)]
        name: Option<String>,
        /// Add to this set (created if missing); default: `<file stem>.directions.safetensors`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Style dim of the generator the file was made for.
        #[arg(long, default_value_t = 512)]
        style_dim: usize,
        /// w+ entries of that generator (18 for FFHQ 1024).
        #[arg(long, default_value_t = 18)]
        n_latent: usize,
        #[arg(long, value_parser = parse_layers)]
        layers: Option<Range<usize>>,
    },
    /// Import a GANSpace PCA file (`comp`, `mean`, `std`).
    ImportGanspace {
        file: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 20)]
        count: usize,
        #[arg(long, default_value_t = 18)]
        n_latent: usize,
    },
    /// List the directions of a set.
    List { set: PathBuf },
    /// Compose a named set from computed ones, e.g.
    /// `--take "sefa 3=Age,layers=2..6,range=4,flip"` (flip: + means more of the attribute).
    Pick {
        /// Sets to pick from (all of one generator).
        sets: Vec<PathBuf>,
        /// `OLD=NEW[,layers=A..B][,range=R][,flip]`, once per direction, in slider order.
        #[arg(long = "take", required = true, value_parser = Pick::parse)]
        takes: Vec<Pick>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Render a strip per direction (its slider from min to max on a random face) to name it by
    /// looking: `<out>/<name>.png`.
    Strip {
        set: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        weights: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Images per strip.
        #[arg(long, default_value_t = 7)]
        steps: usize,
        /// Faces (one row each: seed, seed+1, …).
        #[arg(long, default_value_t = 1)]
        faces: usize,
        #[arg(long, default_value_t = 0.7)]
        truncation: f32,
    },
}

pub fn run(a: DirectionsArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let computed = |weights: &Option<PathBuf>| -> anyhow::Result<_> {
        let dev = ComputeDevice::select(choice);
        println!("device: {dev}");
        let (g, origin) = load_generator(weights.as_deref(), &dev.device)?;
        println!("generator: {origin}");
        Ok((g, dev))
    };
    let save = |set: &DirectionSet, out: &PathBuf| -> anyhow::Result<()> {
        set.save(out)?;
        println!("{} directions → {}", set.directions.len(), out.display());
        Ok(())
    };
    match a.action {
        DirectionsAction::Sefa {
            weights,
            out,
            layers,
            count,
        } => compute(
            choice,
            weights.as_deref(),
            DirectionMethod::Sefa { layers, count },
            &out,
            "eigenvalue",
        ),
        DirectionsAction::Ganspace {
            weights,
            out,
            samples,
            count,
            layers,
            seed,
        } => {
            let samples = samples.unwrap_or(match ComputeDevice::select(choice).kind {
                crate::device::BackendKind::Gpu => 10_000,
                crate::device::BackendKind::Cpu => 2_000,
            });
            let method = DirectionMethod::Ganspace {
                samples,
                count,
                layers,
                seed,
            };
            compute(choice, weights.as_deref(), method, &out, "variance")
        }
        DirectionsAction::ImportInterfacegan {
            file,
            name,
            out,
            style_dim,
            n_latent,
            layers,
        } => {
            let mut d = import::import_interfacegan(&file, name.as_deref(), style_dim)?;
            if let Some(l) = layers {
                d.info.layers = l;
            }
            let out = out.unwrap_or_else(|| file.with_extension("directions.safetensors"));
            let mut set = if out.exists() {
                DirectionSet::load(&out).with_context(|| format!("adding to {}", out.display()))?
            } else {
                DirectionSet::new(Owner::Shape, style_dim, n_latent)
            };
            set.push(d)?;
            save(&set, &out)
        }
        DirectionsAction::ImportGanspace {
            file,
            out,
            count,
            n_latent,
        } => {
            let dirs = import::import_ganspace(&file, count)?;
            let Some(first) = dirs.first() else {
                bail!("{}: no components", file.display())
            };
            let mut set = DirectionSet::new(Owner::Shape, first.vector.len(), n_latent);
            for d in dirs {
                set.push(d)?;
            }
            save(&set, &out)
        }
        DirectionsAction::Strip {
            set,
            out,
            weights,
            seed,
            steps,
            faces,
            truncation,
        } => {
            let (g, _) = computed(&weights)?;
            let set = DirectionSet::load(&set)?;
            set.check(&g)?;
            let w = g.seeded_wplus(seed, faces.max(1), truncation);
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let steps = steps.max(2);
            for (i, d) in set.directions.iter().enumerate() {
                let (lo, hi) = d.info.range;
                let edits: Vec<_> = (0..steps)
                    .map(|k| {
                        let alpha = lo + (hi - lo) * k as f32 / (steps - 1) as f32;
                        set.apply(&g, w.clone(), &[(i, alpha)])
                    })
                    .collect::<Result<_, _>>()?;
                let image = g
                    .synthesize(
                        burn::tensor::Tensor::cat(edits, 0),
                        &crate::model::NoiseMode::Stored,
                        None,
                        &[],
                    )?
                    .image;
                let file = out.join(format!("{}.png", d.info.name.replace([' ', '/'], "_")));
                // rendered slider-step-major; shown one face per row
                let images = crate::imaging::tensor_to_rgb_images(image);
                let rows: Vec<_> = (0..faces)
                    .flat_map(|f| (0..steps).map(move |k| k * faces + f))
                    .map(|i| images[i].clone())
                    .collect();
                crate::safe_write::save_image(&crate::imaging::grid(&rows, steps), &file)?;
                println!(
                    "  {:<16} {lo:+.1} … {hi:+.1} → {}",
                    d.info.name,
                    file.display()
                );
            }
            Ok(())
        }
        DirectionsAction::Pick { sets, takes, out } => {
            let sources = sets
                .iter()
                .map(|p| DirectionSet::load(p).with_context(|| format!("reading {}", p.display())))
                .collect::<anyhow::Result<Vec<_>>>()?;
            save(&pick(&sources, &takes)?, &out)
        }
        DirectionsAction::List { set } => {
            let s = DirectionSet::load(&set)?;
            println!(
                "{}: style dim {}, {} w+ layers, owner {:?}",
                set.display(),
                s.style_dim,
                s.n_latent,
                s.owner
            );
            for d in &s.directions {
                let i = &d.info;
                println!(
                    "  {:<16} layers {:>2}..{:<2} range {:?}  ({})",
                    i.name, i.layers.start, i.layers.end, i.range, i.source
                );
            }
            Ok(())
        }
    }
}

/// SeFa or GANSpace on the generator, as the editor computes them; the set is saved to `out`.
fn compute(
    choice: DeviceChoice,
    weights: Option<&std::path::Path>,
    method: DirectionMethod,
    out: &std::path::Path,
    strength: &str,
) -> anyhow::Result<()> {
    let mut ws =
        super::common::open_workspace(choice, weights, None, crate::face::Framing::CenterCrop)?;
    let computed = ws
        .prepare_directions(method)?
        .run(&crate::pti::CancelToken::default(), |_| {})?;
    let total: f64 = computed.strengths.iter().sum();
    for (d, v) in computed.set.directions.iter().zip(&computed.strengths) {
        println!(
            "  {:<10} {strength} {v:.4e} ({:.1}% of the listed)",
            d.info.name,
            100.0 * v / total
        );
    }
    ws.use_computed_directions(computed)?;
    ws.save_directions(out)?;
    println!(
        "{} directions → {}",
        ws.directions().map_or(0, |d| d.set.directions.len()),
        out.display()
    );
    Ok(())
}
