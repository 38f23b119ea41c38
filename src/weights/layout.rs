//! Which model a checkpoint holds, and where: rosinality training/converted files keep the
//! generator under `g_ema.`, pSp/FSE files under `decoder.` (or `state_dict.decoder.`), our
//! own safetensors at the top level; `latent_avg` sits beside them. NVIDIA network pickles
//! keep theirs under `G_ema.` (or at the top level for `torch.save(G)`), with NVIDIA's names.

use super::{TensorStore, WeightsError};

/// The recognized arrangement of a StyleGAN2 generator inside a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeneratorLayout {
    /// Keys at the top level (our safetensors, a bare state dict).
    Plain,
    /// rosinality: `{'g_ema': state_dict, 'latent_avg': …}` (+ `g`, `d`, optimizers).
    Rosinality,
    /// pSp / FSE: `decoder.`-prefixed keys (optionally under `state_dict.`) + `latent_avg`.
    Psp { prefix: &'static str },
    /// NVIDIA stylegan2-ada-pytorch: `G_ema.` in a network pickle, nothing in `torch.save(G)`.
    Nvidia { prefix: &'static str },
}

impl GeneratorLayout {
    pub fn detect(keys: impl Iterator<Item = impl AsRef<str>> + Clone) -> Option<Self> {
        let has = |k: &str| keys.clone().any(|x| x.as_ref() == k);
        if let Some(prefix) = super::nvidia::detect_prefix(keys.clone()) {
            Some(Self::Nvidia { prefix })
        } else if has("g_ema.style.1.weight") {
            Some(Self::Rosinality)
        } else if has("state_dict.decoder.style.1.weight") {
            Some(Self::Psp {
                prefix: "state_dict.decoder.",
            })
        } else if has("decoder.style.1.weight") {
            Some(Self::Psp { prefix: "decoder." })
        } else if has("style.1.weight") {
            Some(Self::Plain)
        } else {
            None
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::Plain => "",
            Self::Rosinality => "g_ema.",
            Self::Psp { prefix } | Self::Nvidia { prefix } => prefix,
        }
    }

    /// Whether `key` (a full checkpoint key) is part of the generator or its `latent_avg`.
    pub fn wants(self, key: &str) -> bool {
        key == "latent_avg" || key == "state_dict.latent_avg" || key.starts_with(self.prefix())
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "plain state dict",
            Self::Rosinality => "rosinality g_ema",
            Self::Psp { .. } => "pSp/FSE decoder",
            Self::Nvidia { .. } => "NVIDIA network",
        }
    }
}

/// The generator's tensors, prefix removed, with `latent_avg` kept when present.
pub fn extract_generator(
    store: &TensorStore,
) -> Result<(TensorStore, GeneratorLayout), WeightsError> {
    let layout = GeneratorLayout::detect(store.tensors.keys()).ok_or_else(|| {
        store.layout_error(
            "no StyleGAN2 generator found (expected `style.1.weight` at the top level, under `g_ema.` or under `decoder.`)",
        )
    })?;
    if let GeneratorLayout::Nvidia { prefix } = layout {
        return Ok((super::nvidia::to_rosinality(store, prefix)?, layout));
    }
    let mut out = store.strip_prefix(layout.prefix());
    if layout != GeneratorLayout::Plain {
        for key in ["latent_avg", "state_dict.latent_avg"] {
            if let Some(t) = store.tensors.get(key) {
                out.insert("latent_avg", t.clone());
            }
        }
    }
    Ok((out, layout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::StoredTensor;

    fn store_with(keys: &[&str]) -> TensorStore {
        let mut s = TensorStore::new("test");
        for k in keys {
            s.insert(*k, StoredTensor::from_f32(vec![1], &[1.0]));
        }
        s
    }

    #[test]
    fn finds_the_generator_in_every_layout() {
        for (keys, layout) in [
            (
                vec!["style.1.weight", "input.input"],
                GeneratorLayout::Plain,
            ),
            (
                vec![
                    "g_ema.style.1.weight",
                    "g_ema.input.input",
                    "d.convs.0.0.weight",
                    "latent_avg",
                ],
                GeneratorLayout::Rosinality,
            ),
            (
                vec![
                    "decoder.style.1.weight",
                    "decoder.input.input",
                    "encoder.x",
                    "latent_avg",
                ],
                GeneratorLayout::Psp { prefix: "decoder." },
            ),
            (
                vec![
                    "state_dict.decoder.style.1.weight",
                    "state_dict.decoder.input.input",
                    "state_dict.latent_avg",
                ],
                GeneratorLayout::Psp {
                    prefix: "state_dict.decoder.",
                },
            ),
        ] {
            let (g, found) = extract_generator(&store_with(&keys)).unwrap();
            assert_eq!(found, layout);
            assert!(
                g.contains("style.1.weight") && g.contains("input.input"),
                "{layout:?}"
            );
            assert_eq!(
                g.contains("latent_avg"),
                keys.iter().any(|k| k.ends_with("latent_avg")),
                "{layout:?}"
            );
            assert!(
                !g.tensors
                    .keys()
                    .any(|k| k.starts_with("d.") || k.starts_with("encoder.")),
                "{layout:?}"
            );
        }
        assert!(extract_generator(&store_with(&["conv.0.weight"])).is_err());
    }
}
