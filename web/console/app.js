// The trader console: sign in, load the fixtures, open the live feed (one MQTT subscription for every
// fixture), show the board, and send trader commands. config.json beside the page says where everything is.

import { createApi } from "./api.js";
import { cognitoAnswerMfa, cognitoRefresh, cognitoSignIn, localSignIn } from "./auth.js";
import { Board } from "./board.js";
import { connectRealtime } from "./realtime.js";

const BOOK_FETCH_CONCURRENCY = 6;
// Renew the ID token at 90 % of its life (54 min of Cognito's hour), before the API starts refusing it.
const TOKEN_RENEWAL_AT = 0.9;

const view = {
  signIn: document.getElementById("sign-in"),
  signInForm: document.getElementById("sign-in-form"),
  password: document.getElementById("password-field"),
  mfaForm: document.getElementById("mfa-form"),
  signInMessage: document.getElementById("sign-in-message"),
  console: document.getElementById("console"),
  board: document.getElementById("board"),
  banner: document.getElementById("error-banner"),
  bannerText: document.getElementById("error-text"),
  connection: document.getElementById("connection"),
  user: document.getElementById("user"),
  fixtureCount: document.getElementById("fixture-count"),
  lastUpdate: document.getElementById("last-update"),
  signOut: document.getElementById("sign-out"),
  stage: document.getElementById("stage"),
};

let config = null;
let session = null; // { token, username }; from Cognito also { refreshToken, expiresInMs }, in memory only
let renewalTimer = null;
let renewal = null; // the token renewal in flight: a burst of 401s shares it
let realtime = null;
let board = null;
let mfaChallenge = null;

function showError(message, field = null) {
  // The API's 400 names the field ("margin: must be between 0 and 0.25"); say it even when the message does not.
  const named = field && !message.startsWith(`${field}:`) ? `${field}: ${message}` : message;
  view.bannerText.textContent = field ? `Rejected: ${named}` : message;
  view.banner.dataset.field = field ?? "";
  view.banner.dataset.source = "";
  view.banner.hidden = false;
}

function clearError() {
  view.banner.hidden = true;
  view.bannerText.textContent = "";
  view.banner.dataset.field = "";
  view.banner.dataset.source = "";
}

// A live-prices problem: shown until the feed is live again (a trader command's error stays until dismissed).
function showFeedError(message) {
  showError(message);
  view.banner.dataset.source = "feed";
}

function setConnection(state) {
  view.connection.dataset.state = state;
  view.connection.textContent = { connecting: "Connecting", live: "Live", reconnecting: "Reconnecting", offline: "Offline" }[state] ?? state;
  if (state === "live" && view.banner.dataset.source === "feed") clearError();
}

function showSignIn(message = "") {
  realtime?.close();
  realtime = null;
  board?.detach(); // the next sign-in's board takes over #board's clicks
  clearTimeout(renewalTimer);
  renewal = null;
  session = null;
  mfaChallenge = null;
  view.console.hidden = true;
  view.signIn.hidden = false;
  view.signInForm.hidden = false;
  view.mfaForm.hidden = true;
  view.signInMessage.textContent = message;
  view.signInForm.querySelector("input").focus();
  setConnection("offline");
  delete document.body.dataset.ready; // ready again once the next sign-in's board has loaded
}

function signedOut() {
  showSignIn("Your session ended: sign in again.");
}

async function sendCommand(fixtureId, command, control, input = null) {
  clearError();
  input?.removeAttribute("aria-invalid");
  control.disabled = true;
  try {
    const result = await api().sendCommand(fixtureId, command);
    if (result.book) board.applyBook(result.book); // the MQTT copy of the same revision is then ignored
  } catch (error) {
    if (error.status === 401) return;
    if (error.field === "margin" && input) input.setAttribute("aria-invalid", "true");
    showError(error.message, error.field);
  } finally {
    control.disabled = false;
  }
}

function scheduleRenewal() {
  clearTimeout(renewalTimer);
  if (!session?.refreshToken) return; // a local sign-in's token does not expire
  renewalTimer = setTimeout(renewSession, session.expiresInMs * TOKEN_RENEWAL_AT);
}

/** A fresh ID token from the refresh token; resolves false when there is none to be had (the session is over). */
function renewSession() {
  if (!session?.refreshToken) return Promise.resolve(false);
  if (renewal) return renewal;
  const renewing = session;
  const pending = cognitoRefresh(config.auth, renewing)
    .then((fresh) => {
      if (session !== renewing) return false; // signed out meanwhile
      Object.assign(session, fresh); // in place: the live feed reads session.token when it reconnects
      scheduleRenewal();
      return true;
    })
    .catch(() => false) // the next 401 tries again, and signs out if that fails too
    .finally(() => {
      if (renewal === pending) renewal = null;
    });
  renewal = pending;
  return pending;
}

function api() {
  return createApi({
    traderApiUrl: config.traderApiUrl,
    queryApiUrl: config.queryApiUrl,
    token: () => session?.token ?? "",
    onUnauthorized: signedOut,
    renewToken: renewSession,
  });
}

function noteUpdate() {
  view.fixtureCount.textContent = String(board.size);
  view.lastUpdate.textContent = new Date().toISOString().slice(11, 19);
}

async function loadBooks(fixtures) {
  const queue = [...fixtures];
  async function worker() {
    while (queue.length) {
      const { fixture_id: fixtureId } = queue.shift();
      const detail = await api().getFixture(fixtureId);
      if (detail.book) board.queueBook(detail.book, Date.now(), noteUpdate); // one layout a frame, not one a book
    }
  }
  await Promise.all(Array.from({ length: BOOK_FETCH_CONCURRENCY }, worker));
  await new Promise((resolve) => requestAnimationFrame(resolve)); // the last queued books are on the board
}

async function startConsole() {
  view.signIn.hidden = true;
  view.console.hidden = false;
  view.user.textContent = session.username;
  scheduleRenewal();
  view.board.replaceChildren();
  board = new Board(view.board, { onCommand: sendCommand });
  try {
    realtime = connectRealtime({
      config,
      api: api(),
      session,
      onBook: (book, receivedAt) => board.queueBook(book, receivedAt, noteUpdate),
      onState: setConnection,
      onError: showFeedError,
    });
    // The feed first, so no book published while the list loads is missed (older ones are ignored by revision);
    // a feed that cannot connect yet keeps retrying, and the list loads all the same.
    await realtime.firstAttempt;
    const fixtures = await api().listFixtures();
    for (const fixture of fixtures) board.showFixture(fixture);
    noteUpdate();
    await loadBooks(fixtures);
    noteUpdate();
    document.body.dataset.ready = "true";
  } catch (error) {
    if (error.status !== 401) showError(error.message, error.field);
  }
}

async function submitSignIn(event) {
  event.preventDefault();
  const form = new FormData(view.signInForm);
  view.signInMessage.textContent = "";
  try {
    if (config.auth.mode === "cognito") {
      const result = await cognitoSignIn(config.auth, String(form.get("username")), String(form.get("password")));
      if (result.challenge) {
        mfaChallenge = result;
        view.signInForm.hidden = true;
        view.mfaForm.hidden = false;
        view.mfaForm.querySelector("input").focus();
        return;
      }
      session = result;
    } else {
      session = await localSignIn(config.traderApiUrl, String(form.get("username")));
    }
    view.signInForm.reset();
    await startConsole();
  } catch (error) {
    view.signInMessage.textContent = error.message;
  }
}

async function submitMfa(event) {
  event.preventDefault();
  if (!mfaChallenge) {
    // Only Cognito's SOFTWARE_TOKEN_MFA answer to a password opens this form: without it there is nothing to verify.
    showSignIn("Sign in with your user name and password first.");
    return;
  }
  try {
    session = await cognitoAnswerMfa(config.auth, mfaChallenge, String(new FormData(view.mfaForm).get("code")));
    view.mfaForm.reset();
    await startConsole();
  } catch (error) {
    view.signInMessage.textContent = error.message;
  }
}

async function main() {
  const response = await fetch("config.json", { cache: "no-store" });
  config = await response.json();
  // API Gateway stage URLs end in "/" (https://id.execute-api.region.amazonaws.com/v1/); paths are joined with "/".
  config.traderApiUrl = config.traderApiUrl.replace(/\/+$/, "");
  config.queryApiUrl = config.queryApiUrl.replace(/\/+$/, "");
  view.stage.textContent = config.stage;
  view.password.hidden = config.auth.mode !== "cognito";
  view.password.querySelector("input").required = config.auth.mode === "cognito";
  view.signInForm.addEventListener("submit", submitSignIn);
  view.mfaForm.addEventListener("submit", submitMfa);
  view.signOut.addEventListener("click", () => showSignIn("Signed out."));
  document.getElementById("dismiss-error").addEventListener("click", clearError);
  showSignIn();
}

main().catch((error) => {
  document.body.textContent = `The console cannot start: ${error.message}`;
});
