//! NVIDIA network pickles (stylegan2-ada-pytorch) load exactly: the golden cases of
//! `tests/fixtures/nvidia_pkl_32` (made by NVIDIA's own code, conv_clamp 0.6 so clamping
//! really happens) from the protocol-4 and protocol-2 pickles and from `torch.save(G_ema)`,
//! through our converter too; networks this app cannot run are refused by kind.

mod common;

use burn::tensor::Tensor;
use common::{ATOL, RTOL, assert_close, cli, device, fixture, tensor, tmp};
use facestyle::model::{Generator, NoiseMode};
use facestyle::weights;

const LOADABLE: [&str; 3] = [
    "network.pkl",
    "network_protocol2.pkl",
    "g_ema_torch_save.pt",
];

fn load(path: &std::path::Path) -> Generator {
    let (store, _) = weights::read_generator_checkpoint(path).unwrap_or_else(|e| panic!("{e}"));
    Generator::load(&store, &device()).unwrap_or_else(|e| panic!("{e}"))
}

fn image(g: &Generator, wplus: Tensor<3>) -> Tensor<4> {
    g.synthesize(wplus, &NoiseMode::Stored, None, &[])
        .unwrap()
        .image
}

fn check_cases(g: &Generator, what: &str) {
    let cases =
        |n: &str| weights::read_safetensors(&fixture(&format!("nvidia_pkl_32/{n}"))).unwrap();
    let (z_in, z_out) = (
        cases("case_z_in.safetensors"),
        cases("case_z_out.safetensors"),
    );
    assert_eq!(
        g.config.conv_clamp,
        Some(0.6),
        "{what}: conv_clamp read from the modules"
    );
    let w = g.map(tensor::<2>(&z_in, "z"));
    assert_close(
        &format!("{what} w"),
        w.clone(),
        tensor(&z_out, "w"),
        ATOL,
        RTOL,
    );
    let avg = g.truncation_latent();
    assert_close(
        &format!("{what} w_avg"),
        avg.clone(),
        tensor(&z_out, "w_avg"),
        ATOL,
        RTOL,
    );
    let img = image(g, g.broadcast(w.clone()));
    assert_close(
        &format!("{what} image ψ1"),
        img,
        tensor(&z_out, "image"),
        ATOL,
        RTOL,
    );
    let img = image(g, g.broadcast(g.truncate(w, 0.7, &avg)));
    assert_close(
        &format!("{what} image ψ0.7"),
        img,
        tensor(&z_out, "image_psi07"),
        ATOL,
        RTOL,
    );
    let (w_in, w_out) = (
        cases("case_wplus_in.safetensors"),
        cases("case_wplus_out.safetensors"),
    );
    let img = image(g, tensor(&w_in, "wplus"));
    assert_close(
        &format!("{what} image w+"),
        img,
        tensor(&w_out, "image"),
        ATOL,
        RTOL,
    );
}

#[test]
fn every_loadable_file_renders_the_golden_cases() {
    for name in LOADABLE {
        check_cases(&load(&fixture(&format!("nvidia_pkl_32/{name}"))), name);
    }
}

#[test]
fn converted_files_render_the_same_and_keep_conv_clamp() {
    for name in LOADABLE {
        let out = tmp(&format!("{name}.safetensors"));
        cli([
            "convert".as_ref(),
            fixture(&format!("nvidia_pkl_32/{name}")).as_os_str(),
            out.as_os_str(),
        ]);
        let converted = load(&out);
        check_cases(&converted, &format!("{name} converted"));
        let direct = load(&fixture(&format!("nvidia_pkl_32/{name}")));
        let w = tensor::<3>(
            &weights::read_safetensors(&fixture("nvidia_pkl_32/case_wplus_in.safetensors"))
                .unwrap(),
            "wplus",
        );
        let err = assert_close(
            name,
            image(&converted, w.clone()),
            image(&direct, w),
            0.0,
            0.0,
        );
        assert_eq!(err, 0.0, "{name}: convert → render equals direct load");
    }
}

#[test]
fn networks_we_cannot_run_are_refused_by_kind() {
    for (name, kind) in [
        ("conditional.pkl", "a class-conditional generator (c_dim 4)"),
        ("stylegan3_t.pkl", "a StyleGAN3 generator"),
    ] {
        let path = fixture(&format!("nvidia_pkl_32/{name}"));
        let text = weights::read_generator_checkpoint(&path)
            .err()
            .unwrap()
            .to_string();
        assert!(text.starts_with(&path.display().to_string()), "{text}");
        assert!(text.contains(&format!("this is {kind}")), "{name}: {text}");
    }
}

#[test]
fn a_mapping_network_whose_z_is_wider_than_w_loads_and_maps() {
    use facestyle::model::loader::tensor_from_vec;
    use facestyle::model::random_init::random_generator_store;
    let mut store = random_generator_store(&common::tiny_generator_config(), 3);
    let values: Vec<f32> = (0..8 * 12).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
    store.insert_f32("style.1.weight", vec![8, 12], &values);
    let g = Generator::load(&store, &device()).unwrap();
    assert_eq!((g.config.z_dim(), g.config.style_dim), (12, 8));
    let w = g.map(g.seeded_z(0, 2));
    assert_eq!(w.dims(), [2, 8]);
    // the first layer reads all 12 inputs: a change in the last one moves w
    let z = tensor_from_vec(vec![0.5; 12], [1, 12], &device());
    let mut other = vec![0.5; 12];
    other[11] = -2.0;
    let z2 = tensor_from_vec(other, [1, 12], &device());
    let d: f32 = (g.map(z) - g.map(z2)).abs().sum().into_scalar();
    assert!(d > 1e-3, "{d}");
}
