#!/bin/sh
# Makes the certificates of this example with openssl, in ./certs (or the directory given):
# a local CA, a certificate for example.test and *.example.test as a PKCS#12 bundle protected by a
# passphrase, one for api.partner.test, and a client certificate for the partner's mTLS.
# For local trials only: a real deployment uses certificates from its CA (Let's Encrypt, …).
set -eu
out="${1:-./certs}"
pass="${SITE_P12_PASSWORD:-change-me}"
mkdir -p "$out"
cd "$out"
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"

# The CA that signs everything below (trust ca.pem in your client to verify).
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 365 -subj "/CN=Gatehouse Example CA" 2>/dev/null

# issue NAME "SAN" [extra extension line]: a key and a certificate signed by the CA, plus NAME.chain.pem (leaf, then CA).
issue() {
  openssl req $ec -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
  printf 'subjectAltName=%s\n%s\n' "$2" "${3:-}" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 90 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  cat "$1.pem" ca.pem > "$1.chain.pem"
  rm -f "$1.csr" "$1.ext"
}

issue site "DNS:example.test,DNS:*.example.test"
issue partner "DNS:api.partner.test"
issue partner-client "DNS:client.partner.test" "extendedKeyUsage=clientAuth"

# The site's certificate as a PKCS#12 bundle (key + chain), encrypted with AES; site.pem stays
# (the public certificate, to compare with what is served).
openssl pkcs12 -export -in site.chain.pem -inkey site.key -out site.p12 -passout "pass:$pass"
rm -f site.key site.chain.pem

echo "certificates in $out (PKCS#12 passphrase: \$SITE_P12_PASSWORD, here \"$pass\")"
