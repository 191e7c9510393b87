#!/usr/bin/env bash
# Makes a self-signed certificate for trying natter's TLS locally.
#
#   scripts/dev-cert.sh [DIR] [HOSTNAME...]     (default: ./dev-cert, localhost)
#
# Writes DIR/cert.pem and DIR/key.pem, valid for the names given plus 127.0.0.1 and
# ::1, for 30 days: a leaf certificate (not a CA), which is what a TLS client expects
# to see from a server, and which natter can trust directly with --ca-file. Then:
#   natterd --tls-cert DIR/cert.pem --tls-key DIR/key.pem
#   natter --tls --ca-file DIR/cert.pem alice localhost 7878
# Not for production: use a certificate from your CA (Let's Encrypt, say) there.
set -euo pipefail
dir=${1:-dev-cert}
shift || true
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(localhost)
command -v openssl >/dev/null || { echo "dev-cert.sh needs openssl (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"
san="IP:127.0.0.1,IP:::1"
for n in "${names[@]}"; do san="DNS:$n,$san"; done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -subj "/CN=${names[0]}" -addext "subjectAltName=$san" \
  -addext "basicConstraints=critical,CA:FALSE" -addext "keyUsage=critical,digitalSignature" \
  -addext "extendedKeyUsage=serverAuth" \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
chmod 600 "$dir/key.pem"
echo "wrote $dir/cert.pem and $dir/key.pem for ${names[*]}, 127.0.0.1 and ::1 (30 days)"
