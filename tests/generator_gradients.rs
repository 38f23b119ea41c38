//! Gradients through the generator on burn's autodiff device match PyTorch's: what pivotal
//! tuning and the projector will rely on.

mod common;

use common::*;
use facestyle::model::loader::{tensor_from_vec, tensor_to_vec};
use facestyle::model::{Generator, NoiseMode};

#[test]
fn backward_matches_reference_gradients() {
    let s = store("unit/stylegan2_generator.safetensors");
    let device = device().autodiff();
    let g = Generator::load(&s, &device).unwrap();
    // Inputs live on the autodiff device too.
    let on =
        |t: burn::tensor::Tensor<4>| tensor_from_vec(tensor_to_vec(t.clone()), t.dims(), &device);
    let noise = NoiseMode::Given(
        (0..9)
            .map(|j| on(tensor::<4>(&s, &format!("noise.{j}"))))
            .collect(),
    );
    let w = tensor::<3>(&s, "input.wplus");
    let wplus = tensor_from_vec(tensor_to_vec(w.clone()), w.dims(), &device).require_grad();
    let image = g
        .synthesize(wplus.clone(), &noise, None, &[])
        .unwrap()
        .image;
    let loss = (image * on(tensor::<4>(&s, "input.grad_probe"))).sum();
    let grads = loss.backward();

    let (atol, rtol) = (1e-3, 1e-3);
    let expected = |key: &str| tensor::<1>(&s, key);
    let got_w = wplus.grad(&grads).expect("w+ has a gradient");
    assert_close("∂L/∂w+", got_w, tensor(&s, "grad.input.wplus"), atol, rtol);
    let flat = |t: burn::tensor::Tensor<5>| t.reshape([-1]);
    let checks: Vec<(&str, burn::tensor::Tensor<1>)> = vec![
        (
            "grad.convs.0.conv.weight",
            flat(g.convs[0].conv.weight.val().grad(&grads).unwrap()),
        ),
        (
            "grad.convs.3.conv.weight",
            flat(g.convs[3].conv.weight.val().grad(&grads).unwrap()),
        ),
        (
            "grad.to_rgbs.1.conv.weight",
            flat(g.to_rgbs[1].conv.weight.val().grad(&grads).unwrap()),
        ),
        (
            "grad.conv1.conv.modulation.weight",
            g.conv1
                .conv
                .modulation
                .weight
                .val()
                .grad(&grads)
                .unwrap()
                .reshape([-1]),
        ),
        (
            "grad.convs.5.activate.bias",
            g.convs[5].activate_bias.val().grad(&grads).unwrap(),
        ),
        (
            "grad.convs.2.noise.weight",
            g.convs[2].noise.weight.val().grad(&grads).unwrap(),
        ),
        (
            "grad.input.input",
            g.input.val().grad(&grads).unwrap().reshape([-1]),
        ),
    ];
    for (key, got) in checks {
        let e = expected(key);
        let n = e.dims()[0];
        assert_close(key, got, e.reshape([n]), atol, rtol);
    }
}
