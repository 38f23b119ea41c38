//! Photos in every shape users have: each works or fails with one line naming the file, and a
//! bad file in a batch does not stop the others.

mod common;

use common::tmp;
use facestyle::imaging::{PhotoError, center_square, load_photo};

#[test]
fn odd_formats_load_as_rgb() {
    let grey = image::GrayImage::from_fn(100, 80, |x, _| image::Luma([x as u8]));
    let p = tmp("grey.png");
    grey.save(&p).unwrap();
    let rgb = load_photo(&p).unwrap();
    assert_eq!(rgb.dimensions(), (100, 80));
    assert_eq!(rgb.get_pixel(50, 10).0, [50, 50, 50]);

    let rgba16 = image::ImageBuffer::<image::Rgba<u16>, _>::from_fn(90, 90, |_, _| {
        image::Rgba([65535, 0, 0, 0])
    });
    let p = tmp("alpha16.png");
    rgba16.save(&p).unwrap();
    assert_eq!(
        load_photo(&p).unwrap().get_pixel(0, 0).0,
        [255, 255, 255],
        "transparent → white"
    );

    let wide = image::RgbImage::from_pixel(300, 100, image::Rgb([10, 20, 30]));
    let sq = center_square(&wide, 64);
    assert_eq!(sq.dimensions(), (64, 64));
}

#[test]
fn bad_photos_name_the_file() {
    let tiny = tmp("tiny.png");
    image::RgbImage::new(20, 30).save(&tiny).unwrap();
    let err = load_photo(&tiny).unwrap_err();
    assert!(matches!(err, PhotoError::TooSmall { .. }));
    assert!(err.to_string().contains("tiny.png"), "{err}");

    let truncated = tmp("truncated.jpg");
    let mut bytes = Vec::new();
    image::RgbImage::from_pixel(128, 128, image::Rgb([200, 100, 50]))
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let missing = tmp("does-not-exist.jpg");
    for p in [&truncated, &missing] {
        let err = load_photo(p).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(p.file_name().unwrap().to_str().unwrap()) && !msg.contains('\n'),
            "{msg}"
        );
    }
}

#[test]
fn a_batch_with_bad_files_still_inverts_the_good_one() {
    let good = tmp("good.png");
    image::RgbImage::from_fn(96, 96, |x, y| image::Rgb([x as u8, y as u8, 90]))
        .save(&good)
        .unwrap();
    let mut png = Vec::new();
    image::RgbImage::new(1, 1)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let whole = std::fs::read(&good).unwrap();
    // the good PNG with an IHDR declaring 60000×60000 (a decompression bomb's shape)
    let mut bomb = whole.clone();
    bomb[16..24].copy_from_slice(&[0, 0, 0xea, 0x60, 0, 0, 0xea, 0x60]);
    let crc = common::png_crc(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("bad.png", b"definitely not a png".to_vec()),
        ("empty.jpg", Vec::new()),
        ("truncated.png", whole[..whole.len() / 2].to_vec()),
        ("bomb.png", bomb),
        ("one_pixel.png", png),
    ];
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_facestyle"));
    cmd.args(["--device", "cpu", "invert"]).arg(&good);
    for (name, bytes) in &bad {
        let p = tmp(name);
        std::fs::write(&p, bytes).unwrap();
        cmd.arg(p);
    }
    let out_dir = tmp("out");
    let out = cmd.arg("--out").arg(&out_dir).output().unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("good.png: PSNR"), "{stdout}");
    for (name, _) in &bad {
        assert_eq!(
            stderr.lines().filter(|l| l.contains(name)).count(),
            1,
            "one line for {name}: {stderr}"
        );
    }
    assert!(
        stderr.contains("exceeds the 100-megapixel limit"),
        "{stderr}"
    );
    assert!(stderr.contains("5 of 6 photos failed"), "{stderr}");
    assert!(out_dir.join("good.codes.safetensors").exists());
    // The photo is framed at the larger of the encoder's and the generator's side and measured
    // against the reconstruction at the generator's side.
    let input = image::open(out_dir.join("good_input.png")).unwrap();
    let recon = image::open(out_dir.join("good_recon.png")).unwrap();
    assert_eq!(
        (input.width(), input.height()),
        (recon.width(), recon.height())
    );
}

#[test]
fn an_existing_output_is_kept_unless_forced() {
    let out_dir = tmp("kept");
    std::fs::create_dir_all(&out_dir).unwrap();
    let png = out_dir.join("face.png");
    std::fs::write(&png, b"the user's own file").unwrap();
    let run = |force: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_facestyle"));
        cmd.args(["--device", "cpu", "render", "--seed", "1", "--out"])
            .arg(&png);
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    let out = run(false);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("face.png") && stderr.contains("pass --force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&png).unwrap(), b"the user's own file");
    assert!(run(true).status.success());
    assert!(image::open(&png).is_ok(), "replaced with --force");
    let leftovers: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}
