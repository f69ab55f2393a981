//! QR codes of otpauth:// URIs (feature `qr`), drawn with the `qrcode` crate (pure Rust,
//! no image dependencies with its default features off).

use alloc::string::String;

use qrcode::{Color, EcLevel, QrCode};
use zeroize::Zeroizing;

use crate::uri::{OtpAuthUri, UriError};

/// Modules of light margin around the code; the QR specification asks for 4.
const QUIET_ZONE: usize = 4;

impl OtpAuthUri {
    /// The URI as a QR code in an SVG document (black on white, error correction level
    /// M). The SVG encodes the secret: serve it only to the enrolling user, with
    /// `Cache-Control: no-store`.
    ///
    /// ```
    /// use mfa_otp::{OtpAuthUri, Secret, TotpParams};
    ///
    /// let secret = Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?;
    /// let uri = OtpAuthUri::totp(secret, TotpParams::default(), Some("ACME"), "jane")?;
    /// let svg = uri.to_qr_svg()?;
    /// assert!(svg.starts_with("<?xml"));
    /// # Ok::<(), mfa_otp::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`UriError::TooLongForQr`] when the URI does not fit in the largest QR code.
    pub fn to_qr_svg(&self) -> Result<Zeroizing<String>, UriError> {
        let code = self.qr()?;
        Ok(Zeroizing::new(
            code.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(256, 256)
                .dark_color(qrcode::render::svg::Color("#000000"))
                .light_color(qrcode::render::svg::Color("#ffffff"))
                .build(),
        ))
    }

    /// The URI as a QR code for a terminal, two modules per character with the Unicode
    /// half blocks `▀ ▄ █`. Light modules are drawn as blocks, which shows a scannable
    /// code on the usual light-on-dark terminal (as `qrencode -t UTF8` does).
    ///
    /// # Errors
    ///
    /// [`UriError::TooLongForQr`] when the URI does not fit in the largest QR code.
    pub fn to_qr_terminal(&self) -> Result<Zeroizing<String>, UriError> {
        let code = self.qr()?;
        let width = code.width();
        let colors = code.to_colors();
        let size = width + 2 * QUIET_ZONE;
        // Whether the module at (x, y) of the padded picture is light.
        let light = |x: usize, y: usize| -> bool {
            let inside = |v: usize| v >= QUIET_ZONE && v < QUIET_ZONE + width;
            if !inside(x) || !inside(y) {
                return true;
            }
            let index = (y - QUIET_ZONE) * width + (x - QUIET_ZONE);
            colors.get(index).is_none_or(|c| *c == Color::Light)
        };
        let mut out = Zeroizing::new(String::with_capacity(size * (size / 2 + 1) * 3));
        for y in (0..size).step_by(2) {
            for x in 0..size {
                let top = light(x, y);
                let bottom = y + 1 < size && light(x, y + 1);
                out.push(match (top, bottom) {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (false, false) => ' ',
                });
            }
            out.push('\n');
        }
        Ok(out)
    }

    fn qr(&self) -> Result<QrCode, UriError> {
        QrCode::with_error_correction_level(self.to_uri_string().as_bytes(), EcLevel::M)
            .map_err(|_| UriError::TooLongForQr)
    }
}
