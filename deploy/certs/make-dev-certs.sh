#!/usr/bin/env bash
# Development TLS material for fedhub: a throwaway CA, a Flower SuperLink server certificate and
# a hub certificate. For loopback and development only; production certificates come from your
# PKI or ACME (see docs/runbook.md). Keys never leave OUT_DIR, which git ignores.
#
#   deploy/certs/make-dev-certs.sh [OUT_DIR]          default OUT_DIR: deploy/certs/dev
#
# Environment:
#   SUPERLINK_NAMES  DNS names in the SuperLink certificate (default "superlink localhost")
#   HUB_NAMES        DNS names in the hub certificate     (default "hub localhost")
#   CERT_DAYS        validity of the leaf certificates     (default 30)
#   CA_DAYS          validity of a newly created CA         (default 365)
#
# An existing CA in OUT_DIR is reused, so running the script again re-issues (rotates) the leaf
# certificates without re-distributing ca.crt. Delete OUT_DIR/ca.* to start a new CA.
# 127.0.0.1 and ::1 are always added as IP SANs.
set -euo pipefail

OUT_DIR=${1:-"$(cd "$(dirname "$0")" && pwd)/dev"}
SUPERLINK_NAMES=${SUPERLINK_NAMES:-"superlink localhost"}
HUB_NAMES=${HUB_NAMES:-"hub localhost"}
CERT_DAYS=${CERT_DAYS:-30}
CA_DAYS=${CA_DAYS:-365}

command -v openssl >/dev/null || { echo "error: openssl not found" >&2; exit 2; }
umask 077
mkdir -p "$OUT_DIR"
cd "$OUT_DIR"

if [[ ! -s ca.key || ! -s ca.crt ]]; then
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key
  openssl req -x509 -new -key ca.key -sha256 -days "$CA_DAYS" -out ca.crt \
    -subj "/O=fedhub development/CN=fedhub dev CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash"
  echo "created CA        $OUT_DIR/ca.crt"
else
  echo "reusing CA        $OUT_DIR/ca.crt"
fi

# issue NAME "dns1 dns2 ...": NAME.key + NAME.crt signed by the CA, serverAuth, SANs.
issue() {
  local name=$1 dns=$2 san="" first="" n
  for n in $dns; do
    san+="DNS:$n,"
    first=${first:-$n}
  done
  san+="IP:127.0.0.1,IP:::1"
  cat > "$name.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EXT
  openssl ecparam -name prime256v1 -genkey -noout -out "$name.key.new"
  openssl req -new -key "$name.key.new" -out "$name.csr" \
    -subj "/O=fedhub development/CN=${first:-$name}"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
    -days "$CERT_DAYS" -sha256 -extfile "$name.ext" -out "$name.crt.new" 2>/dev/null
  mv "$name.key.new" "$name.key"
  mv "$name.crt.new" "$name.crt"
  rm -f "$name.csr" "$name.ext"
  echo "issued            $OUT_DIR/$name.crt ($san)"
}

issue superlink "$SUPERLINK_NAMES"
issue hub "$HUB_NAMES"
rm -f ca.srl
chmod 600 ./*.key
chmod 644 ./*.crt
openssl verify -CAfile ca.crt superlink.crt hub.crt >/dev/null
echo "SuperLink: --ssl-ca-certfile ca.crt --ssl-certfile superlink.crt --ssl-keyfile superlink.key"
echo "SuperNode: --root-certificates ca.crt"
