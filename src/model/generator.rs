//! The StyleGAN2 generator (rosinality layout, as used by FSE and PTI): mapping network,
//! constant input, styled convolutions with noise, ToRGB skips — plus the Feature-Style
//! encoder's tap and injection of the feature map at layer K.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;

use super::ModelError;
use super::generator_config::GeneratorConfig;
use super::loader::{Loader, tensor_from_vec};
use super::mapping::MappingNetwork;
use super::modulated_conv::Sampling;
use super::noise::{NoiseMode, normal_values, random_noise};
use super::styled_conv::StyledConv;
use super::to_rgb::ToRgb;
use crate::weights::{TensorStore, WeightsError};

/// A feature map that replaces the generator's own activation at outs-index `layer`
/// just before the next styled convolution consumes it: `act ← (1−scale)·act + scale·feature`,
/// or with `residual`, `act ← act + feature` (Eq. 1 in one pass: with feature = F − G^K(w),
/// the run of w̃ injects F + G^K(w̃) − G^K(w)). The RGB skip path already computed from the
/// original activation is left as it was.
#[derive(Debug, Clone)]
pub struct FeatureInjection {
    pub layer: usize,
    pub feature: Tensor<4>,
    pub scale: f32,
    pub residual: bool,
}

/// What a synthesis run returns: the image (`[B,3,H,W]`, unclamped, nominally [-1,1]) and
/// the requested intermediate activations (`outs[k]` for each tapped k, in request order).
#[derive(Debug, Clone)]
pub struct Synthesis {
    pub image: Tensor<4>,
    pub taps: Vec<Tensor<4>>,
}

#[derive(Module, Debug)]
pub struct Generator {
    /// `style.*`
    pub mapping: MappingNetwork,
    /// `input.input`, `[1, C4, 4, 4]`.
    pub input: Param<Tensor<4>>,
    pub conv1: StyledConv,
    pub to_rgb1: ToRgb,
    pub convs: Vec<StyledConv>,
    pub to_rgbs: Vec<ToRgb>,
    /// `noises.noise_j`, `[1, 1, R, R]`: the fixed noise buffers.
    pub noises: Vec<Tensor<4>>,
    /// Mean mapped latent for truncation, `[style_dim]`, when the checkpoint has one.
    pub latent_avg: Option<Tensor<1>>,
    #[module(skip)]
    pub config: GeneratorConfig,
    /// Digest of the weights it was loaded from (see [`TensorStore::content_hash`]).
    #[module(skip)]
    pub identity: String,
}

impl Generator {
    /// Builds the generator from a `g_ema`-style state dict (keys without prefix) with an
    /// optional top-level `latent_avg`.
    pub fn load(store: &TensorStore, device: &Device) -> Result<Self, WeightsError> {
        let config = GeneratorConfig::from_store(store)?;
        let l = Loader::new(store, device);
        let s = config.style_dim;
        let c4 = config.channels_at(2);
        let clamp = config.conv_clamp;
        let mut convs = Vec::new();
        let mut to_rgbs = Vec::new();
        for log_res in 3..=config.log_size() {
            let j = log_res - 3;
            let (cin, cout) = (config.channels_at(log_res - 1), config.channels_at(log_res));
            convs.push(StyledConv::load(
                &l.at(format!("convs.{}", 2 * j)),
                cin,
                cout,
                s,
                Sampling::Upsample2x,
                clamp,
            )?);
            convs.push(StyledConv::load(
                &l.at(format!("convs.{}", 2 * j + 1)),
                cout,
                cout,
                s,
                Sampling::Same,
                clamp,
            )?);
            to_rgbs.push(ToRgb::load(
                &l.at(format!("to_rgbs.{j}")),
                cout,
                s,
                true,
                clamp,
            )?);
        }
        let noises = (0..config.num_layers())
            .map(|j| {
                let r = config.noise_resolution(j);
                l.tensor(&format!("noises.noise_{j}"), [1, 1, r, r])
            })
            .collect::<Result<_, _>>()?;
        let latent_avg = match store.tensors.get("latent_avg") {
            None => None,
            Some(t) => {
                // pSp stores [S]; some exports keep [1, S] or a per-layer [n_latent, S] copy.
                let values = t
                    .to_f32()
                    .ok_or_else(|| store.shape_error("latent_avg", "float"))?;
                if values.len() % s != 0 || values.is_empty() {
                    return Err(store.shape_error("latent_avg", format!("[{s}]")));
                }
                Some(tensor_from_vec(values[..s].to_vec(), [s], device))
            }
        };
        Ok(Self {
            mapping: MappingNetwork::load(&l, s, config.z_dim(), config.n_mlp, config.lr_mlp)?,
            input: l.at("input").param("input", [1, c4, 4, 4])?,
            conv1: StyledConv::load(&l.at("conv1"), c4, c4, s, Sampling::Same, clamp)?,
            to_rgb1: ToRgb::load(&l.at("to_rgb1"), c4, s, false, clamp)?,
            convs,
            to_rgbs,
            noises,
            latent_avg,
            config,
            // A tuned copy keeps the identity of the generator it derives from.
            identity: store
                .metadata
                .get(BASE_GENERATOR_KEY)
                .cloned()
                .unwrap_or_else(|| store.content_hash()),
        })
    }

    pub fn device(&self) -> Device {
        self.input.val().device()
    }

    /// z `[B, Z]` → w `[B, S]`.
    pub fn map(&self, z: Tensor<2>) -> Tensor<2> {
        self.mapping.forward(z)
    }

    /// Mean of the mapping over `n` seeded z (StyleGAN2's `mean_latent`).
    pub fn mean_latent(&self, n: usize, seed: u64) -> Tensor<1> {
        let (s, zd) = (self.config.style_dim, self.config.z_dim());
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let z = tensor_from_vec(normal_values(n * zd, &mut rng), [n, zd], &self.device());
        self.map(z).mean_dim(0).reshape([s])
    }

    /// The truncation centre: the stored `latent_avg`, else the mean of 4096 mapped z.
    pub fn truncation_latent(&self) -> Tensor<1> {
        self.latent_avg
            .clone()
            .unwrap_or_else(|| self.mean_latent(4096, 0))
    }

    /// `avg + psi · (w − avg)` for w `[B, S]` or w+ `[B, L, S]` (psi = 1 is the identity).
    pub fn truncate<const D: usize>(&self, w: Tensor<D>, psi: f32, avg: &Tensor<1>) -> Tensor<D> {
        if psi == 1.0 {
            return w;
        }
        let mut shape = [1usize; D];
        shape[D - 1] = self.config.style_dim;
        let avg = avg.clone().reshape(shape);
        avg.clone() + (w - avg).mul_scalar(psi)
    }

    /// w `[B, S]` → w+ `[B, n_latent, S]` (the same w on every layer).
    pub fn broadcast(&self, w: Tensor<2>) -> Tensor<3> {
        let [b, s] = w.dims();
        w.reshape([b, 1, s]).repeat_dim(1, self.config.n_latent())
    }

    /// The faces of seeds `seed …` as w+ `[count, n_latent, S]`: mapped, truncated toward the
    /// mean latent by ψ, the same w on every layer.
    pub fn seeded_wplus(&self, seed: u64, count: usize, truncation: f32) -> Tensor<3> {
        let avg = self.truncation_latent();
        self.broadcast(self.truncate(self.map(self.seeded_z(seed, count)), truncation, &avg))
    }

    /// Seeded z `[count, S]`, one per seed (`seed`, `seed+1`, …) so that seed 7 in a batch
    /// draws the same face as seed 7 alone.
    pub fn seeded_z(&self, seed: u64, count: usize) -> Tensor<2> {
        let s = self.config.z_dim();
        let values = (0..count as u64)
            .flat_map(|i| normal_values(s, &mut rand::rngs::StdRng::seed_from_u64(seed + i)))
            .collect();
        tensor_from_vec(values, [count, s], &self.device())
    }

    fn noise_maps(&self, noise: &NoiseMode, batch: usize) -> Result<Vec<Tensor<4>>, ModelError> {
        let device = self.device();
        Ok(match noise {
            NoiseMode::Stored => self.noises.clone(),
            NoiseMode::Zero => self.noises.iter().map(|n| n.zeros_like()).collect(),
            NoiseMode::Random { seed } => random_noise(&self.config, batch, *seed, &device),
            NoiseMode::Given(maps) => {
                if maps.len() != self.config.num_layers() {
                    return Err(ModelError::Shape(format!(
                        "{} noise maps given, the generator has {} layers",
                        maps.len(),
                        self.config.num_layers()
                    )));
                }
                for (j, m) in maps.iter().enumerate() {
                    let r = self.config.noise_resolution(j);
                    let [nb, c, h, w] = m.dims();
                    if (nb != 1 && nb != batch) || c != 1 || h != r || w != r {
                        return Err(ModelError::Shape(format!(
                            "noise_{j} has shape {:?}, expected [{batch} or 1, 1, {r}, {r}]",
                            m.dims()
                        )));
                    }
                }
                maps.clone()
            }
        })
    }

    /// Checks a w+ tensor against this generator.
    pub fn check_wplus(&self, wplus: &Tensor<3>) -> Result<(), ModelError> {
        let [_, l, s] = wplus.dims();
        if l != self.config.n_latent() || s != self.config.style_dim {
            return Err(ModelError::Shape(format!(
                "w+ has shape {:?}, this generator needs [B, {}, {}]",
                wplus.dims(),
                self.config.n_latent(),
                self.config.style_dim
            )));
        }
        Ok(())
    }

    /// Synthesis from w+ `[B, n_latent, S]`, with optional feature injection and taps.
    pub fn synthesize(
        &self,
        wplus: Tensor<3>,
        noise: &NoiseMode,
        injection: Option<&FeatureInjection>,
        taps: &[usize],
    ) -> Result<Synthesis, ModelError> {
        self.run(wplus, noise, injection, taps, usize::MAX)
    }

    /// [`Generator::synthesize`] that stops once every layer up to outs-index `last` is
    /// computed (the image is then the RGB skip so far, at that layer's resolution).
    fn run(
        &self,
        wplus: Tensor<3>,
        noise: &NoiseMode,
        injection: Option<&FeatureInjection>,
        taps: &[usize],
        last: usize,
    ) -> Result<Synthesis, ModelError> {
        self.check_wplus(&wplus)?;
        let [b, _, s] = wplus.dims();
        let num_layers = self.config.num_layers();
        if let Some(&bad) = taps.iter().find(|&&k| k > num_layers) {
            return Err(ModelError::Layer(format!(
                "tap layer {bad} is out of range 0…{num_layers}"
            )));
        }
        if let Some(inj) = injection {
            let k = inj.layer;
            if k == 0 || k >= num_layers {
                return Err(ModelError::Layer(format!(
                    "feature injection at layer {k} is out of range 1…{}",
                    num_layers - 1
                )));
            }
            let [c, r] = self.config.feature_shape(k);
            let [fb, fc, fh, fw] = inj.feature.dims();
            if fb != b || fc != c || fh != r || fw != r {
                return Err(ModelError::Shape(format!(
                    "injected feature has shape {:?}, layer {k} needs [{b}, {c}, {r}, {r}]",
                    inj.feature.dims()
                )));
            }
        }
        let noise = self.noise_maps(noise, b)?;
        let latent = |i: usize| wplus.clone().narrow(1, i, 1).reshape([b, s]);
        let mut tapped: Vec<Option<Tensor<4>>> = vec![None; taps.len()];
        let mut record = |k: usize, x: &Tensor<4>| {
            for (slot, _) in tapped.iter_mut().zip(taps).filter(|(_, t)| **t == k) {
                *slot = Some(x.clone());
            }
        };
        let inject = |k: usize, x: Tensor<4>| match injection {
            Some(inj) if inj.layer == k && inj.residual => x + inj.feature.clone(),
            Some(inj) if inj.layer == k => {
                let f = inj.feature.clone();
                if inj.scale == 1.0 {
                    f
                } else {
                    x.mul_scalar(1.0 - inj.scale) + f.mul_scalar(inj.scale)
                }
            }
            _ => x,
        };

        let mut x = self.input.val().repeat_dim(0, b);
        record(0, &x);
        x = self.conv1.forward(x, latent(0), noise[0].clone());
        record(1, &x);
        let mut skip = self.to_rgb1.forward(x.clone(), latent(1), None);
        for (j, to_rgb) in self.to_rgbs.iter().enumerate() {
            let (a, c) = (2 * j + 1, 2 * j + 2);
            if a + 1 > last {
                break;
            }
            x = self.convs[2 * j].forward(inject(a, x), latent(a), noise[a].clone());
            record(a + 1, &x);
            x = self.convs[2 * j + 1].forward(inject(c, x), latent(c), noise[c].clone());
            record(c + 1, &x);
            skip = to_rgb.forward(x.clone(), latent(c + 1), Some(skip));
        }
        Ok(Synthesis {
            image: skip,
            taps: tapped
                .into_iter()
                .map(|t| t.expect("every tap index is recorded"))
                .collect(),
        })
    }

    /// A preview: the synthesis stopped at the first resolution of at least `side` pixels
    /// (StyleGAN2's RGB skip outputs make a whole image at every resolution), never before the
    /// injected layer; `side` ≥ the generator's size gives the full image.
    pub fn synthesize_preview(
        &self,
        wplus: Tensor<3>,
        noise: &NoiseMode,
        injection: Option<&FeatureInjection>,
        side: usize,
    ) -> Result<Tensor<4>, ModelError> {
        let log = side.clamp(4, self.config.size).next_power_of_two().ilog2() as usize;
        // outs 2·log − 4 and 2·log − 3 are drawn at 2^log px
        let last = (2 * log - 3).max(injection.map_or(0, |i| i.layer));
        Ok(self.run(wplus, noise, injection, &[], last)?.image)
    }

    /// `G^K(w+)`: the activation at outs-index `k` (a plain run, no injection).
    pub fn feature_at(
        &self,
        wplus: Tensor<3>,
        noise: &NoiseMode,
        k: usize,
    ) -> Result<Tensor<4>, ModelError> {
        // only the layers up to k are computed
        let mut s = self.run(wplus, noise, None, &[k], k)?;
        Ok(s.taps.remove(0))
    }
}

/// Metadata key naming the generator a tuned copy derives from (its latent space, codes and
/// directions stay valid).
pub const BASE_GENERATOR_KEY: &str = "base_generator_id";

impl Generator {
    /// The weights as a `g_ema`-style state dict (plus `latent_avg`), the inverse of
    /// [`Generator::load`]; a tuned generator records the identity of its base.
    pub fn to_store(&self) -> TensorStore {
        use crate::model::loader::tensor_to_vec;
        let mut st = TensorStore::new("<generator>");
        let mut put = |key: String, t: Vec<f32>, shape: Vec<usize>| st.insert_f32(key, shape, &t);
        macro_rules! save {
            ($key:expr, $t:expr) => {{
                let t = $t;
                let shape = t.dims().to_vec();
                put($key, tensor_to_vec(t), shape);
            }};
        }
        for (i, l) in self.mapping.layers.iter().enumerate() {
            save!(format!("style.{}.weight", i + 1), l.weight.val());
            save!(format!("style.{}.bias", i + 1), l.bias.val());
        }
        save!("input.input".to_string(), self.input.val());
        let mut styled = |p: String, c: &StyledConv| {
            save!(format!("{p}.conv.weight"), c.conv.weight.val());
            save!(
                format!("{p}.conv.modulation.weight"),
                c.conv.modulation.weight.val()
            );
            save!(
                format!("{p}.conv.modulation.bias"),
                c.conv.modulation.bias.val()
            );
            if let Some(k) = &c.conv.blur_kernel {
                save!(format!("{p}.conv.blur.kernel"), k.clone());
            }
            save!(format!("{p}.noise.weight"), c.noise.weight.val());
            save!(format!("{p}.activate.bias"), c.activate_bias.val());
        };
        styled("conv1".into(), &self.conv1);
        for (m, c) in self.convs.iter().enumerate() {
            styled(format!("convs.{m}"), c);
        }
        let mut rgb = |p: String, t: &ToRgb| {
            save!(format!("{p}.conv.weight"), t.conv.weight.val());
            save!(
                format!("{p}.conv.modulation.weight"),
                t.conv.modulation.weight.val()
            );
            save!(
                format!("{p}.conv.modulation.bias"),
                t.conv.modulation.bias.val()
            );
            save!(format!("{p}.bias"), t.bias.val());
            if let Some(k) = &t.upsample_kernel {
                save!(format!("{p}.upsample.kernel"), k.clone());
            }
        };
        rgb("to_rgb1".into(), &self.to_rgb1);
        for (j, t) in self.to_rgbs.iter().enumerate() {
            rgb(format!("to_rgbs.{j}"), t);
        }
        for (j, n) in self.noises.iter().enumerate() {
            save!(format!("noises.noise_{j}"), n.clone());
        }
        if let Some(avg) = &self.latent_avg {
            save!("latent_avg".to_string(), avg.clone());
        }
        st.metadata.insert(
            "config".into(),
            serde_json::to_string(&self.config).expect("config serializes"),
        );
        st.metadata
            .insert(BASE_GENERATOR_KEY.into(), self.identity.clone());
        st
    }
}
