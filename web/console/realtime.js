// The live price feed: MQTT over WebSocket with ONE wildcard subscription (trading/v1/fixtures/+/prices)
// for every fixture. Local mode: the local Mosquitto's websockets listener. IoT mode: AWS IoT Core, as the
// trader's own Cognito identity, through a SigV4-presigned wss:// URL.
// The MQTT client is npm `mqtt`'s browser bundle (vendor/mqtt.min.js, the global `mqtt`).

import { identityCredentials } from "./auth.js";
import { presignUrl } from "./sigv4.js";

const decoder = new TextDecoder();

// Reconnecting: the first retry waits about RETRY_FIRST_MS, each next one twice as long, never more than RETRY_MAX_MS.
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;

function randomSuffix() {
  return Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** How long to wait before retry number `failures` (0 first): capped doubling, the upper half of it random. */
export function retryDelayMs(failures, random = Math.random) {
  const ceiling = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** failures);
  // Jitter: the tabs that lost the same network (or the same 5xx) do not all come back in the same second.
  return ceiling / 2 + (random() * ceiling) / 2;
}

async function iotTarget(config, api, session, tabId) {
  const { identityId } = await api.startRealtimeSession(); // attaches the IoT policy to this identity
  const credentials = await identityCredentials(config.auth, identityId, session.token);
  const url = await presignUrl({ host: config.realtime.endpoint, region: config.realtime.region, ...credentials });
  // The IoT policy allows client ids "{your identity id}-*". The tab's own suffix keeps a trader's tabs apart: IoT
  // Core drops the older connection of two with one client id. At most 51 + 1 + 8 characters (IoT's limit: 128).
  return { url, clientId: `${identityId}-${tabId}` };
}

/**
 * Connect and subscribe once, and keep reconnecting (with backoff) until closed. `onBook(book, receivedAt)` gets
 * every price message; `onState(state)` gets "connecting" | "live" | "reconnecting" | "offline"; `onError(message)`
 * gets what went wrong. Returns `{ firstAttempt, close() }` at once: `firstAttempt` resolves once the first
 * connection is under way or has failed (and will be retried); it never rejects.
 */
export function connectRealtime({ config, api, session, onBook, onState, onError }) {
  const { topicFilter } = config.realtime;
  const iot = config.realtime.mode === "iot";
  const tabId = randomSuffix();
  let client = null;
  let closed = false;
  let failures = 0; // attempts in a row that did not get live
  let retryTimer = null;

  function report(state) {
    if (!closed) onState(state);
  }

  function reportError(message) {
    if (!closed) onError(`live prices: ${message}`);
  }

  function retryLater(reason) {
    if (closed || retryTimer !== null) return;
    const delay = retryDelayMs(failures++);
    if (reason) reportError(`${reason}; trying again in ${Math.round(delay / 1000)} s`);
    report("reconnecting");
    retryTimer = setTimeout(() => {
      retryTimer = null;
      open();
    }, delay);
  }

  async function open() {
    report("connecting");
    try {
      const target = iot
        ? await iotTarget(config, api, session, tabId)
        : { url: config.realtime.url, clientId: `trader-console-${session.username}-${tabId}` };
      if (closed) return;
      client = connect(target);
    } catch (error) {
      // The session request, Cognito or the presigning failed (network, 5xx): nothing to connect with yet.
      retryLater(error.message);
    }
  }

  function connect(target) {
    const connection = window.mqtt.connect(target.url, {
      clientId: target.clientId,
      clean: true,
      connectTimeout: 10_000,
      keepalive: 30,
      // Local: mqtt.js reconnects and re-subscribes by itself. IoT: a presigned URL expires, so a lost
      // connection is reopened by retryLater with a fresh one.
      reconnectPeriod: iot ? 0 : 2_000,
      resubscribe: true,
    });
    let subscribed = false;
    connection.on("connect", () => {
      if (subscribed) {
        report("live"); // mqtt.js re-subscribes after a reconnect by itself: never a second filter
        return;
      }
      subscribed = true;
      connection.subscribe(topicFilter, { qos: 1 }, (error) => {
        if (error) {
          reportError(`subscription to ${topicFilter} refused: ${error.message}`);
          return;
        }
        failures = 0;
        report("live"); // live once the broker has acknowledged the one subscription
      });
    });
    connection.on("message", (_topic, payload) => {
      const receivedAt = Date.now();
      let book;
      try {
        book = JSON.parse(decoder.decode(payload));
      } catch {
        return; // not a price message: nothing to show
      }
      onBook(book, receivedAt);
    });
    connection.on("reconnect", () => report("reconnecting"));
    connection.on("offline", () => report("offline"));
    connection.on("error", (error) => reportError(error.message));
    connection.on("close", () => {
      if (iot) retryLater(null); // a dropped connection, or one IoT Core refused: "error" said why, if anything
    });
    return connection;
  }

  return {
    firstAttempt: open(),
    close() {
      closed = true;
      clearTimeout(retryTimer);
      client?.end(true);
    },
  };
}
