//! Values that configs hold by name (`device = "cpu"`, `fill_rule = "opencv-4.8"`).

/// Makes a type with `FromStr` and `Display` read from and written to serde as its name: with
/// `#[serde(try_from = "String", into = "String")]` on the type, a config names the value as the
/// command line does, and a bad name fails when the config loads, with the parser's message.
#[macro_export]
macro_rules! named_in_config {
    ($type:ty) => {
        impl TryFrom<String> for $type {
            type Error = <$type as std::str::FromStr>::Err;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                text.parse()
            }
        }

        impl From<$type> for String {
            fn from(value: $type) -> String {
                value.to_string()
            }
        }
    };
}
