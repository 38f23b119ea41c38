//! The PyTorch importer and the safetensors writer: bit-exact conversion, legacy files with
//! CUDA-tagged storages, and clear errors (never panics) on bad files.

mod common;

use std::path::Path;

use common::*;
use facestyle::model::Generator;
use facestyle::weights::{self, WeightsError};

#[test]
fn convert_reproduces_the_safetensors_bit_for_bit() {
    let (from_pt, _) =
        weights::read_generator_checkpoint(&fixture("stylegan2_64/checkpoint.pt")).unwrap();
    let reference = store("stylegan2_64/weights.safetensors");
    for (key, t) in &reference.tensors {
        let got = from_pt
            .tensors
            .get(key)
            .unwrap_or_else(|| panic!("missing {key}"));
        assert_eq!(got, t, "{key}");
    }
    assert!(from_pt.contains("latent_avg"));
    // Through the file: write, read back, same bytes.
    let out = tmp("converted.safetensors");
    weights::write_safetensors(&from_pt, &out).unwrap();
    let back = weights::read_safetensors(&out).unwrap();
    assert_eq!(back.tensors, from_pt.tensors);
}

#[test]
fn legacy_pickle_with_cuda_storages() {
    let legacy = weights::read_torch(&fixture("lpips_alex/lin_alex_v0.1.pth")).unwrap();
    let reference = store("lpips_alex/lin_alex_v0.1.safetensors");
    assert_eq!(legacy.tensors.len(), 5);
    for (key, t) in &reference.tensors {
        assert_eq!(legacy.tensors.get(key), Some(t), "{key}");
    }
}

#[test]
fn cli_convert_then_render_matches_the_fixture() {
    let st = tmp("cli_g.safetensors");
    cli([
        std::ffi::OsString::from("convert"),
        fixture("stylegan2_64/checkpoint.pt").into(),
        st.clone().into(),
    ]);
    let raw = tmp("cli_raw.safetensors");
    let png = tmp("cli.png");
    let render = |latents: &str, extra: &[&str], weights: &std::path::Path| {
        let mut args: Vec<std::ffi::OsString> =
            vec!["render".into(), "--weights".into(), weights.into()];
        args.extend(["--latents".into(), fixture(latents).into()]);
        args.extend(extra.iter().map(Into::into));
        args.extend([
            "--out".into(),
            png.clone().into(),
            "--raw".into(),
            raw.clone().into(),
        ]);
        cli(args);
        weights::read_safetensors(&raw).unwrap()
    };
    let got = render(
        "stylegan2_64/case_z_in.safetensors",
        &["--truncation", "0.7"],
        &st,
    );
    let expected = store("stylegan2_64/case_z_out.safetensors");
    assert_key::<4>(&got, &expected, "image");
    assert_key::<2>(&got, &expected, "w");
    // Two images: each beside the requested name, the contact sheet under it.
    let first = image::open(png.with_file_name("cli_000.png")).unwrap();
    assert_eq!((first.width(), first.height()), (64, 64));
    let sheet = image::open(&png).unwrap();
    assert_eq!((sheet.width(), sheet.height()), (128, 64));

    // Inject through the CLI.
    let got = render(
        "stylegan2_64/case_inject_in.safetensors",
        &["--inject", "5"],
        &fixture("stylegan2_64/weights.safetensors"),
    );
    let expected = store("stylegan2_64/case_inject_out.safetensors");
    assert_close(
        "inject image",
        tensor::<4>(&got, "image"),
        tensor(&expected, "image"),
        ATOL,
        RTOL,
    );
}

fn copy_with(name: &str, edit: impl FnOnce(&mut Vec<u8>)) -> std::path::PathBuf {
    let mut bytes = std::fs::read(fixture("stylegan2_64/checkpoint.pt")).unwrap();
    edit(&mut bytes);
    let p = tmp(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn truncated_and_corrupt_files_are_clear_errors() {
    let truncated = copy_with("truncated.pt", |b| b.truncate(b.len() / 2));
    let err = weights::read_generator_checkpoint(&truncated).unwrap_err();
    assert!(err.to_string().contains("truncated.pt"), "{err}");

    let garbage = tmp("garbage.pt");
    std::fs::write(&garbage, b"not a checkpoint at all").unwrap();
    let err = weights::read_checkpoint(&garbage).unwrap_err();
    assert!(matches!(err, WeightsError::Format { .. }), "{err}");

    let bad_st = tmp("bad.safetensors");
    std::fs::write(&bad_st, [8u8, 0, 0, 0, 0, 0, 0, 0, b'{', b'}']).unwrap();
    assert!(weights::read_safetensors(&bad_st).is_err());

    let missing = weights::read_checkpoint(Path::new("/nonexistent/g.safetensors")).unwrap_err();
    assert!(
        missing.to_string().contains("/nonexistent/g.safetensors"),
        "{missing}"
    );
}

#[test]
fn pickles_that_need_code_are_refused() {
    // A minimal protocol-2 pickle calling os.system("x"): GLOBAL 'os system', then REDUCE.
    let evil = b"\x80\x02cos\nsystem\nq\x00X\x01\x00\x00\x00x\x85R.";
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("archive/data.pkl", zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut zip, evil).unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    let p = tmp("evil.pt");
    std::fs::write(&p, bytes).unwrap();
    let err = weights::read_torch(&p).unwrap_err();
    assert!(
        matches!(&err, WeightsError::UnsafePickle { global, .. } if global == "os.system"),
        "{err}"
    );
}

#[test]
fn missing_and_misshaped_tensors_name_the_key() {
    let mut s = store("stylegan2_64/weights.safetensors");
    s.tensors.remove("convs.3.conv.modulation.bias");
    let err = Generator::load(&s, &device()).unwrap_err();
    assert!(
        err.to_string().contains("convs.3.conv.modulation.bias"),
        "{err}"
    );

    let mut s = store("stylegan2_64/weights.safetensors");
    let t = s.tensors.get_mut("to_rgbs.1.bias").unwrap();
    t.shape = vec![3];
    let err = Generator::load(&s, &device()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("to_rgbs.1.bias") && msg.contains("[3]") && msg.contains("[1, 3, 1, 1]"),
        "{msg}"
    );
}
