// The demo relying party. oidc-client-ts (the global `oidc`) runs the authorization code flow
// with PKCE; every call to Tessera is a cross-origin fetch, allowed by the client's
// `allowed-origins`. Tokens live in this tab's sessionStorage.
"use strict";

(async function main() {
  const $ = (id) => document.getElementById(id);
  const say = (text) => { $("status").textContent = text; };
  const fail = (what, error) => {
    // A fetch the browser refused (CORS, or the server unreachable) is a bare TypeError.
    const hint = error instanceof TypeError
      ? " (the browser refused the call: is this page's origin in the client's allowed-origins, and is Tessera running?)"
      : "";
    $("error").textContent = `${what} failed: ${error && error.message ? error.message : error}${hint}`;
    $("error").hidden = false;
  };

  /** The claims of a JWT, for display only: the page trusts what the token endpoint sent it. */
  function claimsOf(jwt) {
    const base64 = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  const config = await (await fetch("/config.json")).json();
  const users = new oidc.UserManager({
    authority: config.authority,
    client_id: config.client_id,
    redirect_uri: `${location.origin}/callback`,
    post_logout_redirect_uri: `${location.origin}/`,
    response_type: "code",
    scope: config.scope,
    automaticSilentRenew: false,
    loadUserInfo: true, // the name comes from UserInfo: ID tokens carry only the authentication
    userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
  });
  $("account").href = `${config.authority}/account`;

  function render(user) {
    const signedIn = Boolean(user && user.access_token);
    $("signed-in").hidden = !signedIn;
    $("signed-out").hidden = signedIn;
    if (!signedIn) {
      say("Signed out.");
      return;
    }
    const idClaims = user.id_token ? claimsOf(user.id_token) : {};
    const accessClaims = claimsOf(user.access_token);
    $("who").textContent = user.profile.preferred_username || idClaims.sub || accessClaims.sub;
    $("scopes").textContent = user.scope || "";
    $("expires").textContent = new Date(accessClaims.exp * 1000).toLocaleTimeString();
    $("id-token-claims").textContent = JSON.stringify(idClaims, null, 2);
    $("access-token-claims").textContent = JSON.stringify(accessClaims, null, 2);
  }

  async function action(what, run) {
    $("error").hidden = true;
    try {
      await run();
    } catch (error) {
      fail(what, error);
    }
  }

  $("sign-in").addEventListener("click", () => action("Sign-in", () => users.signinRedirect()));

  $("call-userinfo").addEventListener("click", () => action("UserInfo", async () => {
    const user = await users.getUser();
    const endpoint = await users.metadataService.getUserInfoEndpoint();
    const response = await fetch(endpoint, { headers: { Authorization: `Bearer ${user.access_token}` } });
    $("userinfo").textContent = JSON.stringify(await response.json(), null, 2);
    say(`UserInfo answered ${response.status}.`);
  }));

  $("refresh").addEventListener("click", () => action("Refresh", async () => {
    // With a refresh token, signinSilent uses the refresh_token grant (rotation: a new one each time).
    render(await users.signinSilent());
    say("Tokens refreshed.");
  }));

  $("sign-out").addEventListener("click", () => action("Sign-out", async () => {
    await users.revokeTokens(["refresh_token"]);
    await users.signoutRedirect();
  }));

  const params = new URLSearchParams(location.search);
  await action("Sign-in", async () => {
    if (location.pathname === "/callback") {
      if (params.has("error")) {
        throw new Error(params.get("error_description") || params.get("error"));
      }
      history.replaceState(null, "", "/");
      await users.signinRedirectCallback(`${location.origin}/callback?${params}`);
      say("Signed in.");
    } else if (params.has("state")) {
      history.replaceState(null, "", "/");
      await users.signoutRedirectCallback(`${location.origin}/?${params}`);
    }
  });
  const user = await users.getUser();
  render(user);
  if (user && $("status").textContent === "Loading…") say("Signed in.");
})();
