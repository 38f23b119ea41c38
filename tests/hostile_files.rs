//! Hostile files: every loader of a format we read gets seeded mutants of one valid sample
//! (bit flips biased to headers, truncations, zeroed and spliced spans, oversized length
//! fields, inserted junk) and hand-made attacks with the exact error they must give. Pass =
//! no panic, no abort, no allocation past a fixed cap (a capping global allocator), every
//! case within a time bound (a hang detector, not a benchmark). The table printed by
//! `mutation_harness` is the one in docs/reliability.md.

mod common;

use std::alloc::{GlobalAlloc, Layout};
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use facestyle::device::ComputeDevice;
use facestyle::edit::Codes;
use facestyle::edit::directions::import::read_npy;
use facestyle::edit::directions::{Direction, DirectionInfo, DirectionSet, Owner};
use facestyle::face::Framing;
use facestyle::huge_pages::HugePageAllocator;
use facestyle::imaging::load_photo;
use facestyle::model::Generator;
use facestyle::model::encoder::{EncoderConfig, FeatureStyleEncoder};
use facestyle::model::loader::tensor_from_vec;
use facestyle::model::random_init::{random_encoder_store, random_generator_store};
use facestyle::pti::{CancelToken, TuningConfig};
use facestyle::weights::{self, tfjs::read_tfjs};
use facestyle::workspace::{PersonalizeSettings, PivotSource, Workspace};

/// No single run may hold more than this at once (the largest legitimate decode a mutant can
/// ask for is a 100-MP image, ≈ 0.4 GB).
const MEMORY_CAP: usize = 1 << 30;
/// A case slower than this is a hang.
const TIME_BOUND: Duration = Duration::from_secs(10);

/// The application's allocator (`src/main.rs`) with a cap on what is live at once.
struct CappedAllocator;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static OVER_CAP: AtomicBool = AtomicBool::new(false);

impl CappedAllocator {
    fn admit(size: usize) -> bool {
        let now = LIVE.fetch_add(size, Ordering::Relaxed) + size;
        if now > MEMORY_CAP {
            LIVE.fetch_sub(size, Ordering::Relaxed);
            OVER_CAP.store(true, Ordering::Relaxed);
            return false;
        }
        PEAK.fetch_max(now, Ordering::Relaxed);
        true
    }
}

unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !Self::admit(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { HugePageAllocator.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !Self::admit(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { HugePageAllocator.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { HugePageAllocator.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() && !Self::admit(new_size - layout.size()) {
            return std::ptr::null_mut();
        }
        let out = unsafe { HugePageAllocator.realloc(ptr, layout, new_size) };
        if out.is_null() {
            if new_size > layout.size() {
                LIVE.fetch_sub(new_size - layout.size(), Ordering::Relaxed);
            }
        } else if new_size < layout.size() {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        out
    }
}

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

/// The tests of this file measure memory: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// SplitMix64: deterministic, seeded, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// A position, three times in four within the first or last 256 bytes (headers, zip
    /// central directories).
    fn position(&mut self, len: usize) -> usize {
        match self.below(8) {
            0..=3 => self.below(len.min(256)),
            4 | 5 => len.saturating_sub(1 + self.below(len.min(256))),
            _ => self.below(len),
        }
    }
}

/// One mutant of `sample`: the kind of damage is chosen by `rng`.
fn mutate(sample: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut m = sample.to_vec();
    let len = m.len();
    match rng.below(6) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                let at = rng.position(len);
                m[at] ^= 1 << rng.below(8);
            }
        }
        1 => m.truncate(rng.below(len)),
        2 => {
            let at = rng.position(len);
            let end = (at + 1 + rng.below(64)).min(len);
            m[at..end].fill(0);
        }
        3 => {
            let from = rng.below(len);
            let n = 1 + rng.below(64.min(len - from));
            let span = m[from..from + n].to_vec();
            let to = rng.position(len).min(len - n);
            m[to..to + n].copy_from_slice(&span);
        }
        4 => {
            let field: &[u8] = match rng.below(5) {
                0 => &[0xff; 8],
                1 => &[0xff, 0xff, 0xff, 0x7f],
                2 => &[0, 0, 0, 0x80, 0, 0, 0, 0],
                3 => &[0xff, 0xff],
                _ => &[0, 0, 0, 0x40, 0, 0, 0, 0x40],
            };
            let at = rng.position(len).min(len.saturating_sub(field.len()));
            let n = field.len().min(len - at);
            m[at..at + n].copy_from_slice(&field[..n]);
        }
        _ => {
            let at = rng.position(len);
            let junk: Vec<u8> = (0..1 + rng.below(32)).map(|_| rng.next() as u8).collect();
            m.splice(at..at, junk);
        }
    }
    m
}

/// Reads a file of one format; `Err` is a refusal (its message), a panic is a failure.
type Loader = Box<dyn Fn(&Path) -> Result<(), String>>;

/// A format: its valid sample files (mutated one at a time; the others stay as they are) and
/// the loader that reads the main one.
struct Format {
    name: &'static str,
    files: Vec<(PathBuf, Vec<u8>)>,
    load: Loader,
}

#[derive(Default)]
struct Outcome {
    refused: usize,
    accepted: usize,
    panics: Vec<String>,
    slowest: Duration,
    peak: usize,
}

fn run_format(f: &Format, mutants: usize, seed: u64) -> Outcome {
    for (path, bytes) in &f.files {
        std::fs::write(path, bytes).unwrap();
    }
    (f.load)(&f.files[0].0)
        .unwrap_or_else(|e| panic!("{}: the valid sample is refused: {e}", f.name));
    let mut rng = Rng(seed);
    let mut out = Outcome::default();
    for i in 0..mutants {
        let which = rng.below(f.files.len());
        let (path, sample) = &f.files[which];
        let mutant = mutate(sample, &mut rng);
        std::fs::write(path, &mutant).unwrap();
        PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
        let base = LIVE.load(Ordering::Relaxed);
        let start = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| (f.load)(&f.files[0].0)));
        out.slowest = out.slowest.max(start.elapsed());
        out.peak = out
            .peak
            .max(PEAK.load(Ordering::Relaxed).saturating_sub(base));
        match result {
            Ok(Ok(())) => out.accepted += 1,
            Ok(Err(_)) => out.refused += 1,
            Err(_) => {
                let keep = std::env::temp_dir().join(format!("facestyle-panic-{}-{i}", f.name));
                std::fs::write(&keep, &mutant).unwrap();
                out.panics.push(keep.display().to_string());
            }
        }
        std::fs::write(path, sample).unwrap();
    }
    out
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("facestyle-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn tiny_encoder_config() -> EncoderConfig {
    EncoderConfig {
        widths: vec![4, 4, 4, 4],
        layers: vec![1, 1, 1, 1],
        fmaps: 4,
        style_dim: 8,
        n_styles: 4,
        content_stride: 2,
        input_resolution: 32,
        k: 3,
        bn_eps: 1e-5,
    }
}

fn safetensors_bytes(store: &weights::TensorStore, name: &str) -> Vec<u8> {
    let p = tmp(name);
    weights::write_safetensors(store, &p).unwrap();
    std::fs::read(&p).unwrap()
}

fn npy_bytes(shape: &[usize], descr: &str, fortran: bool, values: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(values);
    out
}

fn image_bytes(format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(80, 72, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 3) as u8, 128])
    });
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

/// A valid session of the tiny model (a photo with a slider set and a 2-step personalization,
/// so the file holds a generator delta) and a workspace to load it into.
struct SessionSample {
    bytes: Vec<u8>,
    workspace: std::cell::RefCell<Workspace>,
}

fn session_sample(gen_store: &weights::TensorStore) -> SessionSample {
    let (g, e, photo) = (
        tmp("sg.safetensors"),
        tmp("se.safetensors"),
        tmp("face.png"),
    );
    weights::write_safetensors(gen_store, &g).unwrap();
    // an encoder that fits the tiny generator: F = its 4×4 activation after conv1 (K = 1)
    let config = EncoderConfig {
        content_stride: 1,
        k: 1,
        ..tiny_encoder_config()
    };
    weights::write_safetensors(&random_encoder_store(&config, 3), &e).unwrap();
    std::fs::write(&photo, image_bytes(image::ImageFormat::Png)).unwrap();
    let open = || {
        let mut ws = Workspace::new(ComputeDevice::cpu());
        ws.load_generator(Some(&g)).unwrap();
        ws.load_encoder(Some(&e)).unwrap();
        ws
    };
    let mut ws = open();
    let id = ws.open_photo(&photo, Framing::CenterCrop, 0).unwrap();
    ws.set_slider(id, 0, 1.0).unwrap();
    let settings = PersonalizeSettings {
        pivot: PivotSource::Encoder,
        tuning: TuningConfig {
            steps: 2,
            ..TuningConfig::default()
        },
        ..PersonalizeSettings::default()
    };
    ws.personalize(&[id], &settings, &CancelToken::default(), |_| {})
        .unwrap();
    let path = tmp("s0.facestyle");
    ws.save_session(&path).unwrap();
    SessionSample {
        bytes: std::fs::read(&path).unwrap(),
        workspace: std::cell::RefCell::new(open()),
    }
}

fn err(e: &dyn std::fmt::Display) -> String {
    e.to_string()
}

fn formats() -> Vec<Format> {
    let device = common::device();
    let gcfg = common::tiny_generator_config();
    let gen_store = random_generator_store(&gcfg, 1);
    let enc_store = random_encoder_store(&tiny_encoder_config(), 2);
    let codes = Codes {
        wplus: tensor_from_vec(
            (0..32).map(|i| i as f32 / 32.0).collect(),
            [1, 4, 8],
            &device,
        ),
        feature: tensor_from_vec(vec![0.5; 16], [1, 4, 2, 2], &device),
        k: 3,
    };
    let codes_path = tmp("codes.safetensors");
    codes.save(&codes_path, "gid").unwrap();
    let mut set = DirectionSet::new(Owner::Generator("gid".into()), 8, 4);
    for (i, layers) in [(0usize, 0..4), (1, 1..3)] {
        set.push(Direction {
            info: DirectionInfo {
                name: format!("d{i}"),
                layers,
                range: (-3.0, 3.0),
                source: "test".into(),
            },
            vector: (0..8).map(|j| (i + j) as f32).collect(),
        })
        .unwrap();
    }
    let set_path = tmp("set.safetensors");
    set.save(&set_path).unwrap();
    let tfjs_manifest = br#"[{"paths": ["shard1.bin"], "weights": [
        {"name": "conv/filters", "shape": [2, 3], "dtype": "float32"},
        {"name": "conv/bias", "shape": [4], "dtype": "float32",
         "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0}}]}]"#
        .to_vec();
    let mut shard: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
    shard.extend([0u8, 1, 2, 255]);
    let npy_values: Vec<u8> = (0..32).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let session = session_sample(&gen_store);
    let hostile = common::fixture("hostile");
    let dev = device.clone();
    let dev2 = device.clone();
    let dev3 = device.clone();
    vec![
        Format {
            name: "safetensors generator",
            files: vec![(
                tmp("g.safetensors"),
                safetensors_bytes(&gen_store, "g0.safetensors"),
            )],
            load: Box::new(move |p| {
                let st = weights::read_safetensors(p).map_err(|e| err(&e))?;
                Generator::load(&st, &dev).map(|_| ()).map_err(|e| err(&e))
            }),
        },
        Format {
            name: "safetensors encoder",
            files: vec![(
                tmp("e.safetensors"),
                safetensors_bytes(&enc_store, "e0.safetensors"),
            )],
            load: Box::new(move |p| {
                let st = weights::read_safetensors(p).map_err(|e| err(&e))?;
                FeatureStyleEncoder::load(&st, &dev2)
                    .map(|_| ())
                    .map_err(|e| err(&e))
            }),
        },
        Format {
            name: "safetensors codes",
            files: vec![(tmp("c.safetensors"), std::fs::read(&codes_path).unwrap())],
            load: Box::new(move |p| {
                Codes::load(p, "gid", &dev3)
                    .map(|_| ())
                    .map_err(|e| err(&e))
            }),
        },
        Format {
            name: "safetensors direction set",
            files: vec![(tmp("d.safetensors"), std::fs::read(&set_path).unwrap())],
            load: Box::new(|p| DirectionSet::load(p).map(|_| ()).map_err(|e| err(&e))),
        },
        Format {
            name: "session .facestyle",
            files: vec![(tmp("s.facestyle"), session.bytes)],
            load: Box::new(move |p| {
                let mut ws = session.workspace.borrow_mut();
                let result = ws.load_session(p).map_err(|e| format!("{e:#}"));
                for id in ws.photos().iter().map(|p| p.id).collect::<Vec<_>>() {
                    ws.close_photo(id).unwrap();
                }
                result.and_then(|loaded| match loaded.warnings.first() {
                    Some(w) => Err(w.clone()),
                    None => Ok(()),
                })
            }),
        },
        Format {
            name: "PyTorch zip .pt",
            files: vec![(
                tmp("z.pt"),
                std::fs::read(hostile.join("valid_zip.pt")).unwrap(),
            )],
            load: Box::new(|p| weights::read_checkpoint(p).map(|_| ()).map_err(|e| err(&e))),
        },
        Format {
            name: "PyTorch legacy .pt",
            files: vec![(
                tmp("l.pt"),
                std::fs::read(hostile.join("valid_legacy.pt")).unwrap(),
            )],
            load: Box::new(|p| weights::read_checkpoint(p).map(|_| ()).map_err(|e| err(&e))),
        },
        Format {
            name: "NVIDIA network .pkl",
            files: vec![(
                tmp("n.pkl"),
                std::fs::read(hostile.join("valid_network.pkl")).unwrap(),
            )],
            load: Box::new(|p| weights::read_checkpoint(p).map(|_| ()).map_err(|e| err(&e))),
        },
        Format {
            name: "TF.js manifest + shard",
            files: vec![
                (tmp("m-weights_manifest.json"), tfjs_manifest),
                (tmp("shard1.bin"), shard),
            ],
            load: Box::new(|p| read_tfjs(p).map(|_| ()).map_err(|e| err(&e))),
        },
        Format {
            name: ".npy",
            files: vec![(tmp("b.npy"), npy_bytes(&[4, 8], "<f4", false, &npy_values))],
            load: Box::new(|p| read_npy(p).map(|_| ()).map_err(|e| err(&e))),
        },
        Format {
            name: "PNG",
            files: vec![(tmp("i.png"), image_bytes(image::ImageFormat::Png))],
            load: Box::new(|p| load_photo(p).map(|_| ()).map_err(|e| err(&e))),
        },
        Format {
            name: "JPEG",
            files: vec![(tmp("i.jpg"), image_bytes(image::ImageFormat::Jpeg))],
            load: Box::new(|p| load_photo(p).map(|_| ()).map_err(|e| err(&e))),
        },
        Format {
            name: "WebP",
            files: vec![(tmp("i.webp"), image_bytes(image::ImageFormat::WebP))],
            load: Box::new(|p| load_photo(p).map(|_| ()).map_err(|e| err(&e))),
        },
    ]
}

#[test]
fn mutation_harness() {
    let _guard = serial();
    let mutants: usize = std::env::var("FACESTYLE_MUTANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let start = Instant::now();
    let mut table = String::from(
        "| format | mutants | refused | accepted | panics | slowest case | peak memory |\n|---|---|---|---|---|---|---|\n",
    );
    let mut failures = Vec::new();
    for (i, f) in formats().iter().enumerate() {
        let o = run_format(f, mutants, 0x5eed_0000 + i as u64);
        table += &format!(
            "| {} | {mutants} | {} | {} | {} | {:.1} ms | {:.1} MB |\n",
            f.name,
            o.refused,
            o.accepted,
            o.panics.len(),
            o.slowest.as_secs_f64() * 1e3,
            o.peak as f64 / 1e6
        );
        if !o.panics.is_empty() {
            failures.push(format!(
                "{}: {} panics, e.g. {}",
                f.name,
                o.panics.len(),
                o.panics[0]
            ));
        }
        if o.slowest > TIME_BOUND {
            failures.push(format!("{}: a case took {:?}", f.name, o.slowest));
        }
    }
    println!(
        "{table}\nmutation harness: {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert!(
        !OVER_CAP.load(Ordering::Relaxed),
        "an allocation passed the memory cap"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Loads `name` of the hostile fixtures as a checkpoint and returns the error's text.
fn refused_checkpoint(name: &str) -> String {
    let path = common::fixture("hostile").join(name);
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    let base = LIVE.load(Ordering::Relaxed);
    let result = weights::read_checkpoint(&path);
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    assert!(peak < 320 << 20, "{name}: peak memory {peak} bytes");
    match result {
        Ok(_) => panic!("{name} was accepted"),
        Err(e) => {
            let text = e.to_string();
            assert!(text.starts_with(&path.display().to_string()), "{text}");
            assert!(!text.contains('\n'), "one line: {text}");
            text
        }
    }
}

#[test]
fn pickles_that_run_code_are_refused_naming_the_global() {
    let _guard = serial();
    for (file, global) in [
        ("reduce_system_zip_p2.pt", "posix.system"),
        ("reduce_system_zip_p4.pt", "posix.system"),
        ("reduce_system_legacy_p2.pt", "posix.system"),
        ("reduce_system_legacy_p4.pt", "posix.system"),
        ("builtins_eval.pt", "__builtin__.eval"), // protocol 2 names it the Python 2 way
    ] {
        let text = refused_checkpoint(file);
        assert!(
            text.contains(&format!("refusing to load: the pickle needs `{global}`")),
            "{file}: {text}"
        );
    }
}

#[test]
fn pickle_bombs_are_refused_within_their_limits() {
    let _guard = serial();
    for (file, expected) in [
        ("nested_100k.pt", "nesting deeper than 1000 levels"),
        (
            "dup_tuple2_bomb.pt",
            "its values would need more than 256 MB of memory",
        ),
        (
            "memo_doubling.pt",
            "its values would need more than 256 MB of memory",
        ),
        ("huge_memo_index.pt", "memo index 4294967295 was never set"),
        (
            "storage_exceeds_file.pt",
            "it declares 4.5 PB of tensor data in a 532 bytes file",
        ),
        (
            "legacy_storage_exceeds_file.pt",
            "declares 4.4 TB of tensor data in a 370 bytes file",
        ),
        (
            "zip_bomb_pickle.pt",
            "archive/data.pkl expands past 2.7 MB in a 102.4 KB file",
        ),
    ] {
        let text = refused_checkpoint(file);
        assert!(text.contains(expected), "{file}: {text}");
    }
}

#[test]
fn a_zip_bomb_storage_is_read_only_as_far_as_its_tensor_needs() {
    let _guard = serial();
    let path = common::fixture("hostile/zip_bomb_storage.pt");
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    let base = LIVE.load(Ordering::Relaxed);
    let st = weights::read_checkpoint(&path).unwrap();
    assert!(
        PEAK.load(Ordering::Relaxed) - base < 8 << 20,
        "the 100 MB member was expanded"
    );
    assert_eq!(st.f32("weight", &[4]).unwrap(), vec![0.0; 4]);
}

#[test]
fn valid_small_checkpoints_still_load_exactly() {
    let _guard = serial();
    let zip = weights::read_checkpoint(&common::fixture("hostile/valid_zip.pt")).unwrap();
    // the transposed view is gathered into row-major order
    let t: Vec<f32> = (0..12).map(|i| ((i % 3) * 4 + i / 3) as f32).collect();
    assert_eq!(zip.f32("weight", &[4, 3]).unwrap(), t);
    assert_eq!(zip.f32("bias", &[3]).unwrap(), vec![0.0; 3]);
    let nvidia = weights::read_checkpoint(&common::fixture("hostile/valid_network.pkl")).unwrap();
    let w: Vec<f32> = (0..6).map(|i| i as f32).collect();
    assert_eq!(nvidia.f32("G_ema.fc0.weight", &[2, 3]).unwrap(), w);
    assert_eq!(nvidia.metadata["class:G_ema"], "Generator");
    assert_eq!(nvidia.metadata["attr:G_ema.fc0.lr_multiplier"], "0.01");
    let legacy = weights::read_checkpoint(&common::fixture("hostile/valid_legacy.pt")).unwrap();
    let w: Vec<f32> = (0..12).map(|i| i as f32).collect();
    assert_eq!(legacy.f32("weight", &[3, 4]).unwrap(), w);
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let p = tmp(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn safetensors_error(name: &str, bytes: &[u8]) -> String {
    let p = write(name, bytes);
    let text = weights::read_safetensors(&p)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        text.starts_with(&p.display().to_string()),
        "{name}: {text:?}"
    );
    assert!(!text.contains('\n'));
    text
}

fn safetensors_with_header(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

#[test]
fn hostile_safetensors_are_refused() {
    let _guard = serial();
    let mut huge = (1u64 << 62).to_le_bytes().to_vec();
    huge.extend(b"{}");
    let text = safetensors_error("huge.safetensors", &huge);
    assert!(
        text.ends_with("not a valid safetensors file: header too large"),
        "{text}"
    );
    let mut past = 200u64.to_le_bytes().to_vec();
    past.extend(b"{}");
    let text = safetensors_error("past.safetensors", &past);
    assert!(text.contains("not a valid safetensors file"), "{text}");
    let overlap = safetensors_with_header(
        r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
        &[0; 12],
    );
    let text = safetensors_error("overlap.safetensors", &overlap);
    assert!(text.contains("not a valid safetensors file"), "{text}");
    let out_of_range = safetensors_with_header(
        r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,800]}}"#,
        &[0; 8],
    );
    let text = safetensors_error("range.safetensors", &out_of_range);
    assert!(text.contains("not a valid safetensors file"), "{text}");
    let overflow = safetensors_with_header(
        r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}}"#,
        &[0; 8],
    );
    let text = safetensors_error("overflow.safetensors", &overflow);
    assert!(text.contains("not a valid safetensors file"), "{text}");
    let text = safetensors_error(
        "text.safetensors",
        &safetensors_with_header("not json at all", &[]),
    );
    assert!(text.contains("not a valid safetensors file"), "{text}");
    // a codes file whose `wplus` is stored as integers
    let wrong = safetensors_with_header(
        r#"{"__metadata__":{"generator_id":"gid"},"k":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"wplus":{"dtype":"I64","shape":[1,1,1],"data_offsets":[8,16]},"feature":{"dtype":"F32","shape":[1,1,1,1],"data_offsets":[16,20]}}"#,
        &[3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    let p = write("wrong_dtype.safetensors", &wrong);
    let text = Codes::load(&p, "gid", &common::device())
        .err()
        .unwrap()
        .to_string();
    assert!(
        text.contains("tensor `wplus` has dtype I64, which cannot be used as float"),
        "{text}"
    );
}

#[test]
fn hostile_npy_files_are_refused_or_read_right() {
    let _guard = serial();
    let object = npy_bytes(&[2], "|O", false, b"\x80\x02cposix\nsystem\n.");
    let p = write("object.npy", &object);
    let text = read_npy(&p).err().unwrap().to_string();
    assert!(
        text.contains("an object array (pickled Python objects) is never loaded"),
        "{text}"
    );
    let absurd = npy_bytes(&[1 << 40, 1 << 40], "<f4", false, &[0; 16]);
    let p = write("absurd.npy", &absurd);
    let text = read_npy(&p).err().unwrap().to_string();
    assert!(text.contains("overflows"), "{text}");
    let values: Vec<f32> = (0..6).map(|i| i as f32).collect();
    let big: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
    let t = read_npy(&write("big.npy", &npy_bytes(&[2, 3], ">f4", false, &big))).unwrap();
    assert_eq!(t.to_f32().unwrap(), values);
    // Fortran order: column-major [[0,1,2],[3,4,5]] is stored 0,3,1,4,2,5
    let col: Vec<u8> = [0f32, 3., 1., 4., 2., 5.]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let t = read_npy(&write(
        "fortran.npy",
        &npy_bytes(&[2, 3], "<f4", true, &col),
    ))
    .unwrap();
    assert_eq!(t.to_f32().unwrap(), values);
}

/// A valid PNG whose header (IHDR, CRC redone) declares `w`×`h`: a decompression bomb's shape.
fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let mut png = image_bytes(image::ImageFormat::Png);
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = common::png_crc(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

#[test]
fn hostile_images_get_one_line_errors() {
    let _guard = serial();
    let tiny = |w, h| {
        let mut c = Cursor::new(Vec::new());
        image::RgbImage::new(w, h)
            .write_to(&mut c, image::ImageFormat::Png)
            .unwrap();
        c.into_inner()
    };
    let good = image_bytes(image::ImageFormat::Png);
    for (name, bytes, expected) in [
        ("empty.png", Vec::new(), "cannot decode image"),
        (
            "text.png",
            b"just some text, not an image\n".to_vec(),
            "cannot decode image",
        ),
        (
            "truncated.png",
            good[..good.len() / 2].to_vec(),
            "cannot decode image",
        ),
        (
            "bomb.png",
            png_declaring(60000, 60000),
            "image of 60000×60000 exceeds the 100-megapixel limit",
        ),
        ("one.png", tiny(1, 1), "1×1 is too small"),
        ("thin.png", tiny(3, 2000), "3×2000 is too small"),
    ] {
        let p = write(name, &bytes);
        let text = load_photo(&p)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            text.starts_with(&p.display().to_string()),
            "{name}: {text:?}"
        );
        assert!(text.contains(expected), "{name}: {text}");
        assert!(!text.contains('\n'), "{name}: {text}");
    }
}
