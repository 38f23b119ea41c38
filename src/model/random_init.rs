//! A seeded random-weight generator state dict with StyleGAN2's initialization, under the
//! reference key names: the interim stand-in model and benchmark input.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use super::GeneratorConfig;
use crate::weights::TensorStore;

fn normal(rng: &mut StdRng, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let v: f32 = StandardNormal.sample(rng);
            scale * v
        })
        .collect::<Vec<f32>>()
}

/// Random weights for `config` as a `g_ema`-style store (with `config` metadata).
pub fn random_generator_store(config: &GeneratorConfig, seed: u64) -> TensorStore {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut st = TensorStore::new(format!("<random generator, seed {seed}>"));
    let s = config.style_dim;
    for i in 1..=config.n_mlp {
        st.insert_f32(
            format!("style.{i}.weight"),
            vec![s, s],
            &normal(&mut rng, s * s, (1.0 / config.lr_mlp) as f32),
        );
        st.insert_f32(format!("style.{i}.bias"), vec![s], &vec![0.0; s]);
    }
    let c4 = config.channels_at(2);
    st.insert_f32(
        "input.input",
        vec![1, c4, 4, 4],
        &normal(&mut rng, c4 * 16, 1.0),
    );
    let blur = super::upfirdn::make_kernel(&super::upfirdn::FIR_TAPS, super::upfirdn::FIR_GAIN);
    let mut g = Init {
        st: &mut st,
        rng: &mut rng,
        style_dim: s,
        blur: &blur,
    };
    g.add_styled("conv1", c4, c4, false);
    g.add_to_rgb("to_rgb1", c4, false);
    for log_res in 3..=config.log_size() {
        let j = log_res - 3;
        let (cin, cout) = (config.channels_at(log_res - 1), config.channels_at(log_res));
        g.add_styled(&format!("convs.{}", 2 * j), cin, cout, true);
        g.add_styled(&format!("convs.{}", 2 * j + 1), cout, cout, false);
        g.add_to_rgb(&format!("to_rgbs.{j}"), cout, true);
    }
    for j in 0..config.num_layers() {
        let r = config.noise_resolution(j);
        let noise = normal(g.rng, r * r, 1.0);
        g.st.insert_f32(format!("noises.noise_{j}"), vec![1, 1, r, r], &noise);
    }
    st.metadata.insert(
        "config".into(),
        serde_json::to_string(config).expect("config serializes"),
    );
    st
}

struct Init<'a> {
    st: &'a mut TensorStore,
    rng: &'a mut StdRng,
    style_dim: usize,
    blur: &'a [f32],
}

impl Init<'_> {
    fn add_modconv(&mut self, p: &str, cin: usize, cout: usize, k: usize) {
        let s = self.style_dim;
        let w = normal(self.rng, cout * cin * k * k, 1.0);
        self.st
            .insert_f32(format!("{p}.weight"), vec![1, cout, cin, k, k], &w);
        let m = normal(self.rng, cin * s, 1.0);
        self.st
            .insert_f32(format!("{p}.modulation.weight"), vec![cin, s], &m);
        self.st
            .insert_f32(format!("{p}.modulation.bias"), vec![cin], &vec![1.0; cin]);
    }

    fn add_styled(&mut self, p: &str, cin: usize, cout: usize, upsample: bool) {
        self.add_modconv(&format!("{p}.conv"), cin, cout, 3);
        if upsample {
            self.st
                .insert_f32(format!("{p}.conv.blur.kernel"), vec![4, 4], self.blur);
        }
        self.st
            .insert_f32(format!("{p}.noise.weight"), vec![1], &[0.0]);
        self.st
            .insert_f32(format!("{p}.activate.bias"), vec![cout], &vec![0.0; cout]);
    }

    fn add_to_rgb(&mut self, p: &str, cin: usize, upsample: bool) {
        self.add_modconv(&format!("{p}.conv"), cin, 3, 1);
        self.st
            .insert_f32(format!("{p}.bias"), vec![1, 3, 1, 1], &[0.0; 3]);
        if upsample {
            self.st
                .insert_f32(format!("{p}.upsample.kernel"), vec![4, 4], self.blur);
        }
    }
}

/// Random weights for a Feature-Style encoder (`fs_encoder_v2` key names): Kaiming-normal
/// convolutions, identity BatchNorm statistics, PReLU slope 0.25, small style heads.
pub fn random_encoder_store(config: &super::encoder::EncoderConfig, seed: u64) -> TensorStore {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut st = TensorStore::new(format!("<random encoder, seed {seed}>"));
    let conv =
        |st: &mut TensorStore, rng: &mut StdRng, key: String, cout: usize, cin: usize, k: usize| {
            let std = (2.0 / (cin * k * k) as f32).sqrt();
            st.insert_f32(
                key,
                vec![cout, cin, k, k],
                &normal(rng, cout * cin * k * k, std),
            );
        };
    let bn = |st: &mut TensorStore, p: String, c: usize| {
        st.insert_f32(format!("{p}.weight"), vec![c], &vec![1.0; c]);
        st.insert_f32(format!("{p}.bias"), vec![c], &vec![0.0; c]);
        st.insert_f32(format!("{p}.running_mean"), vec![c], &vec![0.0; c]);
        st.insert_f32(format!("{p}.running_var"), vec![c], &vec![1.0; c]);
    };
    let prelu = |st: &mut TensorStore, p: String, c: usize| {
        st.insert_f32(format!("{p}.weight"), vec![c], &vec![0.25; c])
    };
    let w = &config.widths;
    conv(&mut st, &mut rng, "conv.0.weight".into(), w[0], 3, 3);
    bn(&mut st, "conv.1".into(), w[0]);
    prelu(&mut st, "conv.2".into(), w[0]);
    let mut cin = w[0];
    for (s, (&planes, &count)) in w.iter().zip(&config.layers).enumerate() {
        for n in 0..count {
            let p = format!("block_{}.{n}", s + 1);
            let block_in = if n == 0 { cin } else { planes };
            bn(&mut st, format!("{p}.bn1"), block_in);
            conv(
                &mut st,
                &mut rng,
                format!("{p}.conv1.weight"),
                planes,
                block_in,
                3,
            );
            bn(&mut st, format!("{p}.bn2"), planes);
            prelu(&mut st, format!("{p}.prelu"), planes);
            conv(
                &mut st,
                &mut rng,
                format!("{p}.conv2.weight"),
                planes,
                planes,
                3,
            );
            bn(&mut st, format!("{p}.bn3"), planes);
            if n == 0 {
                conv(
                    &mut st,
                    &mut rng,
                    format!("{p}.downsample.0.weight"),
                    planes,
                    block_in,
                    1,
                );
                bn(&mut st, format!("{p}.downsample.1"), planes);
            }
        }
        cin = planes;
    }
    let fm = config.fmaps;
    bn(&mut st, "content_layer.0".into(), w[2]);
    conv(
        &mut st,
        &mut rng,
        "content_layer.1.weight".into(),
        fm,
        w[2],
        3,
    );
    bn(&mut st, "content_layer.2".into(), fm);
    prelu(&mut st, "content_layer.3".into(), fm);
    conv(
        &mut st,
        &mut rng,
        "content_layer.4.weight".into(),
        fm,
        fm,
        3,
    );
    bn(&mut st, "content_layer.5".into(), fm);
    let pooled = 9 * w.iter().sum::<usize>();
    for i in 0..config.n_styles {
        let head = normal(
            &mut rng,
            config.style_dim * pooled,
            0.01 / (pooled as f32).sqrt(),
        );
        st.insert_f32(
            format!("styles.{i}.weight"),
            vec![config.style_dim, pooled],
            &head,
        );
        st.insert_f32(
            format!("styles.{i}.bias"),
            vec![config.style_dim],
            &vec![0.0; config.style_dim],
        );
    }
    st.metadata.insert(
        "config".into(),
        serde_json::to_string(config).expect("config serializes"),
    );
    st
}
