#!/bin/sh
# Regenerates the certificate-path fixtures of src/attestation/chain.rs's tests with the
# OpenSSL CLI (3.x). Throw-away keys; only the DER certificates are kept.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
ext() { printf '%s\n' "$2" > "$tmp/$1.ext"; }
ca='basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign'
leaf='basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature'
key() { # name kind
  case "$2" in
    rsa4096) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$tmp/$1.key" 2>/dev/null ;;
    p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/$1.key" ;;
    p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$tmp/$1.key" ;;
  esac
}
root() { # name kind
  key "$1" "$2"
  openssl req -x509 -new -key "$tmp/$1.key" -subj "/CN=$1" -days 7300 -sha384 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -outform DER -out "$1.der"
  openssl x509 -inform DER -in "$1.der" -out "$tmp/$1.pem"
}
issue() { # name kind issuer digest extensions [start end]
  key "$1" "$2"
  ext "$1" "$5"
  openssl req -new -key "$tmp/$1.key" -subj "/CN=$1" -out "$tmp/$1.csr"
  : > "$tmp/index.txt"
  cat > "$tmp/ca.cnf" <<CNF
[ca]
default_ca = d
[d]
database = $tmp/index.txt
new_certs_dir = $tmp
serial = $tmp/serial
policy = p
email_in_dn = no
unique_subject = no
[p]
commonName = supplied
CNF
  openssl rand -hex 8 > "$tmp/serial"
  openssl ca -batch -config "$tmp/ca.cnf" -in "$tmp/$1.csr" -cert "$tmp/$3.pem" \
    -keyfile "$tmp/$3.key" -md "$4" -extfile "$tmp/$1.ext" -notext \
    -startdate "${6:-20250101000000Z}" -enddate "${7:-20390101000000Z}" \
    -out "$tmp/$1.pem" 2>/dev/null
  openssl x509 -in "$tmp/$1.pem" -outform DER -out "$1.der"
}
root root-rsa4096 rsa4096
root other-root-p256 p256
issue int-p384 p384 root-rsa4096 sha384 "$ca
basicConstraints=critical,CA:TRUE,pathlen:0"
issue leaf-p256 p256 int-p384 sha384 "$leaf"
issue leaf-expired p256 int-p384 sha384 "$leaf" 20250101000000Z 20260101000000Z
issue int2-p256 p256 int-p384 sha384 "$ca"
issue leaf-under-int2 p256 int2-p256 sha256 "$leaf"
issue int-not-ca p256 root-rsa4096 sha256 "basicConstraints=critical,CA:FALSE"
issue leaf-under-not-ca p256 int-not-ca sha256 "$leaf"
issue int-no-certsign p256 root-rsa4096 sha256 "basicConstraints=critical,CA:TRUE
keyUsage=critical,digitalSignature"
issue leaf-under-no-certsign p256 int-no-certsign sha256 "$leaf"
issue int-unknown-critical p256 root-rsa4096 sha256 "$ca
1.3.6.1.4.1.55555.1=critical,DER:0500"
issue leaf-under-unknown-critical p256 int-unknown-critical sha256 "$leaf"
rm -r "$tmp"
