// Passkeys on the sign-in pages: runs the WebAuthn call the page's form asks for and posts
// the authenticator's answer with the form, so the server renders every outcome.
"use strict";

const b64url = {
  decode(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const bytes = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(bytes, (c) => c.charCodeAt(0)).buffer;
  },
  encode(buffer) {
    const bytes = String.fromCharCode(...new Uint8Array(buffer));
    return btoa(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
};

function withIds(list) {
  return (list || []).map((c) => ({ ...c, id: b64url.decode(c.id) }));
}

function requestOptions(json) {
  const o = { ...json.publicKey };
  o.challenge = b64url.decode(o.challenge);
  o.allowCredentials = withIds(o.allowCredentials);
  return o;
}

function creationOptions(json) {
  const o = { ...json.publicKey };
  o.challenge = b64url.decode(o.challenge);
  o.user = { ...o.user, id: b64url.decode(o.user.id) };
  o.excludeCredentials = withIds(o.excludeCredentials);
  return o;
}

function assertion(credential) {
  const r = credential.response;
  return {
    id: credential.id,
    rawId: b64url.encode(credential.rawId),
    type: credential.type,
    response: {
      authenticatorData: b64url.encode(r.authenticatorData),
      clientDataJSON: b64url.encode(r.clientDataJSON),
      signature: b64url.encode(r.signature),
      userHandle: r.userHandle ? b64url.encode(r.userHandle) : null,
    },
    extensions: {},
  };
}

function attestation(credential) {
  const r = credential.response;
  return {
    id: credential.id,
    rawId: b64url.encode(credential.rawId),
    type: credential.type,
    response: {
      attestationObject: b64url.encode(r.attestationObject),
      clientDataJSON: b64url.encode(r.clientDataJSON),
      transports: r.getTransports ? r.getTransports() : [],
    },
    extensions: {},
  };
}

function showError(form, text) {
  const box = form.querySelector("[data-passkey-error]");
  box.textContent = text;
  box.hidden = false;
}

function unsupported(form) {
  if (window.PublicKeyCredential) return false;
  showError(form, "This browser cannot use passkeys.");
  return true;
}

// "Sign in with a passkey": a challenge for any discoverable passkey of this site, asked for
// on a click, or offered among the username field's autofill suggestions (conditional UI).
const signIn = document.getElementById("passkey-signin");
let autofill = null;

async function challenge() {
  const body = new URLSearchParams({ flow: signIn.flow.value, csrf: signIn.csrf.value });
  const reply = await fetch(signIn.dataset.options, { method: "POST", body });
  const json = await reply.json();
  if (!reply.ok) throw new Error(json.error);
  return json;
}

function answer(json, credential) {
  signIn.ceremony.value = json.ceremony;
  signIn.credential.value = JSON.stringify(assertion(credential));
  signIn.submit();
}

async function offerAutofill() {
  if (!window.PublicKeyCredential || !PublicKeyCredential.isConditionalMediationAvailable) return;
  if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
  if (!document.querySelector("input[autocomplete~=webauthn]")) return;
  autofill = new AbortController();
  try {
    const json = await challenge();
    const credential = await navigator.credentials.get({
      publicKey: requestOptions(json.options),
      mediation: "conditional",
      signal: autofill.signal,
    });
    answer(json, credential);
  } catch (e) {
    // Aborted for the button, or nothing chosen: the page works as before.
  }
}

if (signIn) {
  signIn.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (unsupported(signIn)) return;
    if (autofill) autofill.abort();
    try {
      const json = await challenge();
      const credential = await navigator.credentials.get({ publicKey: requestOptions(json.options) });
      answer(json, credential);
    } catch (e) {
      showError(signIn, e.message && e.name === "Error" ? e.message : "No passkey was used. Try again, or sign in another way.");
    }
  });
  offerAutofill();
}

// "Create a passkey": the options came with the page.
const register = document.getElementById("passkey-register");
if (register) {
  register.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (unsupported(register)) return;
    try {
      const json = JSON.parse(document.getElementById("passkey-creation-options").textContent);
      const credential = await navigator.credentials.create({ publicKey: creationOptions(json) });
      register.credential.value = JSON.stringify(attestation(credential));
      register.submit();
    } catch (e) {
      showError(register, "The passkey was not created. Try again.");
    }
  });
}

// The passkey prompt of an identified account: the challenge came with the page.
const prompt = document.getElementById("passkey-prompt");
if (prompt) {
  prompt.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (unsupported(prompt)) return;
    try {
      const json = JSON.parse(document.getElementById("passkey-request-options").textContent);
      const credential = await navigator.credentials.get({ publicKey: requestOptions(json) });
      prompt.credential.value = JSON.stringify(assertion(credential));
      prompt.submit();
    } catch (e) {
      showError(prompt, "No passkey was used. Try again, or sign in another way.");
    }
  });
}
