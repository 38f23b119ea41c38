//! NVIDIA's StyleGAN2 networks (stylegan2-ada-pytorch, and the stylegan3 repository's
//! `stylegan2` config) under rosinality's names: renames and reshapes only, plus the
//! settings rosinality's layout has no place for (`conv_clamp`, z_dim ≠ w_dim) in the
//! `config` metadata. Each layer's settings come from the module attributes stored in the
//! pickle, never from `_init_kwargs`. Networks this app cannot run are refused by kind.

use super::torch_checkpoint::{ATTRIBUTE_PREFIX, CLASS_PREFIX};
use super::{StoredTensor, TensorStore, WeightsError};

/// Where the generator sits: `G_ema.` in a training pickle, the top level in `torch.save(G)`.
pub fn detect_prefix(keys: impl Iterator<Item = impl AsRef<str>> + Clone) -> Option<&'static str> {
    ["G_ema.", ""].into_iter().find(|p| {
        keys.clone()
            .any(|k| k.as_ref() == format!("{p}mapping.fc0.weight"))
    })
}

/// The generator under `prefix` of an NVIDIA network as a rosinality state dict.
pub fn to_rosinality(store: &TensorStore, prefix: &str) -> Result<TensorStore, WeightsError> {
    let attr = |path: &str| {
        store
            .metadata
            .get(&format!("{ATTRIBUTE_PREFIX}{prefix}{path}"))
            .map(String::as_str)
    };
    let number = |path: &str| attr(path).and_then(|v| v.parse::<f64>().ok());
    let refuse = |kind: String| {
        store.layout_error(format!(
            "this is {kind}; only unconditional StyleGAN2 RGB generators (skip architecture) can be loaded"
        ))
    };
    let has = |key: &str| store.contains(&format!("{prefix}{key}"));
    if has("synthesis.input.affine.weight") || !has("synthesis.b4.const") {
        return Err(refuse(
            "a StyleGAN3 generator (alias-free synthesis, no 4×4 constant block)".into(),
        ));
    }
    let c_dim = number("c_dim").unwrap_or(0.0);
    if c_dim > 0.0 || has("mapping.embed.weight") {
        return Err(refuse(format!(
            "a class-conditional generator (c_dim {c_dim})"
        )));
    }
    if let Some(ch) = number("img_channels").filter(|&c| c != 3.0) {
        return Err(refuse(format!("a generator of {ch} image channels")));
    }
    let mut out = TensorStore::new(store.source.clone());
    let get = |key: &str| store.get(&format!("{prefix}{key}"));
    let put = |out: &mut TensorStore, key: String, t: &StoredTensor, shape: Vec<usize>| {
        if t.numel() != shape.iter().product::<usize>() {
            return Err(
                store.shape_error(&key, format!("{} values", shape.iter().product::<usize>()))
            );
        }
        out.insert(
            key,
            StoredTensor {
                dtype: t.dtype,
                shape,
                bytes: t.bytes.clone(),
            },
        );
        Ok(())
    };
    // a tensor renamed, its shape kept
    let rename = |out: &mut TensorStore, from: &str, to: String| -> Result<(), WeightsError> {
        let t = get(from)?;
        put(out, to, t, t.shape.clone())
    };
    // a modulated conv: NVIDIA's `weight` [O, I, k, k] and `affine` → ours `conv.weight`
    // [1, O, I, k, k] and `conv.modulation`
    let modulated_conv = |out: &mut TensorStore, p: &str, ours: &str| -> Result<(), WeightsError> {
        let w = get(&format!("{p}.weight"))?;
        put(
            out,
            format!("{ours}.conv.weight"),
            w,
            [vec![1], w.shape.clone()].concat(),
        )?;
        for part in ["weight", "bias"] {
            rename(
                out,
                &format!("{p}.affine.{part}"),
                format!("{ours}.conv.modulation.{part}"),
            )?;
        }
        Ok(())
    };
    for i in (0..).take_while(|i| has(&format!("mapping.fc{i}.weight"))) {
        for part in ["weight", "bias"] {
            rename(
                &mut out,
                &format!("mapping.fc{i}.{part}"),
                format!("style.{}.{part}", i + 1),
            )?;
        }
    }
    rename(&mut out, "mapping.w_avg", "latent_avg".into())?;
    let lr_mlp = number("mapping.fc0.bias_gain").unwrap_or(0.01);
    let c4 = get("synthesis.b4.const")?;
    let shape4 = [vec![1], c4.shape.clone()].concat();
    put(&mut out, "input.input".into(), c4, shape4)?;

    // Every synthesis block at 4, 8, … px: rosinality's conv index and noise index per layer.
    let mut clamp: Option<Option<f64>> = None;
    let mut noise_index = 0;
    let mut res: usize = 4;
    while has(&format!("synthesis.b{res}.torgb.weight")) {
        let block = format!("synthesis.b{res}");
        if let Some(arch) = attr(&format!("{block}.architecture")).filter(|a| *a != "skip") {
            return Err(refuse(format!(
                "a generator with the `{arch}` synthesis architecture"
            )));
        }
        let j = (res.trailing_zeros() as usize).saturating_sub(3); // block index above 4 px
        let layers: Vec<(&str, String)> = if res == 4 {
            vec![("conv1", "conv1".into())]
        } else {
            vec![
                ("conv0", format!("convs.{}", 2 * j)),
                ("conv1", format!("convs.{}", 2 * j + 1)),
            ]
        };
        for (nv, ours) in layers {
            let p = format!("{block}.{nv}");
            modulated_conv(&mut out, &p, &ours)?;
            rename(
                &mut out,
                &format!("{p}.bias"),
                format!("{ours}.activate.bias"),
            )?;
            put(
                &mut out,
                format!("{ours}.noise.weight"),
                get(&format!("{p}.noise_strength"))?,
                vec![1],
            )?;
            let n = get(&format!("{p}.noise_const"))?;
            let r = *n.shape.first().unwrap_or(&0);
            put(
                &mut out,
                format!("noises.noise_{noise_index}"),
                n,
                vec![1, 1, r, r],
            )?;
            noise_index += 1;
            let c = number(&format!("{p}.conv_clamp"));
            match clamp {
                None => clamp = Some(c),
                Some(prev) if prev != c => {
                    return Err(refuse(format!(
                        "a generator whose layers clamp at different values ({prev:?}, {c:?})"
                    )));
                }
                _ => {}
            }
        }
        let ours = if res == 4 {
            "to_rgb1".to_string()
        } else {
            format!("to_rgbs.{j}")
        };
        let p = format!("{block}.torgb");
        modulated_conv(&mut out, &p, &ours)?;
        put(
            &mut out,
            format!("{ours}.bias"),
            get(&format!("{p}.bias"))?,
            vec![1, 3, 1, 1],
        )?;
        if number(&format!("{p}.conv_clamp")) != clamp.flatten() {
            return Err(refuse(
                "a generator whose ToRGB layers clamp differently from its convolutions".into(),
            ));
        }
        res *= 2;
    }
    let mut config = serde_json::json!({ "lr_mlp": lr_mlp });
    if let Some(c) = clamp.flatten() {
        config["conv_clamp"] = c.into();
    }
    out.metadata.insert("config".into(), config.to_string());
    out.metadata.insert(
        "converted_from".into(),
        format!(
            "NVIDIA {} network",
            store
                .metadata
                .get(&format!("{CLASS_PREFIX}{}", prefix.trim_end_matches('.')))
                .map(String::as_str)
                .unwrap_or("Generator")
        ),
    );
    Ok(out)
}
