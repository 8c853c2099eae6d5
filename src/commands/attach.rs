//! `-a FILE` / `--attach FILE`: files sent along with a prompt. A text file is inlined into
//! the prompt under its name; an image (PNG, JPEG, GIF or WebP, known by its extension or its
//! first bytes) becomes an image part of the message; `-` is standard input.

use std::path::{Path, PathBuf};

use base64::Engine;

use crate::config::ConfigError;
use crate::types::{ContentPart, MediaSource};

/// The attachments of one prompt, read and classified.
#[derive(Debug, Default)]
pub struct Attachments {
    /// `(name, text)` of each text file, in the order given.
    pub texts: Vec<(String, String)>,
    /// One image part per image file, in the order given.
    pub images: Vec<ContentPart>,
}

impl Attachments {
    /// Reads every file in `paths` (`-` is standard input). A file that cannot be read, or
    /// that is neither UTF-8 text nor a known image, is a usage error naming it.
    pub fn read(paths: &[PathBuf]) -> anyhow::Result<Self> {
        let mut out = Attachments::default();
        for path in paths {
            let stdin = path == Path::new("-");
            let name = if stdin {
                "standard input".to_owned()
            } else {
                path.display().to_string()
            };
            let bytes = if stdin {
                use std::io::Read;
                let mut bytes = Vec::new();
                std::io::stdin().read_to_end(&mut bytes).map_err(|e| {
                    ConfigError::Usage(format!(
                        "Cannot read the attachment `-` from standard input: {e}"
                    ))
                })?;
                bytes
            } else {
                std::fs::read(path).map_err(|e| {
                    ConfigError::Usage(format!(
                        "Cannot read the attachment `{name}`: {e}; check the path (`-a -` reads standard input)"
                    ))
                })?
            };
            match image_type(path, &bytes) {
                Some(media_type) => out.images.push(ContentPart::Image {
                    source: MediaSource::Base64 {
                        media_type: media_type.to_owned(),
                        data: base64::engine::general_purpose::STANDARD.encode(&bytes),
                    },
                    detail: None,
                    cache_control: None,
                }),
                None => match String::from_utf8(bytes) {
                    Ok(text) => out.texts.push((name, text)),
                    Err(_) => {
                        return Err(ConfigError::Usage(format!(
                            "The attachment `{name}` is neither UTF-8 text nor an image; attach text files, or PNG, JPEG, GIF or WebP images"
                        ))
                        .into());
                    }
                },
            }
        }
        Ok(out)
    }

    /// Whether standard input is one of the attachments (then it is not also the prompt).
    pub fn reads_stdin(paths: &[PathBuf]) -> bool {
        paths.iter().any(|p| p == Path::new("-"))
    }

    /// The prompt with the text files before it, each under its name.
    pub fn prompt(&self, prompt: &str) -> String {
        let mut out = String::new();
        for (name, text) in &self.texts {
            out.push_str(&format!("File `{name}`:\n\n{}\n\n", text.trim_end()));
        }
        out.push_str(prompt);
        out.trim_end().to_owned()
    }
}

/// The image media type of a file: by its first bytes, else by its extension.
fn image_type(path: &Path, bytes: &[u8]) -> Option<&'static str> {
    let by_magic = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    };
    by_magic.or_else(|| {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "png" => Some("image/png"),
            "jpg" | "jpeg" => Some("image/jpeg"),
            "gif" => Some("image/gif"),
            "webp" => Some("image/webp"),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_known_by_their_bytes_or_their_extension() {
        let png = b"\x89PNG\r\n\x1a\nrest";
        assert_eq!(image_type(Path::new("x.bin"), png), Some("image/png"));
        assert_eq!(
            image_type(Path::new("x"), b"RIFF\0\0\0\0WEBPVP8 "),
            Some("image/webp")
        );
        assert_eq!(image_type(Path::new("a.JPG"), b"??"), Some("image/jpeg"));
        assert_eq!(image_type(Path::new("notes.txt"), b"hello"), None);
    }

    #[test]
    fn text_files_come_before_the_prompt_under_their_names() {
        let a = Attachments {
            texts: vec![("notes.txt".into(), "line one\n".into())],
            images: Vec::new(),
        };
        assert_eq!(
            a.prompt("Summarise"),
            "File `notes.txt`:\n\nline one\n\nSummarise"
        );
    }
}
