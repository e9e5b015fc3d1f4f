//! `boneseg model summary`: parameters per block and the shapes flowing through the model.

use burn::tensor::{Device, Tensor};

use crate::model::SegmentationModel;
use crate::weights::state_dict;

/// Trainable parameters of one block (`encoder.layer1`, `decoder.blocks.x_0_0`, ...).
#[derive(Debug)]
pub struct Block {
    pub name: String,
    pub parameters: usize,
}

#[derive(Debug)]
pub struct Summary {
    pub blocks: Vec<Block>,
    pub parameters: usize,
    /// Named tensor shapes for one forward pass: encoder features, decoder output, logits.
    pub shapes: Vec<(String, [usize; 4])>,
}

/// Containers whose children are worth a line each.
const LISTS: [&str; 5] = ["blocks", "_blocks", "seg_blocks", "convs", "layer4"];

/// `encoder.layer1`, `decoder.blocks.x_0_0`; timm's encoders (under `encoder.model.`) one level
/// deeper: `encoder.model.stage3`.
fn block_name(key: &str) -> String {
    let segments: Vec<&str> = key.split('.').collect();
    let wrapped = usize::from(segments.get(1) == Some(&"model"));
    let listed = segments.len() > 3 + wrapped && LISTS.contains(&segments[1 + wrapped]);
    let depth = if listed { 3 } else { 2 } + wrapped;
    segments[..depth.min(segments.len() - 1)].join(".")
}

/// Parameters are counted from the PyTorch state dict less BatchNorm's running statistics.
pub fn summarize(model: &SegmentationModel, input: [usize; 4], device: &Device) -> Summary {
    let mut blocks: Vec<Block> = Vec::new();
    for tensor in state_dict(model) {
        if tensor.name.contains("running_") {
            continue;
        }
        let count: usize = tensor.shape.iter().product();
        let name = block_name(&tensor.name);
        match blocks.last_mut() {
            Some(block) if block.name == name => block.parameters += count,
            _ => blocks.push(Block { name, parameters: count }),
        }
    }
    let parameters = blocks.iter().map(|b| b.parameters).sum();
    let x = Tensor::<4>::zeros(input, device);
    let mut shapes = vec![("input".to_string(), input)];
    match model {
        SegmentationModel::Smp(smp) => {
            let multiple = model.size_multiple();
            let [n, c, h, w] = input;
            let aligned = [n, c, h.div_ceil(multiple) * multiple, w.div_ceil(multiple) * multiple];
            let features = smp.encoder.forward(Tensor::<4>::zeros(aligned, device));
            for (i, feature) in features.iter().enumerate().skip(1) {
                shapes.push((format!("encoder stage {i} (stride {})", 1 << i), feature.dims()));
            }
            shapes.push(("decoder output".to_string(), smp.decoder.forward(features).dims()));
        }
        SegmentationModel::Fcn(fcn) => {
            for (i, feature) in fcn.backbone.forward(x.clone()).iter().enumerate().skip(1) {
                shapes.push((format!("backbone stage {i}"), feature.dims()));
            }
        }
    }
    shapes.push(("logits".to_string(), model.forward(x).dims()));
    Summary { blocks, parameters, shapes }
}
