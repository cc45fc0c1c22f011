// Sign-in. Local mode: the local gateway's POST /local/sign-in hands out a token for a user name.
// Cognito mode: USER_PASSWORD_AUTH, then the SOFTWARE_TOKEN_MFA challenge (the user pool requires MFA),
// by plain fetch to Cognito's JSON API; the ID token is the API's Authorization header. It lasts an hour; the
// refresh token (a trading day) gets the next one with REFRESH_TOKEN_AUTH. Both stay in memory, never in storage.

import { ApiError } from "./api.js";

export async function localSignIn(traderApiUrl, username) {
  const response = await fetch(`${traderApiUrl}/local/sign-in`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body.message || `sign-in failed (${response.status})`, body.field);
  return { token: body.token, username };
}

async function cognitoCall(region, target, payload) {
  const response = await fetch(`https://cognito-idp.${region}.amazonaws.com/`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": `AWSCognitoIdentityProviderService.${target}`,
    },
    body: JSON.stringify(payload),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    // Cognito answers {"__type": "NotAuthorizedException", "message": "Incorrect username or password."}
    throw new ApiError(response.status, body.message || body.__type || `Cognito ${target} failed`);
  }
  return body;
}

// ExpiresIn (seconds) rather than the token's `exp`: it needs no agreement between this clock and Cognito's.
function signedIn(result, username, refreshToken = result.AuthenticationResult.RefreshToken) {
  const { IdToken, ExpiresIn } = result.AuthenticationResult;
  return { token: IdToken, refreshToken, expiresInMs: ExpiresIn * 1000, username };
}

/** Step one: user name and password. Answers either a signed-in session or an MFA challenge to answer. */
export async function cognitoSignIn(auth, username, password) {
  const result = await cognitoCall(auth.region, "InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH",
    ClientId: auth.userPoolClientId,
    AuthParameters: { USERNAME: username, PASSWORD: password },
  });
  if (result.AuthenticationResult) return signedIn(result, username);
  if (result.ChallengeName === "SOFTWARE_TOKEN_MFA") return { challenge: result.ChallengeName, session: result.Session, username };
  // NEW_PASSWORD_REQUIRED and MFA_SETUP belong to first sign-in (Cognito's hosted UI or an administrator).
  throw new ApiError(400, `sign-in needs ${result.ChallengeName}: finish setting up the account first`, "username");
}

/** Step two: the six-digit code from the trader's authenticator app. */
export async function cognitoAnswerMfa(auth, challenge, code) {
  const result = await cognitoCall(auth.region, "RespondToAuthChallenge", {
    ChallengeName: "SOFTWARE_TOKEN_MFA",
    ClientId: auth.userPoolClientId,
    Session: challenge.session,
    ChallengeResponses: { USERNAME: challenge.username, SOFTWARE_TOKEN_MFA_CODE: code },
  });
  return signedIn(result, challenge.username);
}

/** A fresh ID token for `session` (from `cognitoSignIn` or `cognitoAnswerMfa`), with its refresh token. */
export async function cognitoRefresh(auth, session) {
  const result = await cognitoCall(auth.region, "InitiateAuth", {
    AuthFlow: "REFRESH_TOKEN_AUTH",
    ClientId: auth.userPoolClientId,
    AuthParameters: { REFRESH_TOKEN: session.refreshToken },
  });
  // A new refresh token comes only when the client rotates them; otherwise the one we hold stays valid.
  return signedIn(result, session.username, result.AuthenticationResult.RefreshToken ?? session.refreshToken);
}

/** Temporary AWS credentials for the caller's Cognito identity (to presign the IoT WebSocket URL). */
export async function identityCredentials(auth, identityId, idToken) {
  const response = await fetch(`https://cognito-identity.${auth.region}.amazonaws.com/`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": "AWSCognitoIdentityService.GetCredentialsForIdentity",
    },
    body: JSON.stringify({
      IdentityId: identityId,
      Logins: { [`cognito-idp.${auth.region}.amazonaws.com/${auth.userPoolId}`]: idToken },
    }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body.message || "cannot get realtime credentials");
  return {
    accessKeyId: body.Credentials.AccessKeyId,
    secretAccessKey: body.Credentials.SecretKey,
    sessionToken: body.Credentials.SessionToken,
    expiresAt: new Date(body.Credentials.Expiration * 1000),
  };
}
