//! Reading the one-file `multipart/form-data` body of `media/upload` (field `media`).

use bytes::Bytes;

/// The uploaded file.
#[derive(Debug, Clone)]
pub struct FormFile {
    /// File name from the part's `Content-Disposition`.
    pub filename: String,
    /// The part's `Content-Type`.
    pub content_type: String,
    /// The file bytes.
    pub data: Bytes,
}

/// Extracts field `media` from a multipart body, or `None` if the body is not such a form.
pub fn parse_media_form(content_type: &str, body: &Bytes) -> Option<FormFile> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let delim = delimiter.as_bytes();
    let mut rest: &[u8] = body;
    // Skip to the first delimiter line.
    let start = find(rest, delim)?;
    rest = &rest[start + delim.len()..];
    loop {
        if rest.starts_with(b"--") {
            return None;
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let header_end = find(rest, b"\r\n\r\n")?;
        let headers = std::str::from_utf8(&rest[..header_end]).ok()?;
        let content_start = header_end + 4;
        let end = find(
            &rest[content_start..],
            format!("\r\n{delimiter}").as_bytes(),
        )?;
        let data = &rest[content_start..content_start + end];
        let mut name = None;
        let mut filename = None;
        let mut part_type = "application/octet-stream".to_owned();
        for line in headers.split("\r\n") {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                for param in line.split(';').map(str::trim) {
                    if let Some(v) = param.strip_prefix("name=") {
                        name = Some(v.trim_matches('"').to_owned());
                    } else if let Some(v) = param.strip_prefix("filename=") {
                        filename = Some(v.trim_matches('"').to_owned());
                    }
                }
            } else if lower.starts_with("content-type:") {
                part_type = line["content-type:".len()..].trim().to_owned();
            }
        }
        if name.as_deref() == Some("media") {
            return Some(FormFile {
                filename: filename?,
                content_type: part_type,
                data: body.slice_ref(data),
            });
        }
        rest = &rest[content_start + end + 2 + delim.len()..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
