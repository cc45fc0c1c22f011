// The live price feed: MQTT over WebSocket with ONE wildcard subscription (trading/v1/fixtures/+/prices)
// for every fixture. Local mode: the local Mosquitto's websockets listener. IoT mode: AWS IoT Core, as the
// trader's own Cognito identity, through a SigV4-presigned wss:// URL.
// The MQTT client is npm `mqtt`'s browser bundle (vendor/mqtt.min.js, the global `mqtt`).

import { identityCredentials } from "./auth.js";
import { presignUrl } from "./sigv4.js";

const decoder = new TextDecoder();

function randomSuffix() {
  return Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function iotTarget(config, api, session) {
  const { identityId } = await api.startRealtimeSession(); // attaches the IoT policy to this identity
  const credentials = await identityCredentials(config.auth, identityId, session.token);
  const url = await presignUrl({ host: config.realtime.endpoint, region: config.realtime.region, ...credentials });
  return { url, clientId: identityId }; // the IoT policy allows connecting only as your own identity
}

/**
 * Connect and subscribe once. `onBook(book, receivedAt)` gets every price message; `onState(state)` gets
 * "connecting" | "live" | "reconnecting" | "offline". Returns `{ close() }`.
 */
export async function connectRealtime({ config, api, session, onBook, onState, onError }) {
  const { topicFilter } = config.realtime;
  let client = null;
  let closed = false;

  async function open() {
    onState("connecting");
    const target =
      config.realtime.mode === "iot"
        ? await iotTarget(config, api, session)
        : { url: config.realtime.url, clientId: `trader-console-${session.username}-${randomSuffix()}` };
    client = window.mqtt.connect(target.url, {
      clientId: target.clientId,
      clean: true,
      connectTimeout: 10_000,
      keepalive: 30,
      // Local: mqtt.js reconnects and re-subscribes by itself. IoT: a presigned URL expires, so a lost
      // connection is reopened below with a fresh one.
      reconnectPeriod: config.realtime.mode === "iot" ? 0 : 2_000,
      resubscribe: true,
    });
    let subscribed = false;
    client.on("connect", () => {
      if (subscribed) {
        onState("live"); // mqtt.js re-subscribes after a reconnect by itself: never a second filter
        return;
      }
      subscribed = true;
      client.subscribe(topicFilter, { qos: 1 }, (error) => {
        if (error) onError(`subscription to ${topicFilter} refused: ${error.message}`);
        else onState("live"); // live once the broker has acknowledged the one subscription
      });
    });
    client.on("message", (_topic, payload) => {
      const receivedAt = Date.now();
      let book;
      try {
        book = JSON.parse(decoder.decode(payload));
      } catch {
        return; // not a price message: nothing to show
      }
      onBook(book, receivedAt);
    });
    client.on("reconnect", () => onState("reconnecting"));
    client.on("offline", () => onState("offline"));
    client.on("error", (error) => onError(`live prices: ${error.message}`));
    client.on("close", () => {
      if (closed || config.realtime.mode !== "iot") return;
      onState("reconnecting");
      setTimeout(() => {
        if (!closed) open().catch((error) => onError(`live prices: ${error.message}`));
      }, 2_000);
    });
  }

  await open();
  return {
    close() {
      closed = true;
      if (client) client.end(true);
    },
  };
}
