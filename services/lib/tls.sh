# shellcheck shell=bash
# make_tls DIR NAME: self-signed CA + server cert for 127.0.0.1/localhost, made with keytool.
# Idempotent (reuses DIR if complete). Sets:
#   TLS_KEYSTORE (PKCS12: server key + chain), TLS_TRUSTSTORE (PKCS12: CA),
#   TLS_CA_PEM (CA certificate, PEM), TLS_PASSWORD (store/key password)
make_tls() {
  local dir="$1" name="$2"
  TLS_PASSWORD="${KAIROS_TLS_PASSWORD:-kairos-changeit}"
  TLS_KEYSTORE="$dir/$name.p12"
  TLS_TRUSTSTORE="$dir/truststore.p12"
  TLS_CA_PEM="$dir/ca.pem"
  if [[ -f "$TLS_KEYSTORE" && -f "$TLS_TRUSTSTORE" && -f "$TLS_CA_PEM" ]]; then return 0; fi
  command -v keytool >/dev/null || die "keytool not found (part of the JDK)"
  rm -rf "$dir"; mkdir -p "$dir"
  local san="SAN=dns:localhost,ip:127.0.0.1" p="$TLS_PASSWORD"
  # a failing step used to exit silently (set -e, output discarded): say which one, with keytool's message
  kt() { local out; out="$(keytool -noprompt "$@" 2>&1)" || { rm -rf "$dir"; die "keytool $1 failed: $out"; }; }
  log "creating TLS material in $dir"
  kt -genkeypair -alias ca -keyalg RSA -keysize 2048 -validity 3650 -dname "CN=kairos-local-ca" \
    -ext bc:c -keystore "$dir/ca.p12" -storetype PKCS12 -storepass "$p"
  kt -exportcert -rfc -alias ca -keystore "$dir/ca.p12" -storepass "$p" -file "$TLS_CA_PEM"
  kt -genkeypair -alias "$name" -keyalg RSA -keysize 2048 -validity 3650 -dname "CN=localhost" \
    -ext "$san" -keystore "$TLS_KEYSTORE" -storetype PKCS12 -storepass "$p"
  kt -certreq -alias "$name" -keystore "$TLS_KEYSTORE" -storepass "$p" -file "$dir/$name.csr"
  kt -gencert -alias ca -keystore "$dir/ca.p12" -storepass "$p" -infile "$dir/$name.csr" \
    -outfile "$dir/$name.pem" -rfc -validity 3650 -ext "$san" -ext ku:c=digitalSignature,keyEncipherment \
    -ext eku=serverAuth,clientAuth
  kt -importcert -alias ca -file "$TLS_CA_PEM" -keystore "$TLS_KEYSTORE" -storepass "$p"
  kt -importcert -alias "$name" -file "$dir/$name.pem" -keystore "$TLS_KEYSTORE" -storepass "$p"
  kt -importcert -alias ca -file "$TLS_CA_PEM" -keystore "$TLS_TRUSTSTORE" -storetype PKCS12 \
    -storepass "$p"
  rm -f "$dir/$name.csr"
}
