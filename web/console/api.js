// The trader and query APIs (contract: the helper brief / README "Trader console"). Every call sends the
// sign-in token; a 401 means the token is gone or expired: the call is made once more with a renewed token
// when one can be had, and otherwise the console goes back to sign-in.

export class ApiError extends Error {
  constructor(status, message, field = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.field = field;
  }
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's HTML error page, say): the status alone says what happened
  }
  const message = body && typeof body.message === "string" ? body.message : `${response.status} ${response.statusText}`;
  const field = body && typeof body.field === "string" ? body.field : null;
  return new ApiError(response.status, message, field);
}

/** `renewToken()` resolves true once a fresh token is in place, false when there is none to be had. */
export function createApi({ traderApiUrl, queryApiUrl, token, onUnauthorized, renewToken = async () => false }) {
  async function call(method, url, body, renewed = false) {
    const headers = { Authorization: token() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      throw new ApiError(0, `cannot reach ${new URL(url, window.location.href).host}: ${error.message}`);
    }
    if (response.status === 401) {
      // The authorizer refused the token before the API did anything, so sending the request again cannot
      // apply a command twice. Once: a token refused right after renewal means the session is over.
      if (!renewed && (await renewToken())) return call(method, url, body, true);
      onUnauthorized();
      throw new ApiError(401, "signed out: sign in again");
    }
    if (!response.ok) throw await errorFrom(response);
    return response.json();
  }

  const fixturePath = (fixtureId) => `fixtures/${encodeURIComponent(fixtureId)}`;

  return {
    /** Every fixture, following next_token through the pages. */
    async listFixtures() {
      const fixtures = [];
      let nextToken = null;
      do {
        const query = nextToken ? `?next_token=${encodeURIComponent(nextToken)}` : "";
        const page = await call("GET", `${queryApiUrl}/fixtures${query}`);
        fixtures.push(...page.fixtures);
        nextToken = page.next_token;
      } while (nextToken);
      return fixtures;
    },
    getFixture: (fixtureId) => call("GET", `${queryApiUrl}/${fixturePath(fixtureId)}`),
    sendCommand: (fixtureId, command) => call("POST", `${traderApiUrl}/${fixturePath(fixtureId)}/commands`, command),
    startRealtimeSession: () => call("POST", `${traderApiUrl}/realtime/session`, {}),
  };
}
