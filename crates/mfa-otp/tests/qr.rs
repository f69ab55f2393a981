//! QR codes (feature `qr`) read back with an independent decoder (`rqrr`).

use mfa_otp::{HotpParams, OtpAuthUri, Secret, TotpParams};

/// Decodes the terminal picture: each character is two modules, light where a half
/// block is drawn. Each module becomes `SCALE`×`SCALE` pixels for the decoder.
fn decode_terminal(picture: &str) -> String {
    const SCALE: usize = 4;
    let rows: Vec<Vec<char>> = picture.lines().map(|l| l.chars().collect()).collect();
    let width = rows[0].len();
    assert!(rows.iter().all(|r| r.len() == width));
    let light = |x: usize, y: usize| -> bool {
        let c = rows[y / 2][x];
        match (c, y % 2) {
            ('█', _) | ('▀', 0) | ('▄', 1) => true,
            (' ' | '▀' | '▄', _) => false,
            (other, _) => panic!("unexpected character {other:?}"),
        }
    };
    let (w, h) = (width * SCALE, rows.len() * 2 * SCALE);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        if light(x / SCALE, y / SCALE) { 255 } else { 0 }
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    let (_, content) = grids[0].decode().unwrap();
    content
}

#[test]
fn terminal_qr_codes_decode_to_the_uri() {
    let secret = || Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
    let uris = [
        OtpAuthUri::totp(
            secret(),
            TotpParams::default(),
            Some("ACME Co"),
            "jane@example.com",
        )
        .unwrap(),
        OtpAuthUri::hotp(secret(), HotpParams::default(), 42, None, "ünïcode account")
            .unwrap()
            .with_image("https://example.com/logo.png"),
    ];
    for uri in uris {
        let picture = uri.to_qr_terminal().unwrap();
        assert_eq!(decode_terminal(&picture), uri.to_uri_string().as_str());
        let svg = uri.to_qr_svg().unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }
}

#[test]
fn a_uri_too_long_for_any_qr_code_is_a_typed_error() {
    let secret = Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
    let uri = OtpAuthUri::totp(secret, TotpParams::default(), None, "a")
        .unwrap()
        .with_image(&"x".repeat(5_000));
    assert_eq!(
        uri.to_qr_svg().unwrap_err(),
        mfa_otp::UriError::TooLongForQr
    );
    assert_eq!(
        uri.to_qr_terminal().unwrap_err(),
        mfa_otp::UriError::TooLongForQr
    );
}
