//! Which generator the app and CLI run: a file the user names, the bundled default model in
//! `weights/`, or — until the bundled model is trained — a seeded random-weight stand-in of
//! the bundled size, clearly labelled as such.

use std::fmt;
use std::path::{Path, PathBuf};

use burn::tensor::Device;

use crate::model::Generator;
use crate::model::encoder::FeatureStyleEncoder;
use crate::weights::{self, WeightsError};

/// File name of the bundled generator inside `weights/`.
pub const BUNDLED_GENERATOR: &str = "generator.safetensors";
/// File name of the bundled direction set inside `weights/`.
pub const BUNDLED_DIRECTIONS: &str = "directions.safetensors";
/// File name of the bundled Feature-Style encoder inside `weights/`.
pub const BUNDLED_ENCODER: &str = "encoder.safetensors";

/// Where the running generator came from.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelOrigin {
    File(PathBuf),
    /// A model shipped in `weights/`; `interim` holds its file's `interim` note when it is a
    /// stand-in (e.g. trained on a CPU for want of a GPU) rather than the release model.
    Bundled {
        path: PathBuf,
        interim: Option<String>,
    },
}

impl fmt::Display for ModelOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelOrigin::File(p) => write!(f, "{}", p.display()),
            ModelOrigin::Bundled {
                path,
                interim: None,
            } => write!(f, "bundled model ({})", path.display()),
            ModelOrigin::Bundled {
                path,
                interim: Some(note),
            } => write!(f, "INTERIM bundled model: {note} ({})", path.display()),
        }
    }
}

impl ModelOrigin {
    /// Metadata key of a weights file that marks it as an interim stand-in, with a note.
    pub const INTERIM_KEY: &str = "interim";

    fn bundled(path: PathBuf, store: &weights::TensorStore) -> Self {
        let interim = store.metadata.get(Self::INTERIM_KEY).cloned();
        ModelOrigin::Bundled { path, interim }
    }

    /// What the UI should warn about, when the running model is a stand-in.
    pub fn interim_notice(&self) -> Option<String> {
        match self {
            ModelOrigin::Bundled {
                interim: Some(note),
                ..
            } => Some(format!(
                "Interim model: {note} (see weights/MODEL_CARD.md)."
            )),
            _ => None,
        }
    }
}

/// The weights folders searched, in order: `$FACESTYLE_WEIGHTS`, `weights/` of the crate
/// (development), `weights/` beside the executable.
fn weights_dirs() -> impl Iterator<Item = PathBuf> {
    [
        std::env::var_os("FACESTYLE_WEIGHTS").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("weights")),
        std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(|p| p.join("weights"))),
    ]
    .into_iter()
    .flatten()
}

/// The first weights folder that holds the bundled generator.
pub fn bundled_weights_dir() -> Option<PathBuf> {
    weights_dirs().find(|d| d.join(BUNDLED_GENERATOR).exists())
}

/// Loads the named generator file, else the bundled one, else the interim random model.
pub fn load_generator(
    path: Option<&Path>,
    device: &Device,
) -> Result<(Generator, ModelOrigin), WeightsError> {
    if let Some(path) = path {
        let (store, _) = weights::read_generator_checkpoint(path)?;
        return Ok((
            Generator::load(&store, device)?,
            ModelOrigin::File(path.to_path_buf()),
        ));
    }
    let Some(dir) = bundled_weights_dir() else {
        let searched: Vec<String> = weights_dirs().map(|d| d.display().to_string()).collect();
        return Err(WeightsError::Layout {
            path: PathBuf::from(BUNDLED_GENERATOR),
            reason: format!(
                "the bundled model is in none of the weights folders searched ({}); open a generator file or set FACESTYLE_WEIGHTS",
                searched.join(", ")
            ),
        });
    };
    let path = dir.join(BUNDLED_GENERATOR);
    let (store, _) = weights::read_generator_checkpoint(&path)?;
    let origin = ModelOrigin::bundled(path, &store);
    Ok((Generator::load(&store, device)?, origin))
}

/// Loads the named encoder, else the bundled one. An official `.pth` loads as well as
/// safetensors.
pub fn load_encoder(
    path: Option<&Path>,
    device: &Device,
) -> Result<(FeatureStyleEncoder, ModelOrigin), WeightsError> {
    if let Some(path) = path {
        let store = weights::read_checkpoint(path)?;
        return Ok((
            FeatureStyleEncoder::load(&store, device)?,
            ModelOrigin::File(path.to_path_buf()),
        ));
    }
    if let Some(dir) = bundled_weights_dir().filter(|d| d.join(BUNDLED_ENCODER).exists()) {
        let path = dir.join(BUNDLED_ENCODER);
        let store = weights::read_safetensors(&path)?;
        let origin = ModelOrigin::bundled(path, &store);
        return Ok((FeatureStyleEncoder::load(&store, device)?, origin));
    }
    Err(WeightsError::Layout {
        path: PathBuf::from("--encoder"),
        reason:
            "no Feature-Style encoder for this generator: pass --encoder E.safetensors (or .pth)"
                .into(),
    })
}

/// The bundled direction set, when there is one.
pub fn bundled_directions() -> Option<PathBuf> {
    bundled_weights_dir()
        .map(|d| d.join(BUNDLED_DIRECTIONS))
        .filter(|p| p.exists())
}

/// Where the app looks for LPIPS weights inside a weights folder: torchvision's AlexNet trunk
/// and the LPIPS v0.1 heads, under their published file names.
pub const LPIPS_TRUNK_FILES: [&str; 2] =
    ["alexnet-owt-7be5be79.pth", "lpips_alex_trunk.safetensors"];
pub const LPIPS_LIN_FILES: [&str; 2] = ["alex.pth", "lpips_alex_lin.safetensors"];

/// LPIPS from a trunk file and an optional heads file (default: heads inside the trunk file).
pub fn load_lpips(
    trunk: &Path,
    lin: Option<&Path>,
    kind: crate::model::lpips::TrunkKind,
    device: &Device,
) -> Result<crate::model::lpips::Lpips, WeightsError> {
    use crate::model::lpips::{Lpips, normalize_keys};
    let trunk = weights::read_checkpoint(trunk)?;
    let lin = match lin {
        Some(p) => weights::read_checkpoint(p)?,
        None => trunk.clone(),
    };
    Lpips::load(&normalize_keys(&trunk, &lin, ""), kind, device)
}

/// File name of the bundled perceptual network (discriminator trunk) inside `weights/`.
pub const BUNDLED_PERCEPTUAL: &str = "perceptual.safetensors";

/// Which perceptual distance PTI uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PerceptualChoice {
    /// LPIPS when its weights are in the weights folder, else MSE only: tuned on either bundled
    /// network, PTI reconstructed held-out faces worse by every other measure than on MSE alone
    /// (weights/MODEL_CARD.md).
    #[default]
    Auto,
    /// Exact LPIPS (AlexNet) from the weights folder.
    Lpips,
    /// The bundled discriminator-feature network.
    Discriminator,
    /// The bundled identity network's features of the face region.
    FaceId,
    /// MSE only.
    None,
}

/// LPIPS (AlexNet, v0.1) from the weights folder, when its files are there.
pub fn shipped_lpips(device: &Device) -> Option<Result<crate::model::lpips::Lpips, WeightsError>> {
    let find = |names: &[&str]| names.iter().find_map(|n| shipped_file(n));
    let (trunk, lin) = (find(&LPIPS_TRUNK_FILES)?, find(&LPIPS_LIN_FILES)?);
    Some(load_lpips(
        &trunk,
        Some(&lin),
        crate::model::lpips::TrunkKind::Alex,
        device,
    ))
}

fn shipped_discriminator_trunk(
    device: &Device,
) -> Option<Result<crate::model::discriminator_trunk::DiscriminatorTrunk, WeightsError>> {
    let path = shipped_file(BUNDLED_PERCEPTUAL)?;
    Some(
        weights::read_safetensors(&path)
            .and_then(|s| crate::model::discriminator_trunk::DiscriminatorTrunk::load(&s, device)),
    )
}

/// The perceptual distance for PTI. `Auto` never fails (it falls back to MSE only); asking for
/// a network that is not in the weights folder is an error naming the missing files.
pub fn load_perceptual(
    choice: PerceptualChoice,
    device: &Device,
) -> Result<crate::pti::Perceptual, WeightsError> {
    use crate::pti::Perceptual;
    let missing = |what: &str| WeightsError::Layout {
        path: PathBuf::from("weights"),
        reason: format!("{what} not found in the weights folder (see weights/README.md)"),
    };
    Ok(match choice {
        PerceptualChoice::Auto => match shipped_lpips(device) {
            Some(Ok(l)) => Perceptual::Lpips(Box::new(l)),
            _ => Perceptual::None,
        },
        PerceptualChoice::Lpips => Perceptual::Lpips(Box::new(
            shipped_lpips(device).ok_or_else(|| missing("LPIPS weights"))??,
        )),
        PerceptualChoice::Discriminator => Perceptual::Discriminator(Box::new(
            shipped_discriminator_trunk(device).ok_or_else(|| missing(BUNDLED_PERCEPTUAL))??,
        )),
        PerceptualChoice::FaceId => Perceptual::FaceId(Box::new(
            weights::read_safetensors(
                &shipped_file(FACE_ID_FILE).ok_or_else(|| missing(FACE_ID_FILE))?,
            )
            .and_then(|s| crate::model::face_id::FaceIdNet::load(&s, device))?,
        )),
        PerceptualChoice::None => Perceptual::None,
    })
}

/// The perceptual distance reports print beside PSNR/SSIM: LPIPS when its weights are in the
/// weights folder, else the bundled discriminator features, else none.
pub fn load_reporting_perceptual(device: &Device) -> crate::pti::Perceptual {
    use crate::pti::Perceptual;
    if let Some(Ok(l)) = shipped_lpips(device) {
        Perceptual::Lpips(Box::new(l))
    } else if let Some(Ok(d)) = shipped_discriminator_trunk(device) {
        Perceptual::Discriminator(Box::new(d))
    } else {
        Perceptual::None
    }
}

/// A file shipped in `weights/` (e.g. `mtcnn/pnet.safetensors`), wherever the weights folder is.
pub fn shipped_file(relative: &str) -> Option<PathBuf> {
    weights_dirs()
        .map(|d| d.join(relative))
        .find(|p| p.exists())
}

/// The bundled MTCNN face detector.
pub fn load_face_detector(device: &Device) -> Result<crate::face::FaceDetector, WeightsError> {
    let dir = shipped_file("mtcnn/pnet.safetensors")
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .ok_or_else(|| WeightsError::Layout {
            path: PathBuf::from("weights/mtcnn"),
            reason: "the face detector weights are missing (see weights/mtcnn/README.md)".into(),
        })?;
    crate::face::FaceDetector::load(&dir, device)
}

/// The identity network's weights inside `weights/`.
pub const FACE_ID_FILE: &str = "face_id/face_recognition.safetensors";

/// The bundled identity network (face-api's recognition net).
pub fn load_identity_net(device: &Device) -> Result<crate::face::IdentityNet, WeightsError> {
    let path = shipped_file(FACE_ID_FILE).ok_or_else(|| WeightsError::Layout {
        path: PathBuf::from("weights/face_id"),
        reason: "the identity network weights are missing (see weights/face_id/README.md)".into(),
    })?;
    crate::face::IdentityNet::load(&path, device)
}

/// The attribute networks' weights inside `weights/`: age/gender, expression.
pub const FACE_ATTRIBUTE_FILES: [&str; 2] = [
    "face_attributes/age_gender.safetensors",
    "face_attributes/expression.safetensors",
];

/// The bundled attribute networks (face-api's age/gender and expression nets).
pub fn load_attribute_nets(device: &Device) -> Result<crate::face::AttributeNets, WeightsError> {
    let [age_gender, expression] = FACE_ATTRIBUTE_FILES.map(shipped_file);
    let (Some(age_gender), Some(expression)) = (age_gender, expression) else {
        return Err(WeightsError::Layout {
            path: PathBuf::from("weights/face_attributes"),
            reason:
                "the attribute network weights are missing (see weights/face_attributes/README.md)"
                    .into(),
        });
    };
    crate::face::AttributeNets::load(&age_gender, &expression, device)
}
