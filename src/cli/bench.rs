use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};

use crate::device::{ComputeDevice, DeviceChoice};
use crate::model::loader::tensor_to_vec;
use crate::model::{Generator, GeneratorConfig, NoiseMode};
use crate::model_source::load_generator;
use crate::weights::random_init::random_generator_store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchTarget {
    /// Mapping + synthesis, ms per image at batch 1 and 8.
    Generator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchModel {
    /// The model the app runs (bundled, or --weights).
    App,
    /// A random-weight FFHQ config-f generator (1024 px, style 512, 8 mapping layers).
    Ffhq1024,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    pub target: BenchTarget,
    #[arg(long, value_enum, default_value_t = BenchModel::App)]
    pub model: BenchModel,
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Timed repetitions per batch size (after one warm-up run).
    #[arg(long, default_value_t = 3)]
    pub iters: usize,
    /// Batch sizes to time.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 8])]
    pub batch: Vec<usize>,
}

fn time_generator(g: &Generator, batch: usize, iters: usize) -> f64 {
    let run = |seed| {
        let w = g.broadcast(g.map(g.seeded_z(seed, batch)));
        let img = g.synthesize(w, &NoiseMode::Stored, None, &[]).expect("valid w+").image;
        // Reading back forces the device to finish.
        tensor_to_vec(img.narrow(0, 0, 1).narrow(2, 0, 1));
    };
    run(0);
    let start = Instant::now();
    for i in 0..iters {
        run(i as u64 + 1);
    }
    start.elapsed().as_secs_f64() * 1000.0 / (iters * batch) as f64
}

pub fn run(a: BenchArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let dev = ComputeDevice::select(choice);
    let device = &dev.device;
    let (g, label) = match a.model {
        BenchModel::App => {
            let (g, origin) = load_generator(a.weights.as_deref(), device)?;
            (g, origin.to_string())
        }
        BenchModel::Ffhq1024 => {
            let store = random_generator_store(&GeneratorConfig::stylegan2(1024, 512, 8, 2), 0);
            (Generator::load(&store, device)?, "random-weight FFHQ config-f".to_string())
        }
    };
    match a.target {
        BenchTarget::Generator => {
            println!("bench generator: {label}, {}px, on {dev}", g.config.size);
            for &b in &a.batch {
                let ms = time_generator(&g, b, a.iters.max(1));
                println!("  batch {b:>2}: {ms:9.1} ms/image ({:.1} images/s)", 1000.0 / ms);
            }
        }
    }
    Ok(())
}
