//! What more than one test file needs.

/// The key a hub checkpoint gives one of our encoder keys: timm's classification keys for the
/// `tu-` encoders, which SMP holds under `model.` with timm's features-model flattening
/// (`model.stages_0.x` is `stages.0.x`, `model.conv1.weight` is `conv1.weight`); other keys as
/// they are.
pub fn timm_key(ours: &str) -> String {
    let Some(key) = ours.strip_prefix("model.") else { return ours.to_string() };
    for prefix in ["stem_", "stages_"] {
        if let Some(rest) = key.strip_prefix(prefix) {
            return format!("{}.{rest}", prefix.trim_end_matches('_'));
        }
    }
    key.to_string()
}
