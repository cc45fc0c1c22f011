// SigV4 query-string presigning with WebCrypto: the wss:// URL a browser opens to AWS IoT Core.
// https://docs.aws.amazon.com/IoT/latest/developerguide/protocols.html (MQTT over WebSocket, SigV4)
// tests/browser/test_sigv4_presign.py checks it against botocore's SigV4QueryAuth for the same inputs.

const ALGORITHM = "AWS4-HMAC-SHA256";
const encoder = new TextEncoder();

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function sha256Hex(text) {
  return hex(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

async function hmac(key, text) {
  const keyBytes = typeof key === "string" ? encoder.encode(key) : key;
  const cryptoKey = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(text));
}

// RFC 3986 unreserved characters stay; everything else is percent-encoded (SigV4's rule, stricter than
// encodeURIComponent, which leaves !'()* alone).
export function uriEncode(text) {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

// 2026-11-22T15:17:31.250Z -> 20261122T151731Z
export function amzDate(date) {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/**
 * Presign `GET wss://{host}{path}` for `service` in `region`.
 *
 * AWS IoT's WebSocket endpoint wants the session token appended AFTER signing (it is not part of the
 * canonical query string); `appendSessionTokenAfterSigning` does that (the default, for IoT). Other
 * services sign it in (pass false).
 */
export async function presignUrl({
  host,
  path = "/mqtt",
  service = "iotdevicegateway",
  region,
  accessKeyId,
  secretAccessKey,
  sessionToken,
  date = new Date(),
  expiresSeconds = 300,
  protocol = "wss",
  appendSessionTokenAfterSigning = true,
}) {
  const timestamp = amzDate(date);
  const day = timestamp.slice(0, 8);
  const scope = `${day}/${region}/${service}/aws4_request`;
  const params = {
    "X-Amz-Algorithm": ALGORITHM,
    "X-Amz-Credential": `${accessKeyId}/${scope}`,
    "X-Amz-Date": timestamp,
    "X-Amz-Expires": String(expiresSeconds),
    "X-Amz-SignedHeaders": "host",
  };
  if (sessionToken && !appendSessionTokenAfterSigning) {
    params["X-Amz-Security-Token"] = sessionToken;
  }
  const canonicalQuery = Object.keys(params)
    .sort()
    .map((name) => `${uriEncode(name)}=${uriEncode(params[name])}`)
    .join("&");
  const canonicalRequest = [
    "GET",
    path,
    canonicalQuery,
    `host:${host}\n`,
    "host",
    await sha256Hex(""), // a GET has no body
  ].join("\n");
  const stringToSign = [ALGORITHM, timestamp, scope, await sha256Hex(canonicalRequest)].join("\n");
  let key = await hmac(`AWS4${secretAccessKey}`, day);
  for (const part of [region, service, "aws4_request"]) {
    key = await hmac(key, part);
  }
  const signature = hex(await hmac(key, stringToSign));
  let url = `${protocol}://${host}${path}?${canonicalQuery}&X-Amz-Signature=${signature}`;
  if (sessionToken && appendSessionTokenAfterSigning) {
    url += `&X-Amz-Security-Token=${uriEncode(sessionToken)}`;
  }
  return url;
}
