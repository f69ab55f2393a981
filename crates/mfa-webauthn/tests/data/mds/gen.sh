#!/bin/sh
# Regenerates the MDS3 test fixtures of tests/metadata.rs (and benches/mds.rs) with the
# OpenSSL CLI (3.x): a BLOB-signing chain like FIDO's (root -> intermediate -> signer,
# all P-256 / SHA-256), an unrelated root, and the signer's private scalar (raw 32
# bytes, a throw-away test key) so the tests can sign BLOBs of their own with p256.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/$1.key"; }
root() { # name
  key "$1"
  openssl req -x509 -new -key "$tmp/$1.key" -subj "/O=mfa-rs test/CN=$1" -days 7300 -sha256 \
    -set_serial 1 -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -outform DER -out "$1.der"
  openssl x509 -inform DER -in "$1.der" -out "$tmp/$1.pem"
}
issue() { # name issuer extensions
  key "$1"
  printf '%s\n' "$3" > "$tmp/$1.ext"
  openssl req -new -key "$tmp/$1.key" -subj "/O=mfa-rs test/CN=$1" -out "$tmp/$1.csr"
  openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/$2.pem" -CAkey "$tmp/$2.key" -sha256 \
    -set_serial 2 -days 7000 -extfile "$tmp/$1.ext" -outform DER -out "$1.der" 2>/dev/null
  openssl x509 -inform DER -in "$1.der" -out "$tmp/$1.pem"
}
root mds-root
root other-root
issue mds-int mds-root 'basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign'
issue mds-signer mds-int 'basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature'
# SEC1 ECPrivateKey without the public key: 30 31 02 01 01 04 20 <32-byte scalar> a0 ...
openssl ec -in "$tmp/mds-signer.key" -no_public -outform DER 2>/dev/null \
  | tail -c +8 | head -c 32 > mds-signer.scalar
rm -r "$tmp"
